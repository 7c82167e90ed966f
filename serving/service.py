"""The hybrid feature service: one call, three kinds of features, and a fallback for each failure.

    batch features    cache (fresh?) -> feature store -> cache (stale, last known good) -> defaults
    stream features   Redis hash -> if missing/stale/failed: batch estimate (REALTIME_FEATURES)
    context features  computed from the request (hour, weekday, device)

Every source gets its own timeout. Whatever fails, ``get_features`` returns a full vector: the
caller (a model) always gets something it can score, and the response says honestly that it
is degraded and which sources failed, so dashboards and alerts can count it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serving.cache import FeatureCache
from serving.config import DEFAULT_PRODUCT_FEATURES, DEFAULT_USER_FEATURES, REALTIME_FEATURES, ServingConfig
from serving.sources import BatchFeatureSource, StreamFeatureSource, context_features, stream_age_s

log = logging.getLogger("serving")

# Status words used in ``sources``: anything but OK-ish ones marks the response degraded.
OK_STATUSES = {"ok", "hit", "miss", "missing", "off", "stale_fallback"}


@dataclass
class ServedFeatures:
    request_id: str
    user_id: int
    product_id: int
    served_at: str  # ISO time (UTC) the vector was assembled
    features: dict[str, Any]
    feature_sources: dict[str, str]  # feature -> where its value came from
    sources: dict[str, str]  # source -> status (ok, hit, timeout, error, stale, ...)
    degraded: bool
    failed_sources: list[str]
    latency_ms: float
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ServedLog:
    """Append-only JSON lines of every served vector, for skew checks against offline data."""

    def __init__(self, path: Path | None):
        self.path = path
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, served: ServedFeatures) -> None:
        if self.path is None:
            return
        line = json.dumps(served.to_dict(), default=str)
        with self._lock, self.path.open("a") as fh:
            fh.write(line + "\n")


class HybridFeatureService:
    def __init__(
        self,
        batch: BatchFeatureSource,
        stream: StreamFeatureSource | None,
        cache: FeatureCache | None,
        config: ServingConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        max_workers: int = 16,
    ):
        self.batch, self.stream, self.cache = batch, stream, cache
        self.config = config or ServingConfig()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.served_log = ServedLog(self.config.served_log)
        # Calls that time out keep running in their thread; a bounded pool caps how many pile up.
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="feature-source")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- one guarded call per source ---------------------------------------------------
    def _call(self, name: str, fn: Callable, timeout_s: float, sources: dict, errors: dict):
        """Run ``fn`` with a deadline; record 'timeout' or 'error' instead of raising."""
        try:
            return True, self._pool.submit(fn).result(timeout=timeout_s)
        except FutureTimeout:
            sources[name], errors[name] = "timeout", f"no answer within {timeout_s * 1000:.0f} ms"
        except Exception as exc:  # any failure of a dependency must not reach the caller
            sources[name], errors[name] = "error", f"{type(exc).__name__}: {exc}"[:300]
        return False, None

    def _batch_features(self, user_id: int, product_id: int, sources: dict, errors: dict, use_cache: bool = True):
        cfg, entry = self.config, None
        if self.cache is not None and cfg.cache_enabled and use_cache:
            ok, entry = self._call(
                "cache", lambda: self.cache.get(user_id, product_id), cfg.cache_timeout_s, sources, errors
            )
            if ok and entry is not None and self.cache.is_fresh(entry):
                sources["cache"] = "hit"
                return entry.features, "cache"
            if ok:
                sources["cache"] = "miss"
        else:
            sources["cache"] = "off"

        ok, feats = self._call(
            self.batch.name, lambda: self.batch.get(user_id, product_id), cfg.batch_timeout_s, sources, errors
        )
        if ok:
            sources[self.batch.name] = "ok"
            if self.cache is not None:
                # best effort: a failed write is reported (as cache_write) but the vector is served
                self._call(
                    "cache_write",
                    lambda: self.cache.put(user_id, product_id, feats),
                    cfg.cache_timeout_s,
                    sources,
                    errors,
                )
            return feats, self.batch.name

        # The feature store failed: a stale cached copy beats defaults.
        if self.cache is not None and entry is None and sources.get("cache") not in ("error", "timeout"):
            got, entry = self._call(
                "cache", lambda: self.cache.get(user_id, product_id), cfg.cache_timeout_s, sources, errors
            )
        if entry is not None:
            sources["cache"] = "stale_fallback"
            return entry.features, "cache_stale"
        return {}, "defaults"

    def _stream_features(self, user_id: int, sources: dict, errors: dict) -> dict | None:
        if self.stream is None:
            sources["stream"] = "off"
            return None
        ok, raw = self._call("stream", lambda: self.stream.get(user_id), self.config.stream_timeout_s, sources, errors)
        if not ok:
            return None
        if raw is None:
            sources["stream"] = "missing"  # no recent events for this user: normal, not a failure
            return None
        age = stream_age_s(raw, self.clock().timestamp())
        if age is None or age > self.config.max_stream_age_s:
            sources["stream"] = "stale"
            errors["stream"] = (
                f"last write {age:.0f} s ago > {self.config.max_stream_age_s:.0f} s allowed"
                if age is not None
                else "hash has no updated_ts"
            )
            return None
        sources["stream"] = "ok"
        return raw

    # -- the public call ----------------------------------------------------------------
    def get_features(
        self, user_id: int, product_id: int, device: str = "mobile", use_cache: bool = True
    ) -> ServedFeatures:
        """The feature vector for (user, product) now. ``use_cache=False`` skips cache *reads*
        (HTTP ``Cache-Control: no-cache``); the fresh result is still written for later fallbacks."""
        t0 = time.perf_counter()
        now = self.clock()
        sources: dict[str, str] = {}
        errors: dict[str, str] = {}

        # the stream lookup runs beside the batch path, with its own status dicts (no shared writes)
        s_sources: dict[str, str] = {}
        s_errors: dict[str, str] = {}
        stream_future = self._pool.submit(self._stream_features, user_id, s_sources, s_errors)
        batch, batch_origin = self._batch_features(user_id, product_id, sources, errors, use_cache)
        try:
            stream = stream_future.result(timeout=self.config.stream_timeout_s + 0.05)
            sources.update(s_sources)
            errors.update(s_errors)
        except FutureTimeout:
            sources["stream"], errors["stream"] = "timeout", "stream lookup did not finish"
            stream = None

        features: dict[str, Any] = {}
        origin: dict[str, str] = {}
        for name, default in {**DEFAULT_USER_FEATURES, **DEFAULT_PRODUCT_FEATURES}.items():
            value = batch.get(name)
            features[name] = default if value is None else value
            origin[name] = batch_origin if value is not None else "default"
        for name, value in batch.items():  # features the store serves beyond the defaults table
            if name not in features:
                features[name], origin[name] = value, batch_origin
        for name, (stream_field, batch_name, factor) in REALTIME_FEATURES.items():
            if stream is not None and stream_field in stream:
                features[name], origin[name] = stream[stream_field], "stream"
            else:
                features[name] = round(float(features.get(batch_name, 0.0)) * factor, 6)
                origin[name] = "batch_estimate" if origin.get(batch_name) != "default" else "default"
        for name, value in context_features(now, device, self.config.context_tz).items():
            features[name], origin[name] = value, "context"

        if batch_origin == "defaults":
            sources.setdefault("defaults", "used")
        failed = sorted(s for s, st in sources.items() if st not in OK_STATUSES and s != "defaults")
        served = ServedFeatures(
            request_id=uuid.uuid4().hex[:16],
            user_id=user_id,
            product_id=product_id,
            served_at=now.isoformat(),
            features=features,
            feature_sources=origin,
            sources=dict(sorted(sources.items())),
            degraded=bool(failed) or batch_origin == "defaults",
            failed_sources=failed,
            latency_ms=round((time.perf_counter() - t0) * 1000, 3),
            errors=errors,
        )
        self._emit(served)
        return served

    def _emit(self, served: ServedFeatures) -> None:
        log.info(
            json.dumps(
                {
                    "event": "features_served",
                    "request_id": served.request_id,
                    "user_id": served.user_id,
                    "product_id": served.product_id,
                    "degraded": served.degraded,
                    "failed_sources": served.failed_sources,
                    "cache": served.sources.get("cache"),
                    "latency_ms": served.latency_ms,
                }
            )
        )
        try:
            self.served_log.write(served)
        except OSError as exc:  # a full disk must not turn into a failed request
            log.error(json.dumps({"event": "served_log_write_failed", "error": str(exc)}))
