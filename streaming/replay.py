"""Event sources for the processor: the synthetic world's raw stream, and live synthetic traffic.

* :func:`world_records` turns ``world.raw_events`` (arrival order, with the late events, duplicates,
  nulls and bad batch the generator injected) plus ``world.malformed`` into Kafka records.
* :func:`live_events` makes world-shaped events stamped with the current time, for freshness and
  throughput measurements (event time = now, so "event time -> visible in Redis" is meaningful).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd

EVENT_MIX = (("view", 0.62), ("click", 0.24), ("add_to_cart", 0.08), ("purchase", 0.06))


def iso_ms(ms: int) -> str:
    """Epoch ms -> ``2026-01-05T10:00:00.123Z`` (the replay's timestamp format)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def world_records(world, days: float | None = None, malformed: bool = True) -> list[tuple[bytes | None, bytes]]:
    """``(key, value)`` records of the world's raw stream in arrival (ingest) order.

    ``days`` keeps only events that happened in the first ``days`` days (smaller notebooks).
    Malformed records are spread evenly through the stream, keyed by nothing (they may not even
    have a user id): the processor must survive them wherever they appear.
    """
    from data_generators.traps import event_record

    raw = world.raw_events
    if days is not None:
        cutoff = world.raw_events["event_ts"].min().normalize() + pd.Timedelta(days=days)
        raw = raw[raw["event_ts"] < cutoff]
    out: list[tuple[bytes | None, bytes]] = []
    for row in raw.to_dict("records"):
        rec = event_record(row)
        out.append((str(rec["user_id"]).encode(), json.dumps(rec, separators=(",", ":")).encode()))
    if malformed and world.malformed:
        bad = list(world.malformed)
        step = max(1, len(out) // (len(bad) + 1))
        for i, m in enumerate(bad):
            out.insert(min(len(out), (i + 1) * step + i), (None, m))
    return out


def live_events(n: int, n_users: int = 1000, seed: int = 0, start_id: int = 0) -> Iterator[dict]:
    """``n`` world-shaped events; ``event_ts`` is taken when each is generated (pull them lazily)."""
    rnd = random.Random(seed)
    kinds = [k for k, _ in EVENT_MIX]
    weights = [w for _, w in EVENT_MIX]
    for i in range(start_id, start_id + n):
        kind = rnd.choices(kinds, weights)[0]
        price = round(rnd.uniform(2, 300), 2)
        qty = rnd.randint(1, 3) if kind in ("purchase", "add_to_cart") else 0
        yield {
            "event_id": f"live{seed}-{i}",
            "user_id": rnd.randint(1, n_users),
            "product_id": rnd.randint(1, 500),
            "session_id": f"ls{seed}-{i // 20}",
            "event_type": kind,
            "event_ts": iso_ms(int(time.time() * 1000)),
            "category": "books",
            "price": price,
            "quantity": qty,
            "amount": round(price * qty, 2) if kind == "purchase" else 0.0,
            "device": "mobile",
        }
