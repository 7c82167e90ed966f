"""The Redis feature sink on a real Redis: idempotent under replay, never overwritten by stale updates."""

from __future__ import annotations

import pytest

from streaming import keys
from streaming.sinks import RedisFeatureSink, guard_field

pytestmark = pytest.mark.stack


def _update(count, ts, group="state"):
    return {"_group": group, keys.PURCHASE_COUNT: count, keys.PURCHASE_AMOUNT: count * 2.5, keys.LAST_EVENT_TS: ts}


@pytest.fixture
def sink(lab_settings, run_id):
    from labkit.clients import redis_client

    r = redis_client(lab_settings)
    s = RedisFeatureSink(
        lambda: redis_client(lab_settings),
        input_topic=f"t-{run_id}",
        key_prefix=f"t{run_id}:user:",
        ttl_s=600,
        metrics_prefix=f"t{run_id}:m:",
    )
    s.setup()
    yield s, r
    for k in r.scan_iter(match=f"t{run_id}:*"):
        r.delete(k)


def test_a_replayed_batch_is_refused_and_changes_nothing(sink):
    s, r = sink
    for offset, count in ((10, 1), (11, 2), (12, 3)):
        s.add(_update(count, 1000 + offset), b"7", 0, None, "t", 0, offset)
    s.flush()
    key = keys.user_key(7, s.key_prefix)
    first = keys.parse_user_features(r.hgetall(key))
    assert (first[keys.PURCHASE_COUNT], first[guard_field(s.input_topic, "state")]) == (3, "12")
    assert s.applied == 1 and 0 < r.ttl(key) <= 600

    for offset, count in ((10, 1), (11, 2), (12, 3)):  # the same records again, after a crash
        s.add(_update(count, 1000 + offset), b"7", 0, None, "t", 0, offset)
    s.flush()
    assert s.skipped == 1 and s.applied == 1
    again = keys.parse_user_features(r.hgetall(key))
    assert {k: v for k, v in again.items() if k != keys.UPDATED_TS} == {
        k: v for k, v in first.items() if k != keys.UPDATED_TS
    }


def test_an_older_update_never_overwrites_a_newer_one_and_groups_are_guarded_separately(sink):
    s, r = sink
    s.add(_update(5, 5000), b"8", 0, None, "t", 1, 50)
    s.flush()
    s.add(_update(4, 4000), b"8", 0, None, "t", 1, 40)  # stale: an earlier offset arriving late
    s.add(
        {"_group": "tumbling", keys.CLICKS_1H: 9, keys.CLICKS_1H_START: 0, keys.CLICKS_1H_END: 3_600_000},
        b"8",
        0,
        None,
        "t",
        1,
        30,
    )  # another feature group, with its own guard
    s.flush()
    got = keys.parse_user_features(r.hgetall(keys.user_key(8, s.key_prefix)))
    assert got[keys.PURCHASE_COUNT] == 5 and got[keys.CLICKS_1H] == 9


def test_freshness_samples_are_recorded_for_state_updates(sink):
    import time

    s, r = sink
    now = int(time.time() * 1000)
    s.add(_update(1, now - 250), b"9", 0, None, "t", 0, 1)
    s.flush()
    samples = [int(x) for x in r.lrange(f"{s.metrics_prefix}freshness_ms", 0, -1)]
    assert len(samples) == 1 and 250 <= samples[0] < 250 + 5_000
