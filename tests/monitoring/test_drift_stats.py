"""KS and PSI by hand against scipy and Evidently; daily drift, smoothing and alerts on data with
a known, injected shift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from monitoring import daily_drift, drift_episodes, ks_statistic, ks_test, make_alert, psi, severity_for


@pytest.mark.parametrize("n, m, shift", [(300, 200, 0.0), (300, 200, 0.3), (5000, 4000, 0.05)])
def test_ks_matches_scipy(n, m, shift):
    rng = np.random.default_rng(n + m)
    a, b = rng.normal(0, 1, n), rng.normal(shift, 1, m)
    ours, ref = ks_test(a, b), stats.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=0.15, abs=1e-3)


def test_ks_of_identical_samples_is_zero_and_disjoint_samples_one():
    x = np.arange(100.0)
    assert ks_statistic(x, x) == 0.0
    assert ks_statistic(x, x + 1000) == 1.0


@pytest.mark.slow  # importing Evidently alone takes 6-12 s on two cores
def test_psi_matches_evidently():
    from monitoring.evidently_report import evidently_drift

    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"price": rng.lognormal(3, 0.5, 3000), "rating": rng.uniform(1, 5, 3000)})
    cur = pd.DataFrame({"price": rng.lognormal(3.3, 0.5, 1000), "rating": rng.uniform(1, 5, 1000)})
    ev = evidently_drift(ref, cur, ["price", "rating"]).set_index(["feature", "method"])["value"]
    for col in ("price", "rating"):
        assert psi(ref[col], cur[col]) == pytest.approx(ev[(col, "psi")], rel=1e-9)
        assert stats.ks_2samp(ref[col], cur[col]).pvalue == pytest.approx(ev[(col, "ks")], rel=1e-6)


def test_psi_is_zero_for_the_same_sample_and_grows_with_the_shift():
    rng = np.random.default_rng(1)
    ref = rng.normal(0, 1, 4000)
    assert psi(ref, ref) == pytest.approx(0.0, abs=1e-12)
    shifts = [psi(ref, rng.normal(s, 1, 4000), bins=10, strategy="quantile") for s in (0.0, 0.25, 0.5, 1.0)]
    assert shifts == sorted(shifts) and shifts[0] < 0.02 and shifts[-1] > 0.5


def test_psi_rejects_empty_input():
    with pytest.raises(ValueError, match="empty"):
        psi([], [1.0, 2.0])


def _days(n_days=21, drift_day=14, per_day=400, seed=3, noisy_day=None):
    rng = np.random.default_rng(seed)
    frames = []
    for d in range(n_days):
        mu = 50 * (1.3 if d >= drift_day else 1.0)
        x = rng.lognormal(np.log(mu), 0.3, per_day)
        if d == noisy_day:  # one odd day, back to normal the next
            x = x * 1.3
        ts = (
            pd.Timestamp("2026-01-05", tz="UTC")
            + pd.Timedelta(days=d)
            + pd.to_timedelta(rng.uniform(0, 86399, per_day), "s")
        )
        frames.append(pd.DataFrame({"ts": ts, "price": x, "rating": rng.uniform(1, 5, per_day)}))
    return pd.concat(frames, ignore_index=True)


def test_drift_found_on_the_right_feature_and_day_only():
    df = _days()
    daily = daily_drift(df, ["price", "rating"], "ts", reference_days=7)
    eps = drift_episodes(daily, threshold=0.1, min_days=2)
    assert [(e.feature, str(e.start)) for e in eps] == [("price", "2026-01-19")]
    clean = daily[(daily.feature == "price") & (daily.day < pd.Timestamp("2026-01-19", tz="UTC"))]
    assert (clean.psi < 0.1).all(), "no alarm expected before the injected shift"


def test_persistence_rule_ignores_a_single_odd_day():
    df = _days(noisy_day=9)
    daily = daily_drift(df, ["price"], "ts", reference_days=7)
    raw = drift_episodes(daily, threshold=0.1, min_days=1)
    smoothed = drift_episodes(daily, threshold=0.1, min_days=3)
    assert {str(e.start) for e in raw} == {"2026-01-14", "2026-01-19"}
    assert [str(e.start) for e in smoothed] == ["2026-01-19"]
    assert str(smoothed[0].confirmed_on) == "2026-01-21"


def test_daily_drift_names_missing_columns():
    with pytest.raises(KeyError, match="not_there"):
        daily_drift(_days(n_days=9), ["not_there"], "ts")


def test_alert_severity():
    assert severity_for(0.05) is None
    assert severity_for(0.15) == "warning" and severity_for(0.15, critical_feature=True) == "critical"
    assert severity_for(0.4) == "critical"
    df = _days()
    ep = drift_episodes(daily_drift(df, ["price"], "ts"), 0.1, 2)[0]
    alert = make_alert(ep)
    assert alert.severity == "critical" and alert.feature == "price" and "2026-01-19" in alert.message


@pytest.mark.slow  # importing Evidently alone takes 6-12 s on two cores
def test_psi_of_a_discrete_feature_matches_evidently():
    from monitoring.evidently_report import evidently_drift

    rng = np.random.default_rng(11)
    ref = pd.DataFrame({"qty": rng.poisson(1.0, 3000).astype(float)})
    cur = pd.DataFrame({"qty": rng.poisson(1.4, 800).astype(float)})
    ev = evidently_drift(ref, cur, ["qty"], methods=("psi",))["value"].iloc[0]
    assert psi(ref.qty, cur.qty) == pytest.approx(ev, rel=1e-9)
