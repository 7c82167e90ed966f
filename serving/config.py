"""Knobs of the feature-serving API: the ``LAB_SERVING_*`` settings (environment or ``.env``).

Every number here is a production decision a learner should be able to argue for: how long a
source may take before we give up on it, how old a streaming feature may be before we stop
trusting it, how long a cached vector stays fresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labkit.settings import Settings, get_settings

DEVICES = ("mobile", "desktop", "tablet")

# What the model gets when nothing better is known: a brand-new user, an unknown product,
# or every source down. Defaults are conservative (a cold-start user), never NaN.
DEFAULT_USER_FEATURES: dict[str, float] = {
    "purchases_7d": 0,
    "purchases_30d": 0,
    "avg_purchase_value_30d": 0.0,
    "ctr_7d": 0.0,
    "days_since_last_purchase": 999.0,
    "views_1d": 0,
    "clicks_1d": 0,
}
DEFAULT_PRODUCT_FEATURES: dict[str, float] = {
    "price": 0.0,
    "rating": 0.0,
    "conversion_rate_7d": 0.0,
    "in_stock": False,
}
# Batch features the API reads besides the feature service's: the inputs of the streaming
# fallbacks below (Feast "view:feature" references).
EXTRA_BATCH_FEATURES = ("user_stats:clicks_1d",)

# Real-time features served by the API: name -> (field in the stream processor's hash,
# batch feature to fall back on, factor applied to the batch value). When the streaming value
# is missing or stale, the batch value (scaled) stands in: clicks in the last hour are
# estimated as a day's clicks / 24.
REALTIME_FEATURES: dict[str, tuple[str, str, float]] = {
    "clicks_last_hour": ("clicks_1h", "clicks_1d", 1 / 24),
    "purchase_count": ("purchase_count", "purchases_30d", 1.0),
}


@dataclass(frozen=True)
class ServingConfig:
    batch_timeout_s: float = 0.5  # Feast online read
    stream_timeout_s: float = 0.1  # one HGETALL
    cache_timeout_s: float = 0.1
    cache_ttl_s: float = 60.0  # a cached batch vector is fresh this long ...
    cache_stale_ttl_s: float = 3600.0  # ... and kept this long as a last-known-good fallback
    cache_enabled: bool = True
    max_stream_age_s: float = 300.0  # streaming features older than this are stale
    context_tz: str = "UTC"  # time zone of hour_of_day / day_of_week (training used UTC)
    feature_service: str = "recommendation_v1"
    cache_prefix: str = "serving:cache:"
    stream_prefix: str = "features:user:"  # streaming.keys.USER_KEY_PREFIX unless a drill isolates its keys
    served_log: Path = field(default_factory=lambda: get_settings().home / "serving" / "served_features.jsonl")

    @classmethod
    def from_env(cls, settings: Settings | None = None) -> ServingConfig:
        """The API's knobs from the lab's settings (``LAB_SERVING_*``: environment over ``.env``)."""
        s = settings or get_settings()
        return cls(
            batch_timeout_s=s.serving_batch_timeout_s,
            stream_timeout_s=s.serving_stream_timeout_s,
            cache_timeout_s=s.serving_cache_timeout_s,
            cache_ttl_s=s.serving_cache_ttl_s,
            cache_stale_ttl_s=s.serving_cache_stale_ttl_s,
            cache_enabled=s.serving_cache,
            max_stream_age_s=s.serving_max_stream_age_s,
            context_tz=s.serving_context_tz,
            feature_service=s.serving_feature_service,
            cache_prefix=s.serving_cache_prefix,
            stream_prefix=s.serving_stream_prefix,
            served_log=s.serving_log or s.home / "serving" / "served_features.jsonl",
        )
