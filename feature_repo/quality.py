"""Feature statistics kept as a baseline, computed from the offline store (point-in-time values).

Feast has no ``get_feature_statistics``; this is the honest version: ask the offline store for
the values a model would have seen (every entity, at every snapshot time in a window), then
describe them. The same function on a later window gives numbers to compare with the baseline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd


def entity_grid(keys: Iterable, key: str, start, end, freq: str = "1D") -> pd.DataFrame:
    """Every key at every ``freq`` tick in ``[start, end]``: the entity_df of a statistics query."""
    times = pd.date_range(
        pd.Timestamp(start), pd.Timestamp(end), freq=freq, tz=None if pd.Timestamp(start).tz else "UTC"
    )
    if len(times) == 0:
        raise ValueError(f"no {freq} tick between {start} and {end}: widen the window")
    keys = pd.Series(list(keys), name=key).drop_duplicates()
    grid = keys.to_frame().merge(pd.DataFrame({"event_timestamp": times}), how="cross")
    return grid


def describe(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """mean, std, min, max, missing %, cardinality (distinct non-null values) per feature."""
    rows = {}
    for c in columns:
        if c not in df.columns:
            raise KeyError(f"no column {c!r} to describe; columns are {list(df.columns)}")
        s = df[c]
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        v = s.astype(float) if numeric else None
        rows[c] = {
            "count": int(s.notna().sum()),
            "missing_pct": float(s.isna().mean() * 100.0),
            "cardinality": int(s.nunique(dropna=True)),
            "mean": float(v.mean()) if numeric else np.nan,
            "std": float(v.std()) if numeric else np.nan,
            "min": float(v.min()) if numeric else np.nan,
            "max": float(v.max()) if numeric else np.nan,
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def feature_statistics(
    store, features: list[str], *, key: str, keys: Iterable, start, end, freq: str = "1D"
) -> pd.DataFrame:
    """Statistics of ``features`` ("view:feature" refs) as served point-in-time over a window."""
    grid = entity_grid(keys, key, start, end, freq)
    values = store.get_historical_features(entity_df=grid, features=features).to_df()
    cols = [f.split(":", 1)[1] for f in features]
    stats = describe(values, cols)
    stats.attrs.update(start=str(start), end=str(end), rows=len(values), freq=freq)
    return stats


def save_baseline(stats: pd.DataFrame, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"window": stats.attrs, "features": json.loads(stats.to_json(orient="index"))}
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def load_baseline(path: Path) -> pd.DataFrame:
    payload = json.loads(Path(path).read_text())
    stats = pd.DataFrame.from_dict(payload["features"], orient="index")
    stats.attrs.update(payload.get("window", {}))
    return stats


def compare(
    current: pd.DataFrame,
    baseline: pd.DataFrame,
    *,
    mean_change_pct: float = 10.0,
    mean_shift_sd: float = 0.5,
    missing_pct_points: float = 5.0,
) -> pd.DataFrame:
    """Flag features whose mean moved by more than ``mean_change_pct`` % or ``mean_shift_sd``
    baseline standard deviations, or whose missing share moved by more than ``missing_pct_points``."""
    common = current.index.intersection(baseline.index)
    if common.empty:
        raise ValueError("current and baseline statistics share no feature: compare the same features")
    out = pd.DataFrame(index=common)
    base_mean = baseline.loc[common, "mean"].astype(float)
    sd = baseline.loc[common, "std"].astype(float).replace(0, np.nan)
    out["mean_baseline"] = base_mean
    out["mean_now"] = current.loc[common, "mean"].astype(float)
    out["mean_change_pct"] = (out["mean_now"] / base_mean.replace(0, np.nan) - 1.0) * 100.0
    out["shift_in_sd"] = (out["mean_now"] - base_mean) / sd
    out["missing_pct_delta"] = current.loc[common, "missing_pct"] - baseline.loc[common, "missing_pct"]
    out["alert"] = (
        (out["mean_change_pct"].abs() > mean_change_pct)
        | (out["shift_in_sd"].abs() > mean_shift_sd)
        | (out["missing_pct_delta"].abs() > missing_pct_points)
    )
    return out
