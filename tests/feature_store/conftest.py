"""Shared fixtures of the feature-store tests: a tiny hand-made snapshot table, and the stack store."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

# feature_repo is a top-level folder of the repo; make it importable even before it is packaged.
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.append(str(REPO))


@pytest.fixture
def snapshots() -> pd.DataFrame:
    """Two users, daily snapshots at midnight; user 2 stops after day 2."""
    day = pd.Timestamp("2026-01-06", tz="UTC")
    rows = []
    for d in range(4):
        rows.append(
            {"user_id": 1, "event_timestamp": day + pd.Timedelta(days=d), "purchases_7d": 10 + d, "cat": f"c{d}"}
        )
    for d in range(2):
        rows.append({"user_id": 2, "event_timestamp": day + pd.Timedelta(days=d), "purchases_7d": 20 + d, "cat": None})
    df = pd.DataFrame(rows)
    df["created"] = df["event_timestamp"] + pd.Timedelta(minutes=10)
    return df


@pytest.fixture(scope="session")
def feast_store(lab_settings, small_world):
    """The lab's Feast store on the test stack, definitions applied."""
    from feature_repo import setup_feature_store

    return setup_feature_store(scale="small", seed=42, settings=lab_settings)
