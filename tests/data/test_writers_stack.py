"""Writers against the test stack: S3 raw-lake layout, Delta read-back, Kafka replay counts."""

from __future__ import annotations

import json
import re
import time
import uuid

import pandas as pd
import pyarrow.dataset as ds
import pytest

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def short_world(worlds_dir):
    """Four days keep the raw-lake test to ~100 objects; the layout code is the same."""
    from data_generators import ensure_world

    return ensure_world("small", 42, days=4, data_dir=worlds_dir)


def test_raw_lake_layout_and_round_trip(short_world, lab_settings):
    world = short_world
    from data_generators.writers import write_raw_lake
    from labkit.clients import pyarrow_s3, s3_client

    out = write_raw_lake(world, lab_settings)
    s3 = s3_client(lab_settings)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=lab_settings.bucket_lake, Prefix="raw/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    event_keys = [k for k in keys if k.startswith("raw/events/")]
    pattern = re.compile(r"raw/events/dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})/part-0\.parquet")
    assert all(pattern.fullmatch(k) for k in event_keys), [k for k in event_keys if not pattern.fullmatch(k)][:3]
    raw = world.raw_events
    hours = set(zip(raw["event_ts"].dt.strftime("%Y-%m-%d"), raw["event_ts"].dt.strftime("%H"), strict=True))
    assert {pattern.fullmatch(k).groups() for k in event_keys} == hours
    assert "raw/users/part-0.parquet" in keys and "raw/products/part-0.parquet" in keys
    assert out["files"] == len(event_keys) + 2 and out["rows"] == len(world.raw_events)

    fs = pyarrow_s3(lab_settings)
    back = ds.dataset(f"{lab_settings.bucket_lake}/raw/events", filesystem=fs, format="parquet",
                      partitioning="hive").to_table().to_pandas()  # fmt: skip
    assert len(back) == len(raw)
    assert sorted(back["event_id"]) == sorted(raw["event_id"])  # duplicates included
    assert (back["event_ts"].dt.strftime("%Y-%m-%d") == back["dt"].astype(str)).all()
    assert (back["event_ts"].dt.hour == back["hour"].astype(int)).all()
    users = ds.dataset(f"{lab_settings.bucket_lake}/raw/users", filesystem=fs).to_table().to_pandas()
    pd.testing.assert_frame_equal(users.astype({"signup_ts": "datetime64[ns, UTC]"}), world.users)


def test_delta_tables_read_back_and_time_travel(world, lab_settings):
    from deltalake import DeltaTable

    from data_generators.writers import write_delta_tables
    from labkit.clients import delta_storage_options

    opts = delta_storage_options(lab_settings)
    uris = write_delta_tables(world, lab_settings, tables=("events", "users"))
    table = DeltaTable(uris["events"], storage_options=opts)
    assert table.metadata().partition_columns == ["dt"]
    events = table.to_pandas()
    assert len(events) == len(world.events)
    assert set(events["event_id"]) == set(world.events["event_id"])
    assert (events["event_ts"].dt.strftime("%Y-%m-%d") == events["dt"]).all()
    day = world.events["event_ts"].dt.strftime("%Y-%m-%d").iloc[0]
    one_day = table.to_pandas(filters=[("dt", "=", day)])
    assert len(one_day) == (world.events["event_ts"].dt.strftime("%Y-%m-%d") == day).sum()
    # writing again is a new version; the old one stays readable
    v = table.version()
    write_delta_tables(world, lab_settings, tables=("events",))
    table = DeltaTable(uris["events"], storage_options=opts)
    assert table.version() == v + 1
    table.load_as_version(v)
    assert len(table.to_pandas()) == len(world.events)
    assert len(DeltaTable(uris["users"], storage_options=opts).to_pandas()) == len(world.users)


def _consume_all(topic, settings, expect, timeout=60):
    from labkit.clients import kafka_consumer

    consumer = kafka_consumer(topic, group_id=f"test-{uuid.uuid4().hex[:8]}", settings=settings,
                              consumer_timeout_ms=3000)  # fmt: skip
    got, deadline = [], time.monotonic() + timeout
    try:
        while len(got) < expect and time.monotonic() < deadline:
            for msg in consumer:
                got.append(msg)
                if len(got) >= expect:
                    break
        # anything beyond the expected count would be a bug: read a little longer
        extra = consumer.poll(timeout_ms=1500)
        got.extend(m for batch in extra.values() for m in batch)
    finally:
        consumer.close()
    return got


def test_kafka_replay_counts_keys_and_malformed(world, lab_settings):
    from data_generators.traps import event_record
    from data_generators.writers import replay_to_kafka

    topic = f"test-replay-{uuid.uuid4().hex[:8]}"
    res = replay_to_kafka(world, topic, limit=3000, include_malformed=True, settings=lab_settings)
    assert res.events == 3000 and res.malformed >= 1 and res.failed == 0
    assert res.sent == 3000 + res.malformed
    got = _consume_all(topic, lab_settings, res.sent)
    assert len(got) == res.sent
    keyed = [m for m in got if m.key is not None]
    unkeyed = [m for m in got if m.key is None]
    assert len(unkeyed) == res.malformed and {m.value for m in unkeyed} <= set(world.malformed)
    first = world.raw_events.iloc[:3000]
    assert sorted(json.loads(m.value)["event_id"] for m in keyed) == sorted(first["event_id"])
    sample = json.loads(keyed[0].value)
    assert keyed[0].key == str(sample["user_id"]).encode()
    row = first[first["event_id"] == sample["event_id"]].iloc[0]
    assert sample == event_record(row.to_dict())


def test_kafka_replay_paces_to_the_target_rate(world, lab_settings):
    from data_generators.writers import replay_to_kafka

    topic = f"test-rate-{uuid.uuid4().hex[:8]}"
    res = replay_to_kafka(world, topic, limit=600, rate=1000, settings=lab_settings)
    assert res.sent == 600 and res.mode == "rate"
    assert res.seconds >= 0.55, f"600 records at 1000/s took only {res.seconds} s"
    assert res.rate <= 1100
    fast = replay_to_kafka(world, topic + "-clock", limit=600, speedup=1e6, settings=lab_settings, client="confluent")
    assert fast.sent == 600 and fast.mode == "clock"


def test_cli_generate_to_the_lake_and_replay(lab_settings, tmp_path):
    """The `labdata` commands end to end on the test stack (the env names it: see conftest)."""
    import os
    import subprocess
    import sys

    from deltalake import DeltaTable

    from labkit.clients import delta_storage_options

    env = {**os.environ, "LAB_HOME": str(tmp_path / "home")}  # same stack (ports), fresh data dir
    gen = subprocess.run([sys.executable, "-m", "data_generators", "generate", "--days", "2", "--quiet",
                          "--to", "local,s3,delta"], capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    assert "raw lake:" in gen.stdout and "delta:" in gen.stdout
    events = DeltaTable(lab_settings.lake_uri("delta", "events"), storage_options=delta_storage_options(lab_settings))
    assert events.to_pyarrow_table().column("event_ts").to_pandas().dt.strftime("%Y-%m-%d").nunique() == 2
    topic = f"test-cli-{uuid.uuid4().hex[:8]}"
    rep = subprocess.run([sys.executable, "-m", "data_generators", "replay", "--topic", topic, "--limit", "200",
                          "--malformed", "--quiet"], capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert rep.returncode == 0, rep.stderr
    assert "replayed 201 records (200 events, 1 malformed, 0 failed)" in rep.stdout, rep.stdout
    assert len(_consume_all(topic, lab_settings, 201)) == 201
