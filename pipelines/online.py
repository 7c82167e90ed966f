"""Materialization: the newest feature values of each user, pushed to the online store.

Preferred path: through Feast (the lab's ``feature_repo/``), with
``FeatureStore.write_to_online_store`` for the feature view that serves these columns, so
online reads go through the same definitions as everything else. When no such feature view
exists (a repo without it, or no repo at all), :func:`write_redis_fallback` writes plain Redis
hashes under a clearly separate key prefix, and the returned dict says which path ran.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from labkit.settings import Settings, get_settings
from pipelines.features import FEATURE_COLUMNS

FEATURE_VIEW = "user_stats"  # the feature view the pipeline feeds (feature_repo/definitions.py)
FALLBACK_PREFIX = "pipelines:user_daily"
# the feature values: the table's columns minus keys, timestamps and the partition column
VALUE_COLUMNS = [c for c in FEATURE_COLUMNS if c not in ("user_id", "event_timestamp", "created", "feature_date")]


def _feast_view(settings: Settings):
    """(store, view name) when the lab's Feast repo is importable and defines the view, else None.

    Registers the definitions first if this stack's registry does not know the view yet
    (``apply_definitions`` is idempotent)."""
    try:
        from feature_repo import apply_definitions, get_store
    except ImportError:
        return None
    store = get_store(settings)
    try:
        store.get_feature_view(FEATURE_VIEW)
    except Exception:  # noqa: BLE001 - Feast raises its own not-found error type
        apply_definitions(store, settings)
        store = get_store(settings, fresh=True)
        store.get_feature_view(FEATURE_VIEW)
    return store, FEATURE_VIEW


def write_redis_fallback(df: pd.DataFrame, settings: Settings | None = None) -> dict[str, Any]:
    """Write each user's features as a Redis hash ``pipelines:user_daily:<user_id>`` (no Feast)."""
    from labkit.clients import redis_client

    s = settings or get_settings()
    r = redis_client(s)
    latest = df.sort_values("event_timestamp").drop_duplicates("user_id", keep="last")
    pipe = r.pipeline(transaction=False)
    for row in latest.itertuples(index=False):
        values = {c: "" if pd.isna(getattr(row, c)) else str(getattr(row, c)) for c in VALUE_COLUMNS}
        values["event_timestamp"] = pd.Timestamp(row.event_timestamp).isoformat()
        pipe.hset(f"{FALLBACK_PREFIX}:{int(row.user_id)}", mapping=values)
    pipe.execute()
    return {"online_store": "redis-fallback", "keys": len(latest), "prefix": FALLBACK_PREFIX}


def read_redis_fallback(user_id: int, settings: Settings | None = None) -> dict[str, str]:
    from labkit.clients import redis_client

    raw = redis_client(settings).hgetall(f"{FALLBACK_PREFIX}:{int(user_id)}")
    return {k.decode(): v.decode() for k, v in raw.items()}


def write_online(df: pd.DataFrame, settings: Settings | None = None) -> dict[str, Any]:
    s = settings or get_settings()
    feast = _feast_view(s)
    if feast is None:
        return write_redis_fallback(df, s)
    store, view = feast
    latest = df.sort_values("event_timestamp").drop_duplicates("user_id", keep="last")
    cols = ["user_id", "event_timestamp", "created", *VALUE_COLUMNS]
    store.write_to_online_store(view, latest[cols].reset_index(drop=True))
    return {"online_store": "feast", "feature_view": view, "keys": len(latest)}
