"""A deliberately plain pandas version of :mod:`pipelines.features`: one day at a time, by
filtering the events of each window. Slow, obvious, and therefore a good test oracle."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from pipelines.features import EVENT_TYPES, FEATURE_COLUMNS, LOOKBACK_DAYS, MAX_VALID_PRICE


def clean_events_pandas(raw: pd.DataFrame) -> pd.DataFrame:
    e = raw.sort_values("ingest_ts", kind="stable").drop_duplicates(subset=["event_id"], keep="first")
    e = e.dropna(subset=["user_id", "event_ts", "product_id", "price"])
    e = e[e["event_type"].isin(EVENT_TYPES) & (e["price"] > 0) & (e["price"] < MAX_VALID_PRICE)]
    return e


def user_features_pandas(events: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Features of every user active in the 30 days up to and including ``day``."""
    snapshot = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    ts = events["event_ts"]

    def window(days: int) -> pd.DataFrame:
        return events[(ts >= snapshot - pd.Timedelta(days=days)) & (ts < snapshot)]

    w1, w7, w30 = window(1), window(7), window(LOOKBACK_DAYS)
    users = np.sort(w30["user_id"].unique())
    out = pd.DataFrame({"user_id": users})

    def count(frame: pd.DataFrame, kind: str) -> pd.Series:
        return frame[frame["event_type"] == kind].groupby("user_id").size()

    def put(name: str, series: pd.Series, fill) -> None:
        out[name] = out["user_id"].map(series).fillna(fill)

    put("purchases_1d", count(w1, "purchase"), 0)
    put("purchases_7d", count(w7, "purchase"), 0)
    put("purchases_30d", count(w30, "purchase"), 0)
    p7, p30 = w7[w7["event_type"] == "purchase"], w30[w30["event_type"] == "purchase"]
    put("purchase_amount_7d", p7.groupby("user_id")["amount"].sum(), 0.0)
    put("avg_purchase_value_30d", p30.groupby("user_id")["amount"].mean(), np.nan)
    put("views_1d", count(w1, "view"), 0)
    put("clicks_1d", count(w1, "click"), 0)
    put("add_to_cart_7d", count(w7, "add_to_cart"), 0)
    views7, clicks7 = count(w7, "view"), count(w7, "click")
    ctr = clicks7.reindex(views7.index, fill_value=0) / views7
    put("ctr_7d", ctr, np.nan)
    last = p30.groupby("user_id")["event_ts"].max()
    put("days_since_last_purchase", (snapshot - last).dt.total_seconds() / 86_400, np.nan)
    interest = w30[w30["event_type"].isin(["purchase", "view"]) & w30["category"].notna()]
    counts = (
        interest.assign(bought=interest["event_type"].eq("purchase"), viewed=interest["event_type"].eq("view"))
        .groupby(["user_id", "category"])[["bought", "viewed"]]
        .sum()
        .reset_index()
    )
    counts = counts.sort_values(["user_id", "bought", "viewed", "category"], ascending=[True, False, False, True])
    out["favourite_category_30d"] = out["user_id"].map(
        counts.drop_duplicates("user_id").set_index("user_id")["category"]
    )
    for c in ("purchases_1d", "purchases_7d", "purchases_30d", "views_1d", "clicks_1d", "add_to_cart_7d"):
        out[c] = out[c].astype("int64")
    out["event_timestamp"] = snapshot
    out["created"] = pd.Timestamp.now(tz="UTC")
    out["feature_date"] = day.isoformat()
    return out[FEATURE_COLUMNS]
