"""Feature monitoring: drift statistics by hand (KS, PSI), daily drift per feature, smoothing, alerts."""

from monitoring.drift import (
    Alert,
    DriftEpisode,
    daily_drift,
    drift_episodes,
    make_alert,
    send_alert,
    severity_for,
    smooth_scores,
)
from monitoring.stats import ks_statistic, ks_test, psi, psi_categorical

__all__ = [
    "Alert",
    "DriftEpisode",
    "daily_drift",
    "drift_episodes",
    "make_alert",
    "send_alert",
    "severity_for",
    "smooth_scores",
    "ks_statistic",
    "ks_test",
    "psi",
    "psi_categorical",
]
