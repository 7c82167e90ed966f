"""Stack tests: staging the S3 lake for Spark, and the idempotent Delta feature table."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pandas as pd
import pyarrow as pa
import pytest

pytestmark = pytest.mark.stack


def features_for(day: dt.date, users: list[int], value: float = 1.0) -> pa.Table:
    n = len(users)
    snap = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    df = pd.DataFrame(
        {
            "user_id": users,
            "event_timestamp": [snap] * n,
            "purchases_7d": [value] * n,
            "feature_date": [day.isoformat()] * n,
        }
    )
    return pa.Table.from_pandas(df, preserve_index=False)


def test_publishing_a_day_twice_leaves_one_copy(lab_settings, unique_uri):
    from deltalake import DeltaTable

    from labkit.clients import delta_storage_options
    from pipelines.feature_table import publish_day, read_day, rows_per_day

    d1, d2 = dt.date(2026, 1, 10), dt.date(2026, 1, 11)
    v0 = publish_day(features_for(d1, [1, 2, 3]), d1, lab_settings, uri=unique_uri)
    publish_day(features_for(d2, [1, 2]), d2, lab_settings, uri=unique_uri)
    v2 = publish_day(features_for(d1, [1, 2, 3], value=9.0), d1, lab_settings, uri=unique_uri)  # re-run d1
    assert rows_per_day(lab_settings, unique_uri) == {d1.isoformat(): 3, d2.isoformat(): 2}
    assert set(read_day(d1, lab_settings, unique_uri).purchases_7d) == {9.0}, "the re-run replaced the day"
    assert set(read_day(d1, lab_settings, unique_uri, version=v0).purchases_7d) == {1.0}, "time travel keeps v0"
    assert v2 == v0 + 2
    ops = [
        h["operation"] for h in DeltaTable(unique_uri, storage_options=delta_storage_options(lab_settings)).history()
    ]
    assert ops.count("WRITE") == 3


def test_publish_refuses_rows_of_another_day(lab_settings, unique_uri):
    from pipelines.feature_table import publish_day

    with pytest.raises(ValueError, match="one day at a time"):
        publish_day(features_for(dt.date(2026, 1, 12), [1]), dt.date(2026, 1, 13), lab_settings, uri=unique_uri)


def test_staging_copies_once_and_mirrors_deletions(lab_settings, raw_lake, small_world, tmp_path):
    from labkit.clients import s3_client
    from pipelines.lake import stage_partitions

    day = small_world.config.start + dt.timedelta(days=3)
    first = stage_partitions(day, day, lab_settings, dest=tmp_path)
    assert first.files_copied == first.files_total == 24 and not first.missing_days
    again = stage_partitions(day, day, lab_settings, dest=tmp_path)
    assert again.files_copied == 0, "a second staging run must copy nothing"
    # same size, other version (an object rewritten on S3 keeps its size but not its mtime)
    changed = next((tmp_path / f"dt={day.isoformat()}").rglob("*.parquet"))
    os.utime(changed, (0, 0))
    assert stage_partitions(day, day, lab_settings, dest=tmp_path).files_copied == 1
    stale = tmp_path / f"dt={day.isoformat()}" / "hour=99" / "part-0.parquet"  # a file S3 no longer has
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    third = stage_partitions(day, day, lab_settings, dest=tmp_path)
    assert third.files_removed == 1 and not stale.exists()
    before = small_world.config.start - dt.timedelta(days=2)
    assert stage_partitions(before, before, lab_settings, dest=tmp_path).missing_days == [before.isoformat()]
    assert (
        s3_client(lab_settings).list_objects_v2(Bucket=lab_settings.bucket_lake, Prefix="raw/events/_WORLD")["KeyCount"]
        == 1
    )


def test_staged_lake_read_by_spark_prunes_partitions(lab_settings, raw_lake, small_world, spark):
    from pipelines.lake import read_raw_events, stage_partitions

    day = small_world.config.start + dt.timedelta(days=5)
    stage_partitions(day, day + dt.timedelta(days=1), lab_settings)
    df = read_raw_events(spark, day, day, lab_settings)
    plan = df._jdf.queryExecution().executedPlan().toString()
    assert "PartitionFilters" in plan and "dt" in plan, plan
    expected = int((small_world.raw_events.event_ts.dt.date == day).sum())
    assert df.count() == expected


def test_s3a_mode_without_jars_says_how_to_fix(lab_settings, spark):
    from pipelines.lake import read_raw_events

    s3a = dataclasses.replace(lab_settings, lake_read_mode="s3a")
    with pytest.raises(RuntimeError, match="hadoop-aws"):
        read_raw_events(spark, dt.date(2026, 1, 5), dt.date(2026, 1, 5), s3a)
