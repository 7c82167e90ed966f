"""The HTTP contract: good requests get a full vector, bad requests a 4xx that says what to fix,
and a failing dependency a 200 marked degraded (never a 5xx)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from serving.api import create_app
from serving.cache import FeatureCache
from serving.config import ServingConfig
from serving.directory import EntityDirectory
from serving.service import HybridFeatureService


@pytest.fixture
def api(tmp_path, fakes):
    batch, stream = fakes.FakeBatch(), fakes.FakeStream()
    cfg = ServingConfig(batch_timeout_s=0.2, stream_timeout_s=0.2, served_log=tmp_path / "served.jsonl")
    svc = HybridFeatureService(batch, stream, FeatureCache(fakes.DictRedis()), cfg)
    app = create_app(svc, EntityDirectory.of(range(1, 101), range(1, 51), "test"))
    with TestClient(app) as client:
        yield client, batch
    svc.close()


def test_features_for_a_known_user_and_product(api):
    client, _ = api
    r = client.get("/features", params={"user_id": 5, "product_id": 7, "device": "tablet"})
    assert r.status_code == 200
    body = r.json()
    assert body["user_id"] == 5 and body["product_id"] == 7 and body["degraded"] is False
    assert body["features"]["device"] == "tablet" and body["features"]["purchases_7d"] == 3


@pytest.mark.parametrize(
    "params, status, phrase",
    [
        ({"product_id": 7}, 422, "user_id is missing"),
        ({"user_id": 5}, 422, "product_id is missing"),
        ({"user_id": "abc", "product_id": 7}, 422, "user_id='abc' is invalid"),
        ({"user_id": -3, "product_id": 7}, 422, "user_id='-3' is invalid"),
        ({"user_id": 5, "product_id": "7.5"}, 422, "product_id='7.5' is invalid"),
        ({"user_id": 5, "product_id": 7, "device": "fridge"}, 422, "device='fridge' is not known"),
        ({"user_id": 999, "product_id": 7}, 404, "unknown user_id 999"),
        ({"user_id": 5, "product_id": 999}, 404, "unknown product_id 999"),
    ],
)
def test_bad_requests_get_a_clear_4xx(api, params, status, phrase):
    client, batch = api
    r = client.get("/features", params=params)
    assert r.status_code == status, r.text
    assert phrase in r.json()["error"]
    assert batch.calls == 0, "a bad request must be rejected before any feature source is called"


def test_a_dead_feature_store_gives_200_degraded_not_500(api):
    client, batch = api
    batch.mode = "error"
    r = client.get("/features", params={"user_id": 6, "product_id": 8})
    assert r.status_code == 200
    body = r.json()
    assert body["degraded"] is True and "feature_store" in body["failed_sources"]
    assert body["features"]["days_since_last_purchase"] == 999.0


def test_health_reports_the_directory(api):
    client, _ = api
    body = client.get("/health").json()
    assert body["status"] == "ok" and "100 users, 50 products" in body["directory"]


def test_no_cache_header_bypasses_the_cache_read(api):
    client, batch = api
    q = {"user_id": 9, "product_id": 9}
    client.get("/features", params=q)
    assert client.get("/features", params=q).json()["sources"]["cache"] == "hit"
    r = client.get("/features", params=q, headers={"Cache-Control": "no-cache"}).json()
    assert r["sources"]["cache"] == "off" and r["sources"]["feature_store"] == "ok" and batch.calls == 2
