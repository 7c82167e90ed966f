"""Code tests: the Spark window features against a plain pandas oracle, boundaries included."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines.features import FEATURE_COLUMNS, clean_events, window_features
from pipelines.oracle import clean_events_pandas, user_features_pandas

D = dt.date(2026, 2, 10)
NUMERIC = [
    "purchases_1d",
    "purchases_7d",
    "purchases_30d",
    "purchase_amount_7d",
    "avg_purchase_value_30d",
    "views_1d",
    "clicks_1d",
    "add_to_cart_7d",
    "ctr_7d",
    "days_since_last_purchase",
]


def ts(day: dt.date, hh=0, mm=0, ss=0, us=0) -> pd.Timestamp:
    return pd.Timestamp(dt.datetime(day.year, day.month, day.day, hh, mm, ss, us), tz="UTC")


def ev(event_id, user, when, kind="view", price=10.0, qty=None, category="books", product=1):
    qty = (1 if kind in ("purchase", "add_to_cart") else 0) if qty is None else qty
    amount = price * qty if kind == "purchase" and price is not None else 0.0
    return dict(
        event_id=event_id,
        user_id=user,
        product_id=product,
        session_id="s",
        event_type=kind,
        event_ts=when,
        ingest_ts=when,
        category=category,
        price=price,
        quantity=qty,
        amount=amount,
        device="mobile",
    )


def frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["event_ts"] = pd.to_datetime(df["event_ts"], utc=True).astype("datetime64[us, UTC]")
    df["ingest_ts"] = pd.to_datetime(df["ingest_ts"], utc=True).astype("datetime64[us, UTC]")
    df["product_id"] = df["product_id"].astype("Int64")
    return df


def spark_features(spark, raw: pd.DataFrame, start: dt.date, end: dt.date | None = None) -> pd.DataFrame:
    sdf = spark.createDataFrame(raw)
    out = window_features(clean_events(sdf), start, end).toArrow().to_pandas()  # as the job does: keeps UTC
    return out.sort_values(["feature_date", "user_id"]).reset_index(drop=True)


def assert_same(spark_df: pd.DataFrame, oracle: pd.DataFrame) -> None:
    a = spark_df.sort_values("user_id").reset_index(drop=True)
    b = oracle.sort_values("user_id").reset_index(drop=True)
    assert list(a["user_id"]) == list(b["user_id"]), "Spark and pandas disagree on which users have features"
    for c in NUMERIC:
        np.testing.assert_allclose(a[c].astype(float), b[c].astype(float), rtol=0, atol=1e-9, err_msg=c)
    assert list(a["favourite_category_30d"].fillna("-")) == list(b["favourite_category_30d"].fillna("-"))
    assert (a["event_timestamp"] == b["event_timestamp"]).all()


def test_window_boundaries_are_half_open(spark):
    """An event at midnight D+1 is not in D's snapshot; one at D-6 00:00 is in the 7-day sum,
    one a microsecond before it is not; the 30-day window starts at D-29 00:00."""
    rows = [
        ev("a", 1, ts(D, 23, 59, 59, 999999), "purchase", 5.0),  # last instant of D: 1d
        ev("b", 1, ts(D + dt.timedelta(days=1)), "purchase", 1000.0),  # next midnight: excluded
        ev("c", 1, ts(D - dt.timedelta(days=6)), "purchase", 7.0),  # first instant of 7d
        ev("d", 1, ts(D - dt.timedelta(days=6)) - pd.Timedelta(microseconds=1), "purchase", 11.0),  # 8th day back
        ev("e", 1, ts(D - dt.timedelta(days=29)), "purchase", 13.0),  # first instant of 30d
        ev("f", 1, ts(D - dt.timedelta(days=30), 23), "purchase", 500.0),  # outside 30d
        ev("g", 2, ts(D - dt.timedelta(days=29), 1), "view", category="toys"),  # only old activity
    ]
    raw = frame(rows)
    out = spark_features(spark, raw, D)
    u1 = out[out.user_id == 1].iloc[0]
    assert u1.purchases_1d == 1
    assert u1.purchases_7d == 2 and u1.purchase_amount_7d == pytest.approx(12.0)
    assert u1.purchases_30d == 4
    assert u1.avg_purchase_value_30d == pytest.approx((5 + 7 + 11 + 13) / 4)
    assert u1.days_since_last_purchase == pytest.approx(1e-6 / 86_400)
    u2 = out[out.user_id == 2].iloc[0]
    assert u2.purchases_30d == 0 and np.isnan(u2.avg_purchase_value_30d) and u2.favourite_category_30d == "toys"
    assert_same(out, user_features_pandas(clean_events_pandas(raw), D))


def test_30d_mean_is_sum_over_count_not_mean_of_daily_means(spark):
    rows = [ev("p1", 7, ts(D, 10), "purchase", 100.0)]
    rows += [ev(f"q{i}", 7, ts(D - dt.timedelta(days=1), 10, i), "purchase", 1.0) for i in range(9)]
    out = spark_features(spark, frame(rows), D).iloc[0]
    assert out.avg_purchase_value_30d == pytest.approx(109 / 10), "a 30-day mean must weight every purchase equally"
    assert out.avg_purchase_value_30d != pytest.approx((100 + 1) / 2)


def test_cleaning_duplicates_nulls_and_bad_prices(spark):
    rows = [
        ev("x", 3, ts(D, 9), "purchase", 20.0),
        ev("x", 3, ts(D, 9), "purchase", 20.0),  # duplicate delivery: counted once
        ev("y", 3, ts(D, 10), "purchase", None),  # null price: not a valid event
        ev("z", 3, ts(D, 11), "purchase", -20.0),  # bad batch style negative price
        ev("w", 3, ts(D, 12), "purchase", 999_999.99),  # absurd price
    ]
    out = spark_features(spark, frame(rows), D).iloc[0]
    assert out.purchases_1d == 1 and out.purchase_amount_7d == pytest.approx(20.0)


def test_favourite_category_prefers_purchases_then_views_then_name(spark):
    rows = [ev(f"v{i}", 4, ts(D, 8, i), "view", category="toys") for i in range(5)]
    rows += [ev("b1", 4, ts(D, 9), "purchase", category="books")]
    rows += [ev("t1", 5, ts(D, 9), "view", category="home"), ev("t2", 5, ts(D, 9, 1), "view", category="beauty")]
    out = spark_features(spark, frame(rows), D).set_index("user_id")
    assert out.loc[4, "favourite_category_30d"] == "books", "one purchase beats five views"
    assert out.loc[5, "favourite_category_30d"] == "beauty", "a tie goes to the alphabetically first category"


def test_random_events_many_days_in_one_pass_match_the_oracle(spark):
    """A backfill range computed in one Spark pass equals the oracle day by day."""
    rng = np.random.default_rng(7)
    n = 3000
    start = D - dt.timedelta(days=40)
    offsets = rng.integers(0, 45 * 86_400_000_000, n)
    rows = [
        ev(
            f"r{i}",
            int(rng.integers(1, 30)),
            pd.Timestamp(start, tz="UTC") + pd.Timedelta(microseconds=int(o)),
            str(rng.choice(["view", "click", "add_to_cart", "purchase"], p=[0.6, 0.2, 0.1, 0.1])),
            float(np.round(rng.uniform(1, 200), 2)),
            category=str(rng.choice(["books", "toys", "home"])),
        )
        for i, o in enumerate(offsets)
    ]
    raw = frame(rows)
    first, last = D - dt.timedelta(days=3), D + dt.timedelta(days=2)
    out = spark_features(spark, raw, first, last)
    clean = clean_events_pandas(raw)
    for k in range((last - first).days + 1):
        day = first + dt.timedelta(days=k)
        assert_same(out[out.feature_date == day.isoformat()], user_features_pandas(clean, day))


def test_spark_job_matches_the_generators_feature_snapshots(spark, small_world):
    """The job, fed the raw events as they arrived, reproduces the world's own daily snapshots."""
    day = small_world.config.start + dt.timedelta(days=10)
    snap = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    raw = small_world.raw_events[small_world.raw_events.event_ts < snap]
    mine = spark_features(spark, raw, day)
    ref = small_world.user_features[small_world.user_features.event_timestamp == snap]
    merged = mine.merge(ref, on="user_id", suffixes=("", "_ref"))
    assert len(merged) == len(mine) > 100
    for c in NUMERIC:
        np.testing.assert_allclose(merged[c].astype(float), merged[c + "_ref"].astype(float), atol=1e-3, err_msg=c)
    assert (merged.favourite_category_30d.fillna("-") == merged.favourite_category_30d_ref.fillna("-")).all()
    # users without activity in 30 days get no row from the job; the snapshots show them as all-zero
    idle = ref[~ref.user_id.isin(mine.user_id)]
    assert (idle.purchases_30d == 0).all() and idle.favourite_category_30d.isna().all()
    assert list(mine.columns) == FEATURE_COLUMNS


def test_window_features_rejects_a_reversed_range(spark):
    sdf = spark.createDataFrame(frame([ev("a", 1, ts(D), "view")]))
    with pytest.raises(ValueError, match="before start"):
        window_features(sdf, D, D - dt.timedelta(days=1))
