"""Test doubles for the service's dependencies: sources that answer, fail or hang on demand.

Unit tests use them to drive every branch of the fallback chain; the integration tests
(test_serving_stack.py) run the real API as a process against the test stack.
"""

from __future__ import annotations

import time
import types
from typing import Any

import pytest


class FakeBatch:
    name = "feature_store"

    def __init__(self, features: dict[str, Any] | None = None):
        self.features = (
            features
            if features is not None
            else {
                "purchases_7d": 3,
                "purchases_30d": 9,
                "avg_purchase_value_30d": 42.5,
                "ctr_7d": 0.2,
                "days_since_last_purchase": 2.0,
                "views_1d": 12,
                "clicks_1d": 48,
                "price": 19.99,
                "rating": 4.1,
                "conversion_rate_7d": 0.05,
                "in_stock": True,
            }
        )
        self.mode = "ok"  # ok | error | hang
        self.calls = 0

    def get(self, user_id: int, product_id: int) -> dict[str, Any]:
        self.calls += 1
        if self.mode == "error":
            raise ConnectionError("feature store unreachable (injected)")
        if self.mode == "hang":
            time.sleep(2.0)
        return dict(self.features)


class FakeStream:
    name = "stream"

    def __init__(self, hashes: dict[int, dict[str, Any]] | None = None):
        self.hashes = hashes or {}
        self.mode = "ok"

    def get(self, user_id: int):
        if self.mode == "error":
            raise ConnectionError("redis down (injected)")
        if self.mode == "hang":
            time.sleep(2.0)
        return self.hashes.get(user_id)


class DictRedis:
    """Just enough of redis.Redis (get/set with px) for FeatureCache, in memory."""

    def __init__(self):
        self.data: dict[str, tuple[bytes, float | None]] = {}
        self.down = False

    def _check(self):
        if self.down:
            raise ConnectionError("cache down (injected)")

    def get(self, key):
        self._check()
        v = self.data.get(key)
        if v is None or (v[1] is not None and v[1] < time.time()):
            return None
        return v[0]

    def set(self, key, value, px=None):
        self._check()
        self.data[key] = (value.encode() if isinstance(value, str) else value, time.time() + px / 1000 if px else None)
        return True


@pytest.fixture
def fakes():
    """The test doubles above, as a namespace (test modules import nothing from here)."""
    return types.SimpleNamespace(FakeBatch=FakeBatch, FakeStream=FakeStream, DictRedis=DictRedis)
