"""Drift detection per feature per day, smoothing that cuts false alarms, and alerts with severity.

The daily job a monitoring system runs:

1. ``daily_drift``: for each day and each feature, compare that day's values with a reference
   window (PSI and KS). One row per (day, feature).
2. ``drift_episodes``: a single noisy day should not page anyone. An episode is confirmed when
   the score stays above the threshold for ``min_days`` consecutive days; it is dated to its
   first day (that is when the change happened) and says on which day it was confirmed (that
   is when a human hears of it: the price of fewer false alarms is this delay).
3. ``make_alert``: turn an episode into an alert with a severity a runbook can act on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from monitoring.stats import ks_test, psi, psi_categorical

log = logging.getLogger("monitoring.drift")

# PSI bands used across the industry (and by Evidently's default PSI threshold of 0.1)
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25


def _day_index(ts: pd.Series) -> pd.Series:
    ts = pd.to_datetime(ts, utc=True)
    return ts.dt.tz_convert("UTC").dt.normalize()


def daily_drift(
    df: pd.DataFrame,
    features: Sequence[str],
    time_col: str,
    reference_days: int = 7,
    min_rows: int = 30,
    psi_bins: int | str = "sturges",
    psi_strategy: str = "combined",
) -> pd.DataFrame:
    """Score every day after the reference window against it, per feature.

    The reference is the first ``reference_days`` days of ``df`` (the quiet period a model was
    trained on). Days with fewer than ``min_rows`` values for a feature get NaN scores: a
    statistic on a handful of rows is noise, and we say so rather than alarm on it.
    PSI bins default to Evidently's choice (equal width over both samples, Sturges' rule): on a
    long-tailed feature such as a price, equal-quantile bins lump the whole tail into one bin
    and hide a shift that happens only there (notebook 13 shows both).
    Returns columns: day, feature, n, psi, ks_d, ks_p, mean, reference_mean.
    """
    missing = [c for c in [time_col, *features] if c not in df.columns]
    if missing:
        raise KeyError(f"daily_drift: columns {missing} not in the frame (it has {list(df.columns)})")
    if reference_days < 1:
        raise ValueError("reference_days must be >= 1")
    days = _day_index(df[time_col])
    first = days.min()
    ref_end = first + pd.Timedelta(days=reference_days)
    ref = df[days < ref_end]
    rows = []
    for day in sorted(days[days >= ref_end].unique()):
        cur = df[days == day]
        for feat in features:
            r, c = ref[feat].dropna(), cur[feat].dropna()
            row = {"day": day, "feature": feat, "n": len(c), "psi": np.nan, "ks_d": np.nan, "ks_p": np.nan}
            numeric = pd.api.types.is_numeric_dtype(r) and not pd.api.types.is_bool_dtype(r)
            if numeric:
                row["mean"], row["reference_mean"] = (c.mean() if len(c) else np.nan), r.mean()
            if len(c) >= min_rows and len(r) >= min_rows:
                if numeric:
                    row["psi"] = psi(r, c, bins=psi_bins, strategy=psi_strategy)
                    k = ks_test(r, c)
                    row["ks_d"], row["ks_p"] = k.statistic, k.pvalue
                else:
                    row["psi"] = psi_categorical(r, c)
            rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        raise ValueError(f"no day after the {reference_days}-day reference window; give daily_drift a longer period")
    return out


def smooth_scores(daily: pd.DataFrame, window: int = 3, score: str = "psi") -> pd.DataFrame:
    """Add ``<score>_smooth``: the trailing rolling median per feature (one wild day cannot lift it)."""
    out = daily.sort_values(["feature", "day"]).copy()
    out[f"{score}_smooth"] = out.groupby("feature")[score].transform(
        lambda s: s.rolling(window, min_periods=1).median()
    )
    return out


@dataclass(frozen=True)
class DriftEpisode:
    feature: str
    start: date  # first day above the threshold
    confirmed_on: date  # the day the persistence rule fired
    peak_score: float
    days: int


def drift_episodes(
    daily: pd.DataFrame, threshold: float = PSI_MODERATE, min_days: int = 3, score: str = "psi"
) -> list[DriftEpisode]:
    """Runs of at least ``min_days`` consecutive days with ``score > threshold``, per feature.

    ``min_days=1`` is the raw detector (every noisy day alarms); larger values trade a delay of
    ``min_days - 1`` days for far fewer false alarms. A day with no score (too few rows) breaks a run.
    """
    if min_days < 1:
        raise ValueError("min_days must be >= 1")
    episodes = []
    for feat, g in daily.sort_values("day").groupby("feature", sort=True):
        run: list[tuple[pd.Timestamp, float]] = []
        for day, value in zip(g["day"], g[score], strict=True):
            if pd.notna(value) and value > threshold:
                run.append((day, value))
                continue
            if len(run) >= min_days:
                episodes.append(_episode(feat, run, min_days))
            run = []
        if len(run) >= min_days:
            episodes.append(_episode(feat, run, min_days))
    return episodes


def _episode(feature: str, run: list, min_days: int) -> DriftEpisode:
    return DriftEpisode(feature, run[0][0].date(), run[min_days - 1][0].date(), float(max(v for _, v in run)), len(run))


@dataclass(frozen=True)
class Alert:
    severity: str  # "critical" | "warning" | "info"
    feature: str
    day: date
    score: float
    message: str
    action: str
    context: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "day": self.day.isoformat()}, default=str)


def severity_for(score: float, critical_feature: bool = False) -> str | None:
    """Map a PSI to a severity; a feature the model leans on is one level more urgent."""
    if score is None or np.isnan(score) or score <= PSI_MODERATE:
        return None
    level = "critical" if score > PSI_MAJOR else "warning"
    if critical_feature and level == "warning":
        level = "critical"
    return level


def make_alert(episode: DriftEpisode, critical_features: Iterable[str] = ()) -> Alert | None:
    """An alert for a confirmed episode (None when the score is below every band)."""
    sev = severity_for(episode.peak_score, episode.feature in set(critical_features))
    if sev is None:
        return None
    action = (
        "page the on-call: check the upstream source for this feature, compare model "
        "metrics, consider rollback or retraining"
        if sev == "critical"
        else "open a ticket: review the feature's distribution and the model's metrics this week"
    )
    msg = (
        f"drift on '{episode.feature}' since {episode.start} (PSI peak {episode.peak_score:.2f}, "
        f"{episode.days} day(s), confirmed {episode.confirmed_on})"
    )
    return Alert(
        sev,
        episode.feature,
        episode.start,
        episode.peak_score,
        msg,
        action,
        {"confirmed_on": episode.confirmed_on.isoformat(), "days": episode.days},
    )


def send_alert(alert: Alert, path: Path | None = None) -> None:
    """Emit the alert as a structured log line (and append it to ``path`` as JSON lines)."""
    line = alert.to_json()
    (log.error if alert.severity == "critical" else log.warning)(line)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as fh:
            fh.write(line + "\n")
