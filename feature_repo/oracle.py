"""A point-in-time join built by hand, to check Feast against (and to see what it does).

For each entity row (key, t) Feast returns the feature row of the same key with the LATEST
timestamp ``ts <= t``, provided ``ts >= t - ttl`` (both ends inclusive); ties on ``ts`` go to the
latest ``created``. ``pandas.merge_asof(direction="backward", tolerance=ttl)`` says exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import numpy as np
import pandas as pd

ROW_ID = "_row_id"


def _utc_ns(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s, utc=True)
    return s.astype("datetime64[ns, UTC]")


def point_in_time_join(
    entity_df: pd.DataFrame,
    features: pd.DataFrame,
    *,
    key: str,
    feature_columns: Iterable[str],
    ttl: timedelta | None,
    entity_ts: str = "event_timestamp",
    feature_ts: str = "event_timestamp",
    created_ts: str | None = "created",
) -> pd.DataFrame:
    """``entity_df`` with, per row, the feature values Feast's point-in-time join returns.

    Rows keep their order; a row with no feature value inside ``[t - ttl, t]`` gets NaN/None.
    ``ttl=None`` (or zero) means values never expire, as in Feast.
    """
    cols = list(feature_columns)
    for name, df, needed in (
        ("entity_df", entity_df, [key, entity_ts]),
        ("features", features, [key, feature_ts, *cols]),
    ):
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise ValueError(f"{name} lacks column(s) {missing}; it has {list(df.columns)}")
    if entity_df[key].isna().any() or entity_df[entity_ts].isna().any():
        raise ValueError(f"entity_df has null {key!r} or {entity_ts!r} values: every training row needs both")

    left = entity_df.copy()
    left[ROW_ID] = np.arange(len(left))
    left["_t"] = _utc_ns(left[entity_ts])
    sort_cols = [feature_ts] + ([created_ts] if created_ts and created_ts in features.columns else [])
    right = features[[key, *sort_cols, *cols]].sort_values(sort_cols)
    # A recomputed snapshot (same key and timestamp) counts once: the latest written wins.
    right = right.drop_duplicates([key, feature_ts], keep="last")
    right = right.rename(columns={feature_ts: "_ft"}).drop(columns=sort_cols[1:])
    right["_ft"] = _utc_ns(right["_ft"])
    # merge_asof needs the same key dtype on both sides and both frames sorted by time.
    right[key] = right[key].astype(left[key].dtype)
    clash = [c for c in cols if c in left.columns]
    if clash:
        raise ValueError(f"entity_df already has column(s) {clash}; drop or rename them before joining")

    tolerance = pd.Timedelta(ttl) if ttl else None
    out = pd.merge_asof(
        left.sort_values("_t"),
        right.sort_values("_ft"),
        left_on="_t",
        right_on="_ft",
        by=key,
        direction="backward",
        allow_exact_matches=True,
        tolerance=tolerance,
    )
    return out.sort_values(ROW_ID).drop(columns=["_t", "_ft", ROW_ID]).reset_index(drop=True)


def same_day_join(
    entity_df: pd.DataFrame,
    features: pd.DataFrame,
    *,
    key: str,
    feature_columns: Iterable[str],
    entity_ts: str = "event_timestamp",
    feature_ts: str = "event_timestamp",
) -> pd.DataFrame:
    """The tempting WRONG join: match each row to "that day's" snapshot by calendar date.

    A daily snapshot stamped 00:00 of day D+1 summarises day D, so a join on (key, date) gives a
    row at 08:00 on day D the totals of the WHOLE day D, including the hours after 08:00: the very
    window its label is about. Nothing errors; the model just sees the future.
    """
    cols = list(feature_columns)
    right = features[[key, feature_ts, *cols]].copy()
    right["_day"] = (_utc_ns(right[feature_ts]) - pd.Timedelta(days=1)).dt.floor("D")
    left = entity_df.copy()
    left["_day"] = _utc_ns(left[entity_ts]).dt.floor("D")
    right[key] = right[key].astype(left[key].dtype)
    out = left.merge(right.drop(columns=[feature_ts]), on=[key, "_day"], how="left")
    return out.drop(columns="_day")


def mismatches(
    expected: pd.DataFrame, actual: pd.DataFrame, *, row_key: str, columns: Iterable[str], rtol: float = 1e-9
) -> pd.DataFrame:
    """Rows where two joins disagree (NaN equals NaN), aligned on ``row_key``; empty = identical.

    Raises if the two frames do not hold the same set of rows: a dropped row is a mismatch too.
    """
    cols = list(columns)
    a = expected.set_index(row_key)
    b = actual.set_index(row_key)
    lost = a.index.difference(b.index)
    extra = b.index.difference(a.index)
    if len(lost) or len(extra):
        raise AssertionError(
            f"{len(lost)} row(s) missing (e.g. {list(lost[:5])}) and {len(extra)} unexpected "
            f"row(s) (e.g. {list(extra[:5])}): a join dropped or invented rows"
        )
    b = b.loc[a.index]
    bad = pd.Series(False, index=a.index)
    for c in cols:
        x, y = a[c], b[c]
        both_null = x.isna() & y.isna()
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(x):
            same = np.isclose(x.astype(float), y.astype(float), rtol=rtol, atol=0, equal_nan=True)
        else:
            same = (x.astype(object) == y.astype(object)).to_numpy()
        bad |= ~(pd.Series(same, index=a.index) | both_null)
    rows = a.index[bad.to_numpy()]
    return pd.concat({"expected": a.loc[rows, cols], "actual": b.loc[rows, cols]}, axis=1)


def boundary_rows(
    features: pd.DataFrame,
    *,
    key: str,
    ttl: timedelta,
    n_keys: int = 3,
    feature_ts: str = "event_timestamp",
    seed: int = 0,
) -> pd.DataFrame:
    """Entity rows that probe the edges of the join, for a few keys.

    For one snapshot time T of each key: exactly T (included), T - 1 µs (previous snapshot),
    and for the key's LAST snapshot L: L + ttl (still included) and L + ttl + 1 µs (expired),
    plus one row before the key's first snapshot (nothing known yet).
    """
    rng = np.random.default_rng(seed)
    keys = features[key].drop_duplicates().to_numpy()
    chosen = rng.choice(keys, size=min(n_keys, len(keys)), replace=False)
    us = pd.Timedelta(microseconds=1)
    rows = []
    for k in chosen:
        ts = _utc_ns(features.loc[features[key] == k, feature_ts]).sort_values().reset_index(drop=True)
        t = ts.iloc[len(ts) // 2]
        last, first = ts.iloc[-1], ts.iloc[0]
        for when, case in (
            (t, "exactly at a snapshot"),
            (t - us, "1 µs before a snapshot"),
            (last + pd.Timedelta(ttl), "last snapshot + ttl"),
            (last + pd.Timedelta(ttl) + us, "last snapshot + ttl + 1 µs"),
            (first - us, "before the first snapshot"),
        ):
            rows.append({key: k, "event_timestamp": when, "case": case})
    return pd.DataFrame(rows)
