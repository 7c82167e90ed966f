"""Training/serving skew: compare what the API served with what the offline path computes.

The serving API logs every vector it serves (``served_features.jsonl``). For each logged request
we recompute the same features the way training data is built: the latest daily snapshot at or
before the request time (point in time), and the request-context features from the logged
request time in UTC. Any feature whose served value differs from its recomputation is skew.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

CONTEXT_FEATURES = ("hour_of_day", "day_of_week", "is_weekend")


def load_served(path: Path | str) -> pd.DataFrame:
    """One row per served request: ids, ``served_at`` (UTC), every feature, and where each came from."""
    rows = []
    for line in Path(path).read_text().splitlines():
        if not line.strip():
            continue
        doc = json.loads(line)
        row = {
            "request_id": doc["request_id"],
            "user_id": doc["user_id"],
            "product_id": doc["product_id"],
            "served_at": doc["served_at"],
            "degraded": doc["degraded"],
            **doc["features"],
        }
        row.update({f"source:{k}": v for k, v in doc["feature_sources"].items()})
        rows.append(row)
    if not rows:
        raise ValueError(f"{path} holds no served vectors: send some requests to the API first")
    out = pd.DataFrame(rows)
    out["served_at"] = pd.to_datetime(out["served_at"], utc=True)
    return out


def context_offline(ts: pd.Series) -> pd.DataFrame:
    """Request-context features as training computes them: from the event time, in UTC."""
    t = pd.to_datetime(ts, utc=True)
    return pd.DataFrame(
        {"hour_of_day": t.dt.hour, "day_of_week": t.dt.weekday, "is_weekend": (t.dt.weekday >= 5).astype(int)},
        index=ts.index,
    )


def _asof(served: pd.DataFrame, snapshots: pd.DataFrame, key: str, columns: Iterable[str]) -> pd.DataFrame:
    left = served[["request_id", key, "served_at"]].sort_values("served_at")
    right = snapshots[[key, "event_timestamp", *columns]].sort_values("event_timestamp")
    right = right.assign(event_timestamp=pd.to_datetime(right["event_timestamp"], utc=True))
    joined = pd.merge_asof(left, right, left_on="served_at", right_on="event_timestamp", by=key, direction="backward")
    return joined.set_index("request_id")[list(columns)]


def offline_features(
    served: pd.DataFrame,
    user_snapshots: pd.DataFrame,
    product_snapshots: pd.DataFrame,
    user_columns: Iterable[str],
    product_columns: Iterable[str],
    defaults: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """Recompute the served features offline, indexed by request_id.

    ``defaults`` fills what the snapshots leave empty (a user who never bought has no average
    basket): pass the SAME defaults the API applies, or every such user shows up as skew.
    """
    users = _asof(served, user_snapshots, "user_id", list(user_columns))
    products = _asof(served, product_snapshots, "product_id", list(product_columns))
    ctx = context_offline(served.set_index("request_id")["served_at"])
    out = users.join(products).join(ctx)
    if defaults:
        for col, value in defaults.items():
            if col in out:
                out[col] = out[col].astype(object).where(out[col].notna(), value)
    return out


def _same(a, b, rtol: float) -> bool:
    if a is None or b is None or (isinstance(a, float) and np.isnan(a)) or (isinstance(b, float) and np.isnan(b)):
        return (a is None or (isinstance(a, float) and np.isnan(a))) and (
            b is None or (isinstance(b, float) and np.isnan(b))
        )
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return bool(a) == bool(b)
    if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
        return bool(np.isclose(float(a), float(b), rtol=rtol, atol=1e-9))
    return a == b


def skew_report(
    served: pd.DataFrame, offline: pd.DataFrame, features: Iterable[str], rtol: float = 1e-6
) -> pd.DataFrame:
    """Per feature: how many requests were compared, how many differ, and one example."""
    s = served.set_index("request_id")
    rows = []
    for feat in features:
        pairs = [(rid, s.at[rid, feat], offline.at[rid, feat]) for rid in s.index if rid in offline.index]
        bad = [(rid, a, b) for rid, a, b in pairs if not _same(a, b, rtol)]
        rows.append(
            {
                "feature": feat,
                "compared": len(pairs),
                "mismatches": len(bad),
                "mismatch_rate": len(bad) / len(pairs) if pairs else np.nan,
                "example": f"served {bad[0][1]!r} vs offline {bad[0][2]!r}" if bad else "",
            }
        )
    return pd.DataFrame(rows).set_index("feature")


def skewed_features(report: pd.DataFrame, max_rate: float = 0.0) -> list[str]:
    """The features whose mismatch rate exceeds ``max_rate``."""
    return sorted(report.index[report["mismatch_rate"] > max_rate])
