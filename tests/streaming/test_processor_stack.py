"""The stream processor against the real stack: features, dead letters, late events, crashes.

Each test runs the processor as its own OS process (``streaming.runner``), on topics and Redis
keys named for the test, so tests never see each other's data.
"""

from __future__ import annotations

import collections
import os
import time

import pandas as pd
import pytest

from labkit import processes
from streaming import keys
from streaming.batch import expected_stream_clicks, purchase_totals, valid_mask
from streaming.replay import world_records
from streaming.runner import (
    ProcessorProcess,
    ensure_topic,
    produce_events,
    read_topic,
    start_processor,
    wait_for_offsets,
)

pytestmark = [pytest.mark.stack, pytest.mark.slow]

DAYS = 3
GRACE_S = 900


def _topics(run_id):
    return {"input_topic": f"t-ev-{run_id}", "features_topic": f"t-feat-{run_id}", "dlq_topic": f"t-dlq-{run_id}"}


def _world_slice(world, days=DAYS):
    cutoff = world.raw_events["event_ts"].min().normalize() + pd.Timedelta(days=days)
    raw = world.raw_events[world.raw_events["event_ts"] < cutoff]
    clean = world.events[world.events["event_id"].isin(set(raw["event_id"]))]
    return raw, clean


def _redis_features(settings, user_ids, prefix):
    from labkit.clients import redis_client

    r = redis_client(settings)
    pipe = r.pipeline()
    for u in user_ids:
        pipe.hgetall(keys.user_key(u, prefix))
    return {u: keys.parse_user_features(h) for u, h in zip(user_ids, pipe.execute(), strict=True)}


