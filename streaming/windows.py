"""Event-time windows in plain Python: the reference the stream processor is tested against.

The rules are the ones quixstreams applies with its default per-key closing strategy:

* a window ``[start, end)`` holds the events with ``start <= ts < end``; tumbling windows are
  aligned on multiples of their duration, hopping windows start every ``step`` ms;
* each key has a *watermark*: the largest event time seen so far for that key;
* a window closes (its value becomes final) once ``end <= watermark - grace``;
* an event arriving for a window that is already closed is *late*: it is dropped, not counted.

So an out-of-order event is counted if it arrives within the grace period, and dropped after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

HOUR_MS = 3_600_000


def window_ranges(ts_ms: int, duration_ms: int, step_ms: int | None = None) -> list[tuple[int, int]]:
    """The ``(start, end)`` of every window that contains ``ts_ms``, oldest first."""
    if duration_ms <= 0:
        raise ValueError(f"window duration must be positive, got {duration_ms} ms")
    step = step_ms or duration_ms
    if step <= 0 or step > duration_ms:
        raise ValueError(f"hop step must be in (0, duration]; got step={step_ms} for duration={duration_ms}")
    last_start = ts_ms - ts_ms % step
    out = []
    start = last_start
    while start > ts_ms - duration_ms:
        out.append((start, start + duration_ms))
        start -= step
    return out[::-1]


@dataclass
class WindowResult:
    """What the reference model computed: window values, which are final, and the late drops."""

    values: dict[tuple[Hashable, int, int], float] = field(default_factory=dict)  # (key, start, end) -> sum
    closed: set[tuple[Hashable, int, int]] = field(default_factory=set)
    late: list[tuple[int, Hashable, int, int]] = field(default_factory=list)  # (event index, key, start, end)
    watermarks: dict[Hashable, int] = field(default_factory=dict)

    def final_values(self) -> dict[tuple[Hashable, int, int], float]:
        return {k: v for k, v in self.values.items() if k in self.closed}

    @property
    def late_event_indexes(self) -> set[int]:
        return {i for i, *_ in self.late}


def simulate_windows(
    events: Iterable[tuple[Hashable, int, float]], duration_ms: int, grace_ms: int = 0, step_ms: int | None = None
) -> WindowResult:
    """Run ``(key, ts_ms, value)`` events, in ARRIVAL order, through event-time windows with grace.

    Returns each window's sum, the set of closed windows, and the events dropped as late.
    """
    if grace_ms < 0:
        raise ValueError(f"grace must be >= 0 ms, got {grace_ms}")
    res = WindowResult()
    values: dict = defaultdict(float)
    for i, (key, ts, value) in enumerate(events):
        wm = max(ts, res.watermarks.get(key, ts))
        res.watermarks[key] = wm
        for start, end in window_ranges(ts, duration_ms, step_ms):
            if end <= wm - grace_ms:
                res.late.append((i, key, start, end))
                continue
            values[(key, start, end)] += value
    for (key, start, end), v in values.items():
        res.values[(key, start, end)] = v
        if end <= res.watermarks[key] - grace_ms:
            res.closed.add((key, start, end))
    return res


def dedupe_first(events: Iterable[dict], id_field: str = "event_id") -> list[dict]:
    """Keep the first arrival of each event id (what the processor's duplicate filter does)."""
    seen: set = set()
    out = []
    for e in events:
        if e[id_field] in seen:
            continue
        seen.add(e[id_field])
        out.append(e)
    return out
