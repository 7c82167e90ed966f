"""The same features computed in batch, from a table of events: the yardstick for the stream.

* :func:`purchase_totals`: purchase count and amount per user (what the keyed state holds);
* :func:`click_windows`: clicks per user per 1-hour window, computed with hindsight (no lateness);
* :func:`expected_stream_clicks`: what the STREAM should report for the same windows, given the
  arrival order, the grace period and the late drops it implies (``streaming.windows`` rules).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from streaming.windows import HOUR_MS, dedupe_first, simulate_windows, window_ranges


def _ms(ts: pd.Series) -> np.ndarray:
    return ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ms]").astype("int64")


def valid_mask(raw: pd.DataFrame, max_price: float = 100_000.0) -> pd.Series:
    """Rows the processor accepts (the world's clean rule minus deduplication)."""
    return raw["product_id"].notna() & raw["price"].notna() & (raw["price"] > 0) & (raw["price"] < max_price)


def purchase_totals(events: pd.DataFrame) -> pd.DataFrame:
    """``user_id, purchase_count, purchase_amount`` over the given (clean) events; users without
    purchases are left out."""
    buys = events[events["event_type"] == "purchase"]
    out = buys.groupby("user_id").agg(purchase_count=("event_id", "size"), purchase_amount=("amount", "sum"))
    return out.reset_index()


def click_windows(events: pd.DataFrame, window_ms: int = HOUR_MS, step_ms: int | None = None) -> pd.DataFrame:
    """Clicks per ``(user_id, window_start, window_end)`` with hindsight: every click counts."""
    clicks = events[events["event_type"] == "click"]
    rows = []
    for uid, ts in zip(clicks["user_id"].to_numpy(), _ms(clicks["event_ts"]), strict=True):
        for start, end in window_ranges(int(ts), window_ms, step_ms):
            rows.append((int(uid), start, end))
    df = pd.DataFrame(rows, columns=["user_id", "window_start", "window_end"])
    return df.groupby(["user_id", "window_start", "window_end"]).size().rename("clicks").reset_index()


def expected_stream_clicks(
    raw_arrival_order: pd.DataFrame, window_ms: int = HOUR_MS, grace_ms: int = 0, step_ms: int | None = None
):
    """What the processor should emit for clicks, replaying ``raw_events`` in arrival order:
    valid rows only, first arrival of each event id, windows closed per user with ``grace_ms``.

    Returns ``(final_windows DataFrame, late_event_ids set)``.
    """
    raw = raw_arrival_order[valid_mask(raw_arrival_order)]
    events = dedupe_first(
        raw[["event_id", "user_id", "event_type", "event_ts"]].assign(ts_ms=_ms(raw["event_ts"])).to_dict("records")
    )
    clicks = [e for e in events if e["event_type"] == "click"]
    res = simulate_windows(((e["user_id"], e["ts_ms"], 1) for e in clicks), window_ms, grace_ms, step_ms)
    final = pd.DataFrame(
        [(k, s, e, int(v)) for (k, s, e), v in res.final_values().items()],
        columns=["user_id", "window_start", "window_end", "clicks"],
    )
    late_ids = {clicks[i]["event_id"] for i in res.late_event_indexes}
    return final, late_ids
