"""A Redis cache of batch feature vectors with two ages: fresh and last-known-good.

A cached entry is *fresh* for ``ttl_s`` seconds: the API serves it without asking the feature
store. After that it is *stale* but kept (Redis expiry = ``stale_ttl_s``) so that, when the
feature store fails, the API can still serve the last value it saw ("stale-if-error", as in
HTTP caching) instead of jumping straight to defaults.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class CacheEntry:
    features: dict[str, Any]
    stored_at: float

    def age_s(self, now: float | None = None) -> float:
        return (time.time() if now is None else now) - self.stored_at


class FeatureCache:
    name = "cache"

    def __init__(self, redis, ttl_s: float = 60.0, stale_ttl_s: float = 3600.0, prefix: str = "serving:cache:"):
        if ttl_s <= 0 or stale_ttl_s < ttl_s:
            raise ValueError(f"cache needs 0 < ttl_s <= stale_ttl_s (got ttl_s={ttl_s}, stale_ttl_s={stale_ttl_s})")
        self.redis, self.ttl_s, self.stale_ttl_s, self.prefix = redis, ttl_s, stale_ttl_s, prefix

    def key(self, user_id: int, product_id: int) -> str:
        return f"{self.prefix}{int(user_id)}:{int(product_id)}"

    def get(self, user_id: int, product_id: int) -> CacheEntry | None:
        raw = self.redis.get(self.key(user_id, product_id))
        if raw is None:
            return None
        doc = json.loads(raw)
        return CacheEntry(doc["features"], doc["stored_at"])

    def put(self, user_id: int, product_id: int, features: dict[str, Any]) -> None:
        doc = json.dumps({"features": features, "stored_at": time.time()})
        self.redis.set(self.key(user_id, product_id), doc, px=int(self.stale_ttl_s * 1000))

    def is_fresh(self, entry: CacheEntry) -> bool:
        return entry.age_s() <= self.ttl_s

    def clear(self) -> int:
        """Delete every cached vector (SCAN, never KEYS, so a big cache does not block Redis)."""
        n = 0
        for k in self.redis.scan_iter(match=f"{self.prefix}*", count=500):
            n += self.redis.delete(k)
        return n
