"""The fallback chain of HybridFeatureService, branch by branch, with injected faults."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from serving.cache import FeatureCache
from serving.config import DEFAULT_PRODUCT_FEATURES, DEFAULT_USER_FEATURES, ServingConfig
from serving.service import HybridFeatureService

NOW = datetime(2026, 1, 20, 14, 30, tzinfo=UTC)  # a Tuesday


def fresh_hash(clicks=7, purchases=4, age_s=5.0):
    return {
        "clicks_1h": clicks,
        "purchase_count": purchases,
        "updated_ts": int((NOW.timestamp() - age_s) * 1000),
        "last_event_ts": 0,
    }


@pytest.fixture
def parts(tmp_path, fakes):
    batch, stream, redis = fakes.FakeBatch(), fakes.FakeStream({1: fresh_hash()}), fakes.DictRedis()
    cfg = ServingConfig(
        batch_timeout_s=0.2,
        stream_timeout_s=0.2,
        cache_timeout_s=0.2,
        cache_ttl_s=60,
        max_stream_age_s=300,
        served_log=tmp_path / "served.jsonl",
    )
    svc = HybridFeatureService(batch, stream, FeatureCache(redis, 60, 3600), cfg, clock=lambda: NOW)
    yield svc, batch, stream, redis
    svc.close()


def test_healthy_request_combines_batch_stream_and_context(parts):
    svc, *_ = parts
    r = svc.get_features(1, 10, "desktop")
    assert not r.degraded and r.failed_sources == []
    assert r.features["purchases_7d"] == 3 and r.feature_sources["purchases_7d"] == "feature_store"
    assert r.features["clicks_last_hour"] == 7 and r.feature_sources["clicks_last_hour"] == "stream"
    assert (r.features["hour_of_day"], r.features["day_of_week"], r.features["device"]) == (14, 1, "desktop")


def test_second_request_is_a_cache_hit_and_skips_the_store(parts):
    svc, batch, *_ = parts
    svc.get_features(1, 10)
    r = svc.get_features(1, 10)
    assert r.sources["cache"] == "hit" and batch.calls == 1
    assert r.features["purchases_30d"] == 9 and not r.degraded


def test_store_down_falls_back_to_stale_cache(parts):
    svc, batch, _, redis = parts
    svc.get_features(1, 10)  # fills the cache
    svc.cache.ttl_s = 0.01  # make the entry stale, but still kept
    time.sleep(0.02)
    batch.mode = "error"
    r = svc.get_features(1, 10)
    assert r.degraded and r.failed_sources == ["feature_store"]
    assert r.sources["cache"] == "stale_fallback"
    assert r.features["purchases_30d"] == 9 and r.feature_sources["purchases_30d"] == "cache_stale"
    assert "ConnectionError" in r.errors["feature_store"]


def test_store_timeout_without_cache_serves_defaults(parts):
    svc, batch, *_ = parts
    batch.mode = "hang"
    t0 = time.perf_counter()
    r = svc.get_features(1, 11)
    assert time.perf_counter() - t0 < 1.0, "the per-source timeout must cut a hanging store"
    assert r.sources["feature_store"] == "timeout" and r.degraded
    for name, default in {**DEFAULT_USER_FEATURES, **DEFAULT_PRODUCT_FEATURES}.items():
        assert r.features[name] == default and r.feature_sources[name] == "default"


def test_everything_down_still_answers_with_defaults_and_names_failures(parts):
    svc, batch, stream, redis = parts
    batch.mode, stream.mode, redis.down = "error", "error", True
    r = svc.get_features(1, 10)
    assert r.degraded
    assert set(r.failed_sources) == {"cache", "feature_store", "stream"}
    assert r.features["days_since_last_purchase"] == 999.0
    assert r.features["hour_of_day"] == 14  # context features need no dependency


def test_stale_stream_falls_back_to_batch_estimate(parts):
    svc, _, stream, _ = parts
    stream.hashes[1] = fresh_hash(clicks=500, age_s=3600)
    r = svc.get_features(1, 10)
    assert r.sources["stream"] == "stale" and "stream" in r.failed_sources and r.degraded
    assert r.features["clicks_last_hour"] == pytest.approx(48 / 24)
    assert r.feature_sources["clicks_last_hour"] == "batch_estimate"


def test_user_without_stream_hash_is_not_degraded(parts):
    svc, *_ = parts
    r = svc.get_features(2, 10)
    assert r.sources["stream"] == "missing" and not r.degraded
    assert r.feature_sources["purchase_count"] == "batch_estimate"


def test_served_vectors_are_logged_as_json_lines(parts):
    svc, *_ = parts
    a, b = svc.get_features(1, 10), svc.get_features(2, 12)
    lines = [json.loads(x) for x in svc.config.served_log.read_text().splitlines()]
    assert [x["request_id"] for x in lines] == [a.request_id, b.request_id]
    assert lines[0]["features"]["clicks_last_hour"] == 7 and lines[1]["product_id"] == 12


def test_context_time_zone_changes_the_hour():
    from serving.sources import context_features

    utc = context_features(NOW, "mobile", "UTC")
    ny = context_features(NOW, "mobile", "America/New_York")
    assert utc["hour_of_day"] == 14 and ny["hour_of_day"] == 9


def test_cache_rejects_a_stale_ttl_shorter_than_the_fresh_ttl(fakes):
    with pytest.raises(ValueError, match="ttl_s"):
        FeatureCache(fakes.DictRedis(), ttl_s=60, stale_ttl_s=10)
