"""Where the API's features come from: batch (Feast online store), streaming (Redis hashes
written by the stream processor) and request context. Each source is a small class behind a
protocol, so the service can be tested with a source that fails on purpose.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from serving.config import EXTRA_BATCH_FEATURES
from streaming import keys as stream_keys


class BatchFeatureSource(Protocol):
    """Precomputed features of a user and a product (daily batch, materialized online)."""

    name: str

    def get(self, user_id: int, product_id: int) -> dict[str, Any]:
        """Feature name -> value. Raises on failure; the service decides what to do."""


class StreamFeatureSource(Protocol):
    name: str

    def get(self, user_id: int) -> dict[str, Any] | None:
        """The user's streaming hash, parsed; None when the processor has not written one."""


def _num(v: Any) -> Any:
    # Feast returns None for a missing entity and NaN for a missing value; JSON has neither.
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


class FeastBatchSource:
    """Batch features from Feast's online store: the stored features of a FeatureService.

    The service pins which features the model uses, so the API asks for exactly those (plus
    ``extra`` references the streaming fallbacks need). On-demand views of the service need
    request data (an offered price) this API does not take; they are left out here.
    ``store`` is a ``feast.FeatureStore``; when omitted, the lab's feature repository builds it
    (lazily, on first use, so the API starts even when Feast's registry is not there yet).
    """

    name = "feature_store"

    def __init__(
        self, store=None, feature_service: str = "recommendation_v1", extra: tuple[str, ...] = EXTRA_BATCH_FEATURES
    ):
        self._store = store
        self._service_name = feature_service
        self._extra = tuple(extra)
        self._refs: list[str] | None = None

    def feature_refs(self) -> list[str]:
        if self._refs is None:
            service = self.store.get_feature_service(self._service_name)
            on_demand = {v.name for v in self.store.list_on_demand_feature_views()}
            refs = [
                f"{p.name_to_use()}:{f.name}"
                for p in service.feature_view_projections
                if p.name not in on_demand
                for f in p.features
            ]
            self._refs = refs + [r for r in self._extra if r not in refs]
        return self._refs

    @property
    def store(self):
        if self._store is None:
            from feature_repo import get_store  # the feast helper's public entry point

            self._store = get_store()
        return self._store

    def warm_up(self) -> None:
        """Load the registry and open the Redis connection now: the first read costs seconds,
        far beyond the per-request timeout, so a fresh process pays it before taking traffic."""
        self.feature_refs()
        self.get(1, 1)

    def get(self, user_id: int, product_id: int) -> dict[str, Any]:
        resp = self.store.get_online_features(
            features=self.feature_refs(),
            entity_rows=[{"user_id": int(user_id), "product_id": int(product_id)}],
        ).to_dict()
        return {k: _num(v[0]) for k, v in resp.items() if k not in ("user_id", "product_id")}


class RedisStreamSource:
    """The stream processor's per-user hash (layout in ``streaming/keys.py``)."""

    name = "stream"

    def __init__(self, redis, prefix: str = stream_keys.USER_KEY_PREFIX):
        self.redis = redis
        self.prefix = prefix

    def get(self, user_id: int) -> dict[str, Any] | None:
        raw = self.redis.hgetall(stream_keys.user_key(user_id, self.prefix))
        return stream_keys.parse_user_features(raw) if raw else None


def stream_age_s(features: dict[str, Any] | None, now_s: float | None = None) -> float | None:
    """Seconds since the stream processor last wrote this hash (None without a write time)."""
    if not features or stream_keys.UPDATED_TS not in features:
        return None
    now_s = time.time() if now_s is None else now_s
    return max(0.0, now_s - features[stream_keys.UPDATED_TS] / 1000.0)


def context_features(now: datetime, device: str, tz: str = "UTC") -> dict[str, Any]:
    """Request-time features. ``tz`` must be the zone training used (UTC in this lab): an API
    that computes the hour in another zone serves features the model never saw (skew)."""
    local = now.astimezone(ZoneInfo(tz))
    return {
        "hour_of_day": local.hour,
        "day_of_week": local.weekday(),
        "is_weekend": int(local.weekday() >= 5),
        "device": device,
    }
