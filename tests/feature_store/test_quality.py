"""Feature statistics, baselines and their comparison; v2 feature logic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from feature_repo import quality, versions


def test_describe_counts_missing_and_cardinality():
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan, 3.0], "c": ["a", "b", "a", None], "flag": [True, False, True, True]})
    s = quality.describe(df, ["x", "c", "flag"])
    assert s.loc["x", "mean"] == 2.0 and s.loc["x", "missing_pct"] == 25.0 and s.loc["x", "count"] == 3
    assert s.loc["c", "cardinality"] == 2 and np.isnan(s.loc["c", "mean"])
    assert s.loc["flag", "cardinality"] == 2
    with pytest.raises(KeyError, match="no column 'y'"):
        quality.describe(df, ["y"])


def test_entity_grid_is_every_key_at_every_tick():
    g = quality.entity_grid([1, 2, 2, 3], "user_id", "2026-01-01", "2026-01-03")
    assert len(g) == 9 and str(g.event_timestamp.dt.tz) == "UTC"
    with pytest.raises(ValueError, match="widen"):
        quality.entity_grid([1], "user_id", "2026-01-03", "2026-01-01")


def test_compare_flags_mean_shift_and_missing_jump_only():
    base = quality.describe(pd.DataFrame({"p": np.linspace(10, 20, 100), "q": np.linspace(0, 1, 100)}), ["p", "q"])
    now_df = pd.DataFrame({"p": np.linspace(10, 20, 100) * 1.3, "q": np.linspace(0, 1, 100)})
    now_df.loc[:20, "q"] = np.nan
    report = quality.compare(quality.describe(now_df, ["p", "q"]), base)
    assert report.loc["p", "alert"] and round(report.loc["p", "mean_change_pct"]) == 30
    assert report.loc["q", "alert"] and report.loc["q", "missing_pct_delta"] > 20
    calm = quality.compare(base, base)
    assert not calm["alert"].any()


def test_baseline_round_trip(tmp_path):
    stats = quality.describe(pd.DataFrame({"p": [1.0, 2.0, 4.0]}), ["p"])
    stats.attrs.update(start="2026-01-01", end="2026-01-14")
    loaded = quality.load_baseline(quality.save_baseline(stats, tmp_path / "b" / "base.json"))
    assert loaded.loc["p", "mean"] == pytest.approx(7 / 3) and loaded.attrs["start"] == "2026-01-01"


def test_v2_average_is_never_null_and_shrinks_towards_the_day_mean():
    t = pd.Timestamp("2026-01-06", tz="UTC")
    uf = pd.DataFrame(
        {
            "user_id": [1, 2, 3],
            "event_timestamp": t,
            "created": t,
            "purchases_7d": [0, 1, 10],
            "purchases_30d": [0, 1, 10],
            "avg_purchase_value_30d": [np.nan, 500.0, 20.0],
            "ctr_7d": 0.1,
            "days_since_last_purchase": 1.0,
            "views_1d": 1,
        }
    )
    v2 = versions.build_user_stats_v2(uf).set_index("user_id")["avg_purchase_value_30d"]
    prior = (500 + 200) / 11
    assert v2.notna().all() and v2[1] == pytest.approx(prior)
    assert prior < v2[2] < 500 and abs(v2[3] - 20) < abs(v2[2] - 500)  # one purchase moves less than ten
    with pytest.raises(ValueError, match="lacks"):
        versions.build_user_stats_v2(uf.drop(columns="created"))
