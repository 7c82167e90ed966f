"""Data-quality traps: turn the true events into what a pipeline really receives.

``inject_traps`` returns the raw stream (late, duplicated, null-holed, one bad batch), the
malformed records, the clean table and ``ground_truth``: exactly what was injected where, so a
check can compare what it found against what is there.

The clean table follows one rule a pipeline can reproduce from ``raw_events``:
deduplicate by ``event_id`` (keep the first arrival), then drop rows with a null ``product_id``
or ``price`` and rows with an invalid price (``price <= 0`` or ``price >= MAX_VALID_PRICE``).
Late events stay in the clean table, with their true ``event_ts``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from data_generators.config import DRIFT_CATEGORIES, DRIFT_PRICE_FACTOR, WorldConfig
from data_generators.simulate import HOUR_MS, to_ms, ts_ms

LATE_FRACTION = 0.012  # share of events that arrive late (mobile twice as often: offline sync)
LATE_MIN_S, LATE_MAX_S = 300, 7_200
DUPLICATE_FRACTION = 0.004
NULL_FRACTION = 0.0025
MALFORMED_FRACTION = 0.001
MALFORMED_MIN = 12
BAD_BATCH_HOURS = (12, 14)  # [12:00, 14:00) UTC of the bad-batch day
ABSURD_PRICE = 999_999.99
MAX_VALID_PRICE = 100_000.0

REPLAY_FIELDS = ["event_id", "user_id", "product_id", "session_id", "event_type", "event_ts",
                 "category", "price", "quantity", "amount", "device"]  # fmt: skip


def _pick(rng: np.random.Generator, candidates: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(candidates))
    return np.sort(rng.choice(candidates, k, replace=False)) if k else np.array([], dtype="int64")


def inject_traps(config: WorldConfig, true_events: pd.DataFrame, rng: np.random.Generator):
    """-> (events, raw_events, malformed: list[bytes], ground_truth: dict)."""
    traps = config.traps
    n = len(true_events)
    ev = true_events
    t_ms = ts_ms(ev["event_ts"])
    ingest_ms = ts_ms(ev["ingest_ts"])
    truth: dict = {"seed": config.seed, "scale": config.scale, "start": config.start.isoformat(),
                   "end": config.end.isoformat(), "days": config.days}  # fmt: skip
    taken = np.zeros(n, dtype=bool)  # rows already used by a trap (one trap per event keeps counts exact)

    # -- drift (already in the prices: simulate.price_multiplier) -----------------------------
    if traps.drift:
        after = t_ms >= to_ms(config.drift_day)
        views = (ev["event_type"] == "view").to_numpy()
        median_before = float(ev.loc[views & ~after, "price"].median()) if (views & ~after).any() else None
        median_after = float(ev.loc[views & after, "price"].median()) if (views & after).any() else None
        truth["drift"] = {
            "feature": "price",
            "start": config.drift_day.isoformat(),
            "categories": list(DRIFT_CATEGORIES),
            "factor": DRIFT_PRICE_FACTOR,
            "tables": ["events", "raw_events", "product_features"],
            "median_view_price_before": _r(median_before),
            "median_view_price_after": _r(median_after),
            "description": (
                f"From {config.drift_day} 00:00 UTC a store-wide pricing change multiplies every price by "
                f"{DRIFT_PRICE_FACTOR}: the distribution of price in events (and product_features.price) shifts "
                "from that day on, and price-sensitive (bargain) users click and buy less."
            ),
        }

    # -- late events ---------------------------------------------------------------------
    if traps.late_events:
        mobile = (ev["device"] == "mobile").to_numpy()
        weight = np.where(mobile, 2.0, 1.0)
        k = int(round(n * LATE_FRACTION))
        # weighted sampling without replacement (Efraimidis-Spirakis): the k smallest Exp(1)/weight
        keys = rng.exponential(1.0, n) / weight
        k = min(k, n)
        late = np.sort(np.argpartition(keys, k - 1)[:k]) if k else np.array([], dtype="int64")
        delay = rng.integers(LATE_MIN_S * 1000, LATE_MAX_S * 1000, len(late))
        ingest_ms = ingest_ms.copy()
        ingest_ms[late] = t_ms[late] + delay
        taken[late] = True
        truth["late_events"] = {
            "count": int(len(late)),
            "event_ids": ev["event_id"].to_numpy()[late].tolist(),
            "min_delay_s": LATE_MIN_S,
            "max_delay_s": int(delay.max() // 1000) if len(late) else 0,
            "description": f"ingest_ts = event_ts + {LATE_MIN_S}..{LATE_MAX_S} s (mobile twice as likely); "
            "they stay in the clean events with their true event_ts",
        }

    # The raw table is built from numpy columns and ONE final row take (no frame copies per trap):
    # at the large scale every copy of the events costs about a gigabyte.
    product_id = pd.array(ev["product_id"].to_numpy(), dtype="Int64")
    price = ev["price"].to_numpy().copy()
    amount = ev["amount"].to_numpy().copy()
    drop = np.zeros(n, dtype=bool)  # rows the clean table will not contain

    # -- nulls ---------------------------------------------------------------------------
    if traps.nulls:
        rows = _pick(rng, np.flatnonzero(~taken), max(1, int(round(n * NULL_FRACTION))))
        kind = rng.choice(3, len(rows), p=[0.5, 0.35, 0.15])  # product_id / price / both
        pid_null = rows[kind != 1]
        price_null = rows[kind != 0]
        product_id[pid_null] = pd.NA
        price[price_null] = np.nan
        taken[rows] = True
        drop[rows] = True
        truth["nulls"] = {
            "count": int(len(rows)),
            "event_ids": ev["event_id"].to_numpy()[rows].tolist(),
            "columns": ["product_id", "price"],
            "per_column": {"product_id": int(len(pid_null)), "price": int(len(price_null))},
            "description": "product_id and/or price missing; these events are not in the clean table",
        }

    # -- bad batch -----------------------------------------------------------------------
    if traps.bad_batch:
        day_ms = to_ms(config.bad_batch_day)
        lo, hi = day_ms + BAD_BATCH_HOURS[0] * HOUR_MS, day_ms + BAD_BATCH_HOURS[1] * HOUR_MS
        rows = np.flatnonzero((t_ms >= lo) & (t_ms < hi) & ~taken)
        negative = rng.random(len(rows)) < 0.5
        price[rows[negative]] = -price[rows[negative]]
        price[rows[~negative]] = ABSURD_PRICE
        qty = ev["quantity"].to_numpy()
        is_buy = ev["event_type"].to_numpy()[rows] == "purchase"
        amount[rows] = np.where(is_buy, np.round(price[rows] * qty[rows], 2), 0.0)
        taken[rows] = True
        drop[rows] = True
        truth["bad_batch"] = {
            "date": config.bad_batch_day.isoformat(),
            "hours_utc": list(BAD_BATCH_HOURS),
            "count": int(len(rows)),
            "event_ids": ev["event_id"].to_numpy()[rows].tolist(),
            "kinds": {"negative_price": int(negative.sum()), "absurd_price": int((~negative).sum())},
            "absurd_price": ABSURD_PRICE,
            "valid_price_range": [0.0, MAX_VALID_PRICE],
            "description": (
                f"every event with event_ts in [{BAD_BATCH_HOURS[0]}:00, {BAD_BATCH_HOURS[1]}:00) UTC on "
                f"{config.bad_batch_day} has a negative price or the absurd price {ABSURD_PRICE} (amount follows); "
                f"a valid price is > 0 and < {MAX_VALID_PRICE:.0f}; these events are not in the clean table"
            ),
        }

    # -- duplicates (a producer retry: same record, arrives again a little later) --------------
    take = np.arange(n)
    arrival = ingest_ms
    if traps.duplicates:
        rows = _pick(rng, np.flatnonzero(~taken), max(1, int(round(n * DUPLICATE_FRACTION))))
        take = np.concatenate([take, rows])
        arrival = np.concatenate([ingest_ms, ingest_ms[rows] + rng.integers(200, 30_000, len(rows))])
        taken[rows] = True
        truth["duplicates"] = {
            "count": int(len(rows)),
            "event_ids": ev["event_id"].to_numpy()[rows].tolist(),
            "description": "each listed event_id appears twice in raw_events (second copy 0.2-30 s later)",
        }

    # arrival order; ties by event number (== event_id order), duplicates after their original
    order = np.lexsort((take, arrival))
    take, arrival = take[order], arrival[order]
    base = ev.drop(columns=["ingest_ts", "product_id", "price", "amount"])
    raw = base.take(take).reset_index(drop=True)
    raw["ingest_ts"] = pd.to_datetime(arrival, unit="ms", utc=True)
    raw["product_id"] = product_id.take(take)
    raw["price"] = price[take]
    raw["amount"] = amount[take]
    raw = raw[list(ev.columns)]
    del base
    keep = np.flatnonzero(~drop)
    clean = ev.take(keep).reset_index(drop=True)
    clean["ingest_ts"] = pd.to_datetime(ingest_ms[keep], unit="ms", utc=True)

    malformed: list[bytes] = []
    if traps.malformed:
        malformed, kinds = make_malformed(ev, rng, max(MALFORMED_MIN, int(round(n * MALFORMED_FRACTION))))
        truth["malformed"] = {
            "count": len(malformed),
            "kinds": kinds,
            "description": "records that are not valid events: bad JSON, wrong types, missing fields; "
            "in malformed.jsonl (one per line) and mixed into the Kafka replay on request",
        }
    truth["counts"] = {"true_events": int(n), "raw_events": int(len(raw)), "events": int(len(clean)),
                       "malformed": len(malformed)}  # fmt: skip
    truth["clean_rule"] = (
        "events = raw_events deduplicated by event_id (first arrival), minus rows with null product_id or "
        f"price, minus rows with price <= 0 or price >= {MAX_VALID_PRICE:.0f}"
    )
    return clean, raw, malformed, truth


def _r(x):
    return None if x is None else round(x, 4)


def event_record(row: dict) -> dict:
    """The JSON form of an event (Kafka replay, malformed.jsonl): ISO-8601 UTC times, ms precision."""
    out = {}
    for k in REPLAY_FIELDS:
        v = row[k]
        if k == "event_ts":
            v = pd.Timestamp(v).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        elif isinstance(v, (np.integer,)):
            v = int(v)
        elif isinstance(v, (np.floating, float)):
            v = None if np.isnan(v) else float(v)
        elif v is pd.NA:
            v = None
        out[k] = v
    return out


def event_records(frame: pd.DataFrame) -> list[dict]:
    """Vectorised :func:`event_record` for a whole frame (same output, much faster)."""
    out = frame[REPLAY_FIELDS].copy()
    out["event_ts"] = out["event_ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
    out = out.astype({"product_id": object, "price": object, "amount": object})
    out = out.where(frame[REPLAY_FIELDS].notna(), None)
    return out.to_dict("records")


def make_malformed(ev: pd.DataFrame, rng: np.random.Generator, count: int) -> tuple[list[bytes], dict[str, int]]:
    """Broken copies of real-looking events, with their own ids (``m...``), never valid."""
    if len(ev) == 0:
        return [], {"bad_json": 0, "wrong_type": 0, "missing_field": 0}
    rows = rng.choice(len(ev), count, replace=len(ev) < count)
    kinds = np.array(["bad_json", "wrong_type", "missing_field"])[np.arange(count) % 3]
    out = []
    for i, (r, kind) in enumerate(zip(rows, kinds, strict=True)):
        rec = event_record(ev.iloc[int(r)].to_dict())
        rec["event_id"] = f"m{i + 1:09d}"
        if kind == "bad_json":
            text = json.dumps(rec, separators=(",", ":"))
            cut = int(rng.integers(10, len(text) - 5))
            out.append(text[:cut].encode())
            continue
        if kind == "wrong_type":
            variant = i // 3 % 3
            if variant == 0:
                rec["user_id"] = f"user-{rec['user_id']}"
            elif variant == 1:
                rec["price"] = f"{rec['price']:.2f}".replace(".", ",") if rec["price"] is not None else "n/a"
            else:
                # an object where a timestamp string belongs (epoch numbers are not "wrong": parsers may accept them)
                rec["event_ts"] = {"epoch_s": int(pd.Timestamp(rec["event_ts"]).timestamp())}
        else:
            field = ["event_type", "user_id", "event_ts"][i // 3 % 3]
            del rec[field]
        out.append(json.dumps(rec, separators=(",", ":")).encode())
    counts = {k: int((kinds == k).sum()) for k in ["bad_json", "wrong_type", "missing_field"]}
    return out, counts