@pytest.fixture
def processor(lab_settings, run_id):
    """Start processors for this test; stops whatever is still running afterwards."""
    started: list[ProcessorProcess] = []

    def start(**kw):
        args = {**_topics(run_id), "group": f"t-{run_id}", "key_prefix": f"t{run_id}:user:", "grace_s": GRACE_S, **kw}
        p = start_processor(settings=lab_settings, **args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def test_replayed_world_gives_batch_features_dead_letters_and_late_drops(lab_settings, small_world, run_id, processor):
    raw, clean = _world_slice(small_world)
    t = _topics(run_id)
    ensure_topic(t["input_topic"], 4, lab_settings)
    offsets = produce_events(t["input_topic"], world_records(small_world, days=DAYS), lab_settings)
    proc = processor()
    wait_for_offsets(proc, t["input_topic"], offsets, timeout=180)
    assert proc.stop() == 0, proc.log_tail()

    # keyed state == the batch computation on the clean table (dedupe + validation agree)
    expected = purchase_totals(clean).set_index("user_id")
    got = _redis_features(lab_settings, list(expected.index), f"t{run_id}:user:")
    wrong = {
        u: (got[u].get(keys.PURCHASE_COUNT), int(row.purchase_count))
        for u, row in expected.iterrows()
        if got[u].get(keys.PURCHASE_COUNT) != row.purchase_count
        or abs(got[u].get(keys.PURCHASE_AMOUNT, 0) - row.purchase_amount) > 1e-6
    }
    assert not wrong, f"Redis purchase totals differ from batch for {len(wrong)} users: {list(wrong.items())[:5]}"
    some = got[expected.index[0]]
    from labkit.clients import redis_client

    ttl = redis_client(lab_settings).ttl(keys.user_key(expected.index[0], f"t{run_id}:user:"))
    assert 0 < ttl <= keys.STREAM_FEATURE_TTL_S and keys.UPDATED_TS in some

    # dead letters: every malformed record, null-holed row and bad-batch row, each with its reason
    dlq = read_topic(t["dlq_topic"], lab_settings)
    invalid_rows = int((~valid_mask(raw)).sum())
    reasons = collections.Counter(m["value"]["reason"].split(":")[0] for m in dlq)
    assert len({(m["partition"], m["offset"]) for m in dlq}) == len(dlq)
    distinct = {(m["value"]["partition"], m["value"]["offset"]) for m in dlq}
    assert len(distinct) == len(small_world.malformed) + invalid_rows, reasons
    assert reasons["bad_json"] == small_world.ground_truth["malformed"]["kinds"]["bad_json"]

    # windows: the last closed tumbling window per user, and the late drops, as the rules predict
    final, late_ids = expected_stream_clicks(raw, grace_ms=GRACE_S * 1000)
    last = final.sort_values("window_end").groupby("user_id").tail(1).set_index("user_id")
    got = _redis_features(lab_settings, list(last.index), f"t{run_id}:user:")
    bad_windows = [
        (u, got[u].get("clicks_1h_end"), got[u].get(keys.CLICKS_1H), int(row.window_end), int(row.clicks))
        for u, row in last.iterrows()
        if int(got[u].get("clicks_1h_end", 0)) != row.window_end or got[u].get(keys.CLICKS_1H) != row.clicks
    ]
    assert not bad_windows, bad_windows[:5]
    got_late = {m.decode() for m in redis_client(lab_settings).smembers(f"{proc.metrics_prefix}late_ids")}
    assert got_late == late_ids
    # and against the generator's ground truth: nothing dropped that was not injected late,
    # and every injected late click delayed by less than the grace period was counted
    truth_late = set(small_world.ground_truth["late_events"]["event_ids"])
    assert got_late <= truth_late
    delay = (raw["ingest_ts"] - raw["event_ts"]).dt.total_seconds()
    within = set(raw.loc[raw["event_id"].isin(truth_late) & (delay < GRACE_S), "event_id"])
    assert not (within & got_late)
    assert len(got_late) > 0, "the slice should contain clicks later than the grace period"


def _kill_restart_counts(lab_settings, world, run_id, processor, guarantee, kills=(0.3, 0.65)):
    raw, clean = _world_slice(world)
    t = _topics(run_id)
    ensure_topic(t["input_topic"], 4, lab_settings)
    offsets = produce_events(t["input_topic"], world_records(world, days=DAYS), lab_settings)
    total = sum(o + 1 for o in offsets.values())
    proc = processor(guarantee=guarantee)
    for frac in kills:
        deadline = time.monotonic() + 120
        while sum(o + 1 for o in proc.progress(t["input_topic"]).values()) < frac * total:
            assert time.monotonic() < deadline, proc.log_tail()
            time.sleep(0.01)
        proc.kill()  # SIGKILL mid-stream: no checkpoint, no flush
        proc = processor(guarantee=guarantee)
    wait_for_offsets(proc, t["input_topic"], offsets, timeout=240)
    assert proc.stop() == 0

    expected = purchase_totals(clean).set_index("user_id")
    got = _redis_features(lab_settings, list(expected.index), f"t{run_id}:user:")
    redis_lost = sum(max(0, int(r.purchase_count) - got[u].get(keys.PURCHASE_COUNT, 0)) for u, r in expected.iterrows())
    redis_double = sum(
        max(0, got[u].get(keys.PURCHASE_COUNT, 0) - int(r.purchase_count)) for u, r in expected.iterrows()
    )
    amount_off = max(abs(got[u].get(keys.PURCHASE_AMOUNT, 0) - r.purchase_amount) for u, r in expected.iterrows())

    updates = collections.defaultdict(list)
    for m in read_topic(t["features_topic"], lab_settings):
        v = m["value"]
        if v["feature_group"] == "state":
            updates[v["user_id"]].append(v[keys.PURCHASE_COUNT])
    topic_lost = sum(
        len(set(range(1, int(r.purchase_count) + 1)) - set(updates.get(u, []))) for u, r in expected.iterrows()
    )
    topic_repeats = sum(len(s) - len(set(s)) for s in updates.values())
    return dict(
        redis_lost=redis_lost,
        redis_double=redis_double,
        amount_off=amount_off,
        topic_lost=topic_lost,
        topic_repeats=topic_repeats,
        expected_updates=int(expected.purchase_count.sum()),
    )


@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once"])
def test_kill_minus_9_twice_loses_nothing_and_double_counts_nothing(
    lab_settings, small_world, run_id, processor, guarantee
):
    c = _kill_restart_counts(lab_settings, small_world, run_id, processor, guarantee)
    assert c["redis_lost"] == 0 and c["redis_double"] == 0 and c["amount_off"] < 1e-6, c
    assert c["topic_lost"] == 0, c  # every purchase update reached the features topic
    # With at-least-once, re-emitted records of the crashed attempt may show on the topic: they
    # repeat an update, they never change a count (downstream dedupes on (user_id, purchase_count)
    # and the Redis sink refuses them by offset). With exactly-once, the crashed attempt's
    # transaction is aborted and a read_committed reader sees none of it.
    if guarantee == "exactly-once":
        assert c["topic_repeats"] == 0, c


def test_processor_runs_as_its_own_process_and_stops_by_pid(lab_settings, run_id, processor):
    proc = processor()
    assert proc.alive() and proc.pid != os.getpid()
    assert processes.read_pid_file(proc.pid_path)[0] == proc.pid
    with pytest.raises(RuntimeError, match="already runs as pid"):
        processor()
    assert proc.stop() == 0
    assert not proc.alive() and not proc.pid_path.exists()
    again = processor()
    again.kill()
    assert not again.alive() and again.popen.returncode == -9


def test_bad_arguments_exit_with_a_clear_message(lab_settings, run_id):
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "streaming.processor",
            "--input-topic",
            "a",
            "--features-topic",
            "a",
            "--dlq-topic",
            "b",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "three different topics" in out.stderr
