"""Training labels: will this user purchase in the next 24 hours?

Each example is ``(user_id, label_ts, label)`` with ``label_ts`` at a random second of a day,
so a point-in-time join matters (the day's snapshot at midnight is the latest one allowed).
``label = 1`` if the user has a purchase with ``label_ts <= event_ts < label_ts + 1 day`` in
the clean events. Label days start after a week of history and end a day before the window
ends, so every label window is fully observed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_generators.config import WorldConfig
from data_generators.simulate import DAY_MS, to_ms, ts_ms


def label_days(config: WorldConfig) -> range:
    first = min(7, max(1, config.days // 4))
    return range(first, config.days - 1)


def make_labels(
    events: pd.DataFrame, users: pd.DataFrame, config: WorldConfig, rng: np.random.Generator
) -> pd.DataFrame:
    start_ms = to_ms(config.start)
    signup_ms = ts_ms(users["signup_ts"])
    user_ids = users["user_id"].to_numpy()
    l_user, l_ms = [], []
    for d in label_days(config):
        day_ms = start_ms + d * DAY_MS
        eligible = user_ids[(signup_ms < day_ms) & (rng.random(len(user_ids)) < config.spec.label_user_fraction)]
        l_user.append(eligible)
        l_ms.append(day_ms + rng.integers(6 * 3600, 12 * 3600, len(eligible)) * 1000)
    l_user = np.concatenate(l_user) if l_user else np.array([], dtype="int64")
    l_ms = np.concatenate(l_ms) if l_ms else np.array([], dtype="int64")

    buys = events[events["event_type"] == "purchase"]
    b_ms = ts_ms(buys["event_ts"])
    shift = np.int64(1) << np.int64(42)  # epoch ms < 2**42 until the year 2109
    keys = np.sort(buys["user_id"].to_numpy().astype("int64") * shift + b_ms)
    lo = np.searchsorted(keys, l_user * shift + l_ms, side="left")
    hi = np.searchsorted(keys, l_user * shift + l_ms + DAY_MS, side="left")
    labels = pd.DataFrame(
        {
            "user_id": l_user.astype("int64"),
            "label_ts": pd.to_datetime(l_ms, unit="ms", utc=True),
            "label": (hi > lo).astype("int64"),
        }
    )
    return labels.sort_values(["label_ts", "user_id"], kind="stable").reset_index(drop=True)
