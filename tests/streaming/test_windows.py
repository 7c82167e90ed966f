"""Window math and late-event rules of streaming.windows (the reference the processor is held to)."""

import random

import pytest

from streaming.windows import HOUR_MS, dedupe_first, simulate_windows, window_ranges


def test_tumbling_window_is_aligned_and_half_open():
    assert window_ranges(0, HOUR_MS) == [(0, HOUR_MS)]
    assert window_ranges(HOUR_MS - 1, HOUR_MS) == [(0, HOUR_MS)]
    assert window_ranges(HOUR_MS, HOUR_MS) == [(HOUR_MS, 2 * HOUR_MS)]  # the end is exclusive


def test_hopping_windows_cover_the_timestamp_exactly_duration_over_step_times():
    step = 15 * 60_000
    for ts in (0, 1, step - 1, step, 7 * step + 123, 10**12 + 5):
        ranges = window_ranges(ts, HOUR_MS, step)
        assert len(ranges) == HOUR_MS // step
        assert all(s <= ts < e and e - s == HOUR_MS and s % step == 0 for s, e in ranges)
        assert ranges == sorted(ranges)


@pytest.mark.parametrize(
    "bad", [dict(duration_ms=0), dict(duration_ms=10, step_ms=20), dict(duration_ms=10, step_ms=-1)]
)
def test_bad_window_arguments_are_refused(bad):
    with pytest.raises(ValueError, match="window duration|hop step"):
        window_ranges(5, **bad)


def test_event_within_grace_is_counted_and_beyond_grace_is_dropped():
    grace = 10 * 60_000
    events = [
        ("u", 10 * 60_000, 1),  # window [0, 1h)
        ("u", HOUR_MS + 5 * 60_000, 1),  # watermark 1h05: [0,1h) still open (1h > 1h05 - 10min)
        ("u", 50 * 60_000, 1),  # late by 15 min but within grace -> counted
        ("u", HOUR_MS + 30 * 60_000, 1),  # watermark 1h30: [0,1h) closes (1h <= 1h20)
        ("u", 55 * 60_000, 1),  # beyond grace -> dropped
    ]
    res = simulate_windows(events, HOUR_MS, grace)
    assert res.values[("u", 0, HOUR_MS)] == 2
    assert res.late_event_indexes == {4}
    assert ("u", 0, HOUR_MS) in res.closed and ("u", HOUR_MS, 2 * HOUR_MS) not in res.closed


def test_watermarks_are_per_key():
    events = [("a", 3 * HOUR_MS, 1), ("b", 10, 1)]  # b is far behind a, but b's own clock is what counts
    res = simulate_windows(events, HOUR_MS, 0)
    assert not res.late and res.values[("b", 0, HOUR_MS)] == 1


def test_reference_matches_brute_force_on_random_streams():
    rnd = random.Random(7)
    grace, step = 20 * 60_000, 30 * 60_000
    events = [(rnd.choice("xyz"), rnd.randint(0, 6 * HOUR_MS), 1) for _ in range(400)]
    res = simulate_windows(events, HOUR_MS, grace, step)
    # brute force: an event is late for a window iff that window's end <= (max ts seen so far for its key) - grace
    seen: dict = {}
    expect: dict = {}
    late = 0
    for key, ts, _ in events:
        seen[key] = max(ts, seen.get(key, ts))
        for s in range(-HOUR_MS + step, 7 * HOUR_MS, step):
            if s <= ts < s + HOUR_MS:
                if s + HOUR_MS <= seen[key] - grace:
                    late += 1
                else:
                    expect[(key, s, s + HOUR_MS)] = expect.get((key, s, s + HOUR_MS), 0) + 1
    assert res.values == expect
    assert len(res.late) == late


def test_dedupe_keeps_the_first_arrival():
    out = dedupe_first([{"event_id": "a", "n": 1}, {"event_id": "b", "n": 2}, {"event_id": "a", "n": 3}])
    assert [e["n"] for e in out] == [1, 2]
