"""Data tests: the expectations pass clean batches and stop the generator's injected bad batch."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipelines.validation import ValidationFailed, validate_frame


def raw_day(small_world, day: dt.date) -> pd.DataFrame:
    d = small_world.raw_events.event_ts.dt.date
    return small_world.raw_events[d == day].reset_index(drop=True)


def test_bad_batch_day_fails_with_a_readable_report(small_world):
    bad_day = dt.date.fromisoformat(small_world.ground_truth["bad_batch"]["date"])
    with pytest.raises(ValidationFailed) as info:
        validate_frame(raw_day(small_world, bad_day), "raw_events", f"raw events of {bad_day}")
    report = info.value.report
    assert "expect_column_values_to_be_between(price" in report, report
    assert "Validation FAILED" in report and str(bad_day) in report and "nothing was published" in report
    broken = {f["column"] for f in info.value.failures}
    assert "price" in broken and "amount" in broken


@pytest.mark.slow  # one Great Expectations run per day of the world: ~5 s
def test_every_clean_day_passes(small_world):
    bad_day = dt.date.fromisoformat(small_world.ground_truth["bad_batch"]["date"])
    for k in range(small_world.config.days):
        day = small_world.config.start + dt.timedelta(days=k)
        if day == bad_day:
            continue
        out = validate_frame(raw_day(small_world, day), "raw_events", str(day))
        assert out["success"] and out["evaluated"] >= 8, (day, out["failures"])


def test_feature_suite_passes_snapshots_and_catches_corruption(small_world, tmp_path):
    features = small_world.user_features
    snap = features[features.event_timestamp == features.event_timestamp.max()]
    assert validate_frame(snap, "user_features", "last snapshot")["success"]
    broken = snap.copy()
    broken.loc[broken.index[:5], "purchase_amount_7d"] = -1.0
    broken["avg_purchase_value_30d"] = broken["avg_purchase_value_30d"] * 1000
    out = validate_frame(broken, "user_features", "corrupted", raise_on_failure=False, report_path=tmp_path / "r.json")
    failed = {(f["expectation"], f["column"]) for f in out["failures"]}
    assert ("expect_column_values_to_be_between", "purchase_amount_7d") in failed
    assert ("expect_column_mean_to_be_between", "avg_purchase_value_30d") in failed
    assert not out["success"] and (tmp_path / "r.json").read_text().count("purchase_amount_7d") >= 1


def test_duplicate_users_and_nulls_in_keys_are_caught(small_world):
    features = small_world.user_features
    snap = features[features.event_timestamp == features.event_timestamp.max()]
    dup = pd.concat([snap, snap.head(3)], ignore_index=True)
    with pytest.raises(ValidationFailed, match="expect_column_values_to_be_unique"):
        validate_frame(dup, "user_features", "dup")
    nulls = snap.astype({"user_id": "float64"}).copy()
    nulls.loc[nulls.index[0], "user_id"] = np.nan
    with pytest.raises(ValidationFailed, match="to_not_be_null"):
        validate_frame(nulls, "user_features", "null key")


def test_empty_batch_and_unknown_suite_have_clear_errors(small_world):
    with pytest.raises(ValidationFailed, match="no rows"):
        validate_frame(small_world.raw_events.iloc[:0], "raw_events", "empty")
    with pytest.raises(ValueError, match="unknown suite"):
        validate_frame(small_world.raw_events.head(), "nope", "x")
