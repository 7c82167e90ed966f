"""The feature API as a real process against the test stack: Feast online store, Redis cache,
streaming hashes, the served-vector log, bad requests and a clean stop."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def running_api(lab_settings, tmp_path_factory):
    from serving.online_store import prepare_online_store
    from serving.process import start_api, stop_api

    store, world = prepare_online_store(scale="small", seed=42, settings=lab_settings)
    run = uuid.uuid4().hex[:8]
    log = tmp_path_factory.mktemp("served") / "served.jsonl"
    api = start_api(
        settings=lab_settings,
        env={
            "LAB_SERVING_LOG": str(log),
            "LAB_SERVING_STREAM_PREFIX": f"test:{run}:user:",
            "LAB_SERVING_CACHE_PREFIX": f"test:{run}:cache:",
            "LAB_SERVING_MAX_STREAM_AGE_S": "30",
        },
    )
    yield api, store, world, log, run
    stop_api(api)
    assert not api.is_running(), "stop_api must stop the process"


def _get(api, **params):
    return httpx.get(f"{api.url}/features", params=params, timeout=10)


def test_serves_the_feature_store_values(running_api):
    api, store, world, log, _ = running_api
    user, product = int(world.users.user_id.iloc[5]), int(world.products.product_id.iloc[5])
    online = store.get_online_features(
        features=["user_stats:purchases_30d", "product_features:price"],
        entity_rows=[{"user_id": user, "product_id": product}],
    ).to_dict()
    body = _get(api, user_id=user, product_id=product).json()
    assert body["degraded"] is False and body["sources"]["feature_store"] == "ok", body["sources"]
    assert body["features"]["purchases_30d"] == online["purchases_30d"][0]
    assert body["features"]["price"] == pytest.approx(online["price"][0])
    again = _get(api, user_id=user, product_id=product).json()
    assert again["sources"]["cache"] == "hit", "the second identical request is served from the Redis cache"
    logged = [json.loads(x) for x in log.read_text().splitlines()]
    assert {body["request_id"], again["request_id"]} <= {x["request_id"] for x in logged}


def test_streaming_hash_fresh_and_stale(running_api, lab_settings):
    from labkit.clients import redis_client

    api, _, world, _, run = running_api
    r = redis_client(lab_settings)
    user, product = int(world.users.user_id.iloc[6]), int(world.products.product_id.iloc[6])
    key = f"test:{run}:user:{user}"
    r.hset(key, mapping={"purchase_count": 7, "clicks_1h": 2, "updated_ts": int(time.time() * 1000)})
    fresh = _get(api, user_id=user, product_id=product).json()
    assert fresh["sources"]["stream"] == "ok" and fresh["features"]["purchase_count"] == 7
    r.hset(key, "updated_ts", int((time.time() - 3600) * 1000))
    stale = _get(api, user_id=user, product_id=product).json()
    assert stale["sources"]["stream"] == "stale" and stale["degraded"] and "stream" in stale["failed_sources"]
    assert stale["feature_sources"]["purchase_count"] == "batch_estimate"
    r.delete(key)


@pytest.mark.parametrize(
    "params, status",
    [
        ({"product_id": 1}, 422),
        ({"user_id": "x1", "product_id": 1}, 422),
        ({"user_id": 0, "product_id": 1}, 422),
        ({"user_id": 10**9, "product_id": 1}, 404),
        ({"user_id": 1, "product_id": 10**9}, 404),
    ],
)
def test_bad_requests_against_the_real_process(running_api, params, status):
    api = running_api[0]
    r = _get(api, **params)
    assert r.status_code == status and r.json()["error"]


def test_redis_memory_limit_is_enforced_and_restored(lab_settings):
    import redis as redis_lib

    from labkit.clients import redis_client
    from serving.drills import redis_memory_config, redis_memory_limit

    r = redis_client(lab_settings)
    before = redis_memory_config(r)
    prefix = f"test:mem:{uuid.uuid4().hex[:8]}:"
    with (
        pytest.raises(redis_lib.exceptions.OutOfMemoryError),
        redis_memory_limit(r, extra_bytes=500_000, policy="noeviction"),
    ):
        for i in range(200):
            r.set(f"{prefix}{i}", b"x" * 10_000, ex=60)
    assert redis_memory_config(r) == before, "the original maxmemory settings must be restored even after an error"
    for k in r.scan_iter(match=f"{prefix}*"):
        r.delete(k)
