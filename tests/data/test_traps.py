"""What ground_truth.json says was injected is exactly what is in the data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

REQUIRED = ["event_id", "user_id", "product_id", "event_type", "event_ts", "price"]


def test_duplicates(world):
    gt, raw = world.ground_truth["duplicates"], world.raw_events
    counts = raw["event_id"].value_counts()
    assert set(counts[counts > 1].index) == set(gt["event_ids"])
    assert counts.max() == 2 and gt["count"] == len(gt["event_ids"]) > 0
    assert not set(gt["event_ids"]) - set(world.events["event_id"])  # the event itself is real and kept once


def test_late_events(world):
    gt, raw = world.ground_truth["late_events"], world.raw_events
    first = raw.drop_duplicates("event_id")
    delay = (first["ingest_ts"] - first["event_ts"]).dt.total_seconds()
    late = set(first.loc[delay >= gt["min_delay_s"], "event_id"])
    assert late == set(gt["event_ids"]) and gt["count"] == len(late) > 0
    assert delay.max() <= gt["max_delay_s"] + 1
    # late events are out of order in arrival order, and kept (with their true time) in the clean table
    assert not raw["event_ts"].is_monotonic_increasing
    clean = world.events.set_index("event_id")
    assert late <= set(clean.index)
    assert ((clean.loc[list(late), "ingest_ts"] - clean.loc[list(late), "event_ts"]).dt.total_seconds() >= 300).all()


def test_nulls(world):
    gt, raw = world.ground_truth["nulls"], world.raw_events
    pid, price = raw["product_id"].isna(), raw["price"].isna()
    assert set(raw.loc[pid | price, "event_id"]) == set(gt["event_ids"])
    assert gt["per_column"] == {"product_id": int(pid.sum()), "price": int(price.sum())}
    assert not set(gt["event_ids"]) & set(world.events["event_id"])


def test_bad_batch(world):
    gt, raw = world.ground_truth["bad_batch"], world.raw_events
    lo, hi = gt["valid_price_range"]
    bad = raw[(raw["price"] <= lo) | (raw["price"] >= hi)]
    assert set(bad["event_id"]) == set(gt["event_ids"]) and len(bad) == gt["count"] > 0
    assert (bad["event_ts"].dt.strftime("%Y-%m-%d") == gt["date"]).all()
    assert bad["event_ts"].dt.hour.between(gt["hours_utc"][0], gt["hours_utc"][1] - 1).all()
    assert gt["kinds"] == {"negative_price": int((bad["price"] < 0).sum()),
                           "absurd_price": int((bad["price"] == gt["absurd_price"]).sum())}  # fmt: skip
    buys = bad[bad["event_type"] == "purchase"]
    assert ((buys["amount"] < 0) | (buys["amount"] >= hi)).all()


def _valid(record: bytes) -> bool:
    try:
        obj = json.loads(record)
    except ValueError:
        return False
    if not isinstance(obj, dict) or any(k not in obj for k in REQUIRED):
        return False
    return (
        isinstance(obj["user_id"], int)
        and isinstance(obj["event_ts"], str)
        and isinstance(obj["price"], (int, float))
        and obj["event_type"] in ("view", "click", "add_to_cart", "purchase")
    )


def test_malformed(world):
    gt = world.ground_truth["malformed"]
    assert len(world.malformed) == gt["count"] == sum(gt["kinds"].values())
    assert not any(_valid(r) for r in world.malformed)
    unparseable = 0
    for r in world.malformed:
        try:
            json.loads(r)
        except ValueError:
            unparseable += 1
    assert unparseable == gt["kinds"]["bad_json"]
    assert all(b"\n" not in r for r in world.malformed)


def test_clean_rule_rebuilds_events_from_raw(world):
    """The documented rule, applied to raw_events, gives exactly the clean table."""
    raw = world.raw_events
    clean = raw.drop_duplicates("event_id", keep="first")
    clean = clean[clean["product_id"].notna() & clean["price"].notna()]
    clean = clean[(clean["price"] > 0) & (clean["price"] < 100_000)]
    clean = clean.astype({"product_id": "int64"}).sort_values(["event_ts", "event_id"]).reset_index(drop=True)
    events = world.events.sort_values(["event_ts", "event_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(clean, events)
    counts = world.ground_truth["counts"]
    assert counts["events"] == len(events) and counts["raw_events"] == len(raw)
    injected = sum(world.ground_truth[k]["count"] for k in ("nulls", "bad_batch"))
    assert counts["true_events"] == len(events) + injected
    assert len(raw) == counts["true_events"] + world.ground_truth["duplicates"]["count"]


def test_drift_is_detected_on_its_feature_from_its_day(world):
    """A per-day KS test on ONE feature (price of viewed items) against the first week flags the
    recorded day and no day before it."""
    gt = world.ground_truth["drift"]
    assert gt["feature"] == "price"
    views = world.events[world.events["event_type"] == "view"]
    day = views["event_ts"].dt.floor("D")
    start = pd.Timestamp(world.config.start, tz="UTC")
    ref = views.loc[day < start + pd.Timedelta(days=7), gt["feature"]]
    flagged = [d for d, g in views[day >= start + pd.Timedelta(days=7)].groupby(day)
               if ks_2samp(ref, g[gt["feature"]]).pvalue < 1e-6]  # fmt: skip
    assert flagged, "the drift was not detected at all"
    assert flagged[0].strftime("%Y-%m-%d") == gt["start"]
    # and the daily product snapshots carry it: every price moves by the factor that day
    pf = world.product_features.set_index(["event_timestamp", "product_id"])["price"]
    drift_ts = pd.Timestamp(gt["start"], tz="UTC")
    ratio = pf.loc[drift_ts + pd.Timedelta(days=1)] / pf.loc[drift_ts]
    assert ratio.to_numpy() == pytest.approx(np.full(len(ratio), gt["factor"]), rel=0.01)
    unchanged = pf.loc[drift_ts] / pf.loc[drift_ts - pd.Timedelta(days=1)]
    assert (unchanged == 1).all()


def test_traps_switch_off():
    from data_generators import generate_world

    w = generate_world("small", 42, days=7, traps=False)
    gt = w._cache["ground_truth"]
    for key in ("drift", "late_events", "duplicates", "nulls", "malformed", "bad_batch"):
        assert key not in gt
    assert w._cache["malformed"] == []
    raw = w._cache["raw_events"].astype({"product_id": "int64"}).sort_values(["event_ts", "event_id"])
    pd.testing.assert_frame_equal(raw.reset_index(drop=True), w._cache["events"].reset_index(drop=True))
    one = generate_world("small", 42, days=7, duplicates=False)._cache["ground_truth"]
    assert "duplicates" not in one and "late_events" in one
