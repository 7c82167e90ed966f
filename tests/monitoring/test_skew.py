"""The skew detector on a hand-made served log: exact matches pass, a time-zone bug and a
missing default are caught and named."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from monitoring.skew import load_served, offline_features, skew_report, skewed_features

USERS = pd.DataFrame(
    {
        "user_id": [1, 1, 2],
        "event_timestamp": pd.to_datetime(["2026-01-10", "2026-01-11", "2026-01-11"], utc=True),
        "purchases_30d": [3, 4, 0],
        "days_since_last_purchase": [1.5, 2.5, np.nan],
    }
)
PRODUCTS = pd.DataFrame(
    {"product_id": [7], "event_timestamp": pd.to_datetime(["2026-01-10"], utc=True), "price": [9.99]}
)


def _log(tmp_path, hour_shift=0, default=999.0):
    lines = []
    for i, (user, at) in enumerate(
        [(1, "2026-01-10T15:00:00+00:00"), (1, "2026-01-11T23:30:00+00:00"), (2, "2026-01-11T03:00:00+00:00")]
    ):
        t = pd.Timestamp(at)
        snap = USERS[(USERS.user_id == user) & (USERS.event_timestamp <= t)].iloc[-1]
        dslp = snap.days_since_last_purchase
        feats = {
            "purchases_30d": int(snap.purchases_30d),
            "days_since_last_purchase": default if np.isnan(dslp) else dslp,
            "price": 9.99,
            "hour_of_day": (t + pd.Timedelta(hours=hour_shift)).hour,
            "day_of_week": (t + pd.Timedelta(hours=hour_shift)).weekday(),
            "is_weekend": 0,
        }
        lines.append(
            json.dumps(
                {
                    "request_id": f"r{i}",
                    "user_id": user,
                    "product_id": 7,
                    "served_at": at,
                    "degraded": False,
                    "features": feats,
                    "feature_sources": {},
                }
            )
        )
    path = tmp_path / "served.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return load_served(path)


FEATURES = ["purchases_30d", "days_since_last_purchase", "price", "hour_of_day", "day_of_week"]


def _offline(served, defaults=None):
    return offline_features(served, USERS, PRODUCTS, ["purchases_30d", "days_since_last_purchase"], ["price"], defaults)


def test_consistent_serving_has_no_skew(tmp_path):
    served = _log(tmp_path)
    report = skew_report(served, _offline(served, {"days_since_last_purchase": 999.0}), FEATURES)
    assert skewed_features(report) == [] and (report.compared == 3).all()


def test_time_zone_bug_is_caught(tmp_path):
    served = _log(tmp_path, hour_shift=-5)  # hours computed in New York instead of UTC
    report = skew_report(served, _offline(served, {"days_since_last_purchase": 999.0}), FEATURES)
    assert skewed_features(report) == ["day_of_week", "hour_of_day"]
    assert report.loc["hour_of_day", "mismatch_rate"] == 1.0
    assert report.loc["day_of_week", "mismatches"] == 1  # only the 03:00 UTC request crosses midnight


def test_unshared_default_shows_as_skew(tmp_path):
    served = _log(tmp_path)
    report = skew_report(served, _offline(served), FEATURES)
    assert skewed_features(report) == ["days_since_last_purchase"]
    assert "999.0" in report.loc["days_since_last_purchase", "example"]


def test_empty_log_is_a_clear_error(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    with pytest.raises(ValueError, match="no served vectors"):
        load_served(tmp_path / "e.jsonl")
