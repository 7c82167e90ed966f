"""The pipeline's steps as plain functions: what Airflow tasks, Prefect tasks and the CLI call.

Each step reads its input from and writes its output to durable storage (the staging folder,
the day's work folder under LAB_HOME, the Delta table, the online store), so any step can run
in a separate process, be retried alone, and be re-run without side effects piling up.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.settings import Settings, get_settings
from pipelines import lake
from pipelines.faults import maybe_fail
from pipelines.features import LOOKBACK_DAYS

STEPS = ("extract", "validate_input", "compute", "validate_features", "publish", "materialize")
# Events arriving up to this long after midnight still belong to the previous day; the daily
# run starts at 02:00, and the extract reads the next day's first partitions to catch them.
LATE_ARRIVAL_DAYS = 1


def as_date(day: dt.date | str) -> dt.date:
    if isinstance(day, dt.datetime):
        return day.date()
    if isinstance(day, dt.date):
        return day
    try:
        return dt.date.fromisoformat(str(day))
    except ValueError:
        raise ValueError(f"day={day!r} is not a date: use YYYY-MM-DD, e.g. 2026-01-20") from None


def work_dir(day: dt.date, settings: Settings | None = None) -> Path:
    d = (settings or get_settings()).home / "pipelines" / "user_features" / day.isoformat()
    d.mkdir(parents=True, exist_ok=True)
    return d


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(path)


def history_days(day: dt.date) -> tuple[dt.date, dt.date]:
    """Raw partitions the job for ``day`` reads: the 30-day lookback plus late arrivals."""
    return day - dt.timedelta(days=LOOKBACK_DAYS), day + dt.timedelta(days=LATE_ARRIVAL_DAYS)


def job_spark_session(settings: Settings | None = None):
    """The job's SparkSession: labkit's (master from LAB_SPARK_MASTER) plus quiet logs, no
    console progress bars, and the s3a options when the lake is read directly."""
    from labkit.clients import spark_session

    s = settings or get_settings()
    conf = {"spark.ui.showConsoleProgress": "false", "spark.sql.files.openCostInBytes": str(1 << 20)}
    if s.lake_read_mode == "s3a":
        conf.update(lake.s3a_conf(s))
    spark = spark_session("user-features", s, **conf)
    spark.sparkContext.setLogLevel("ERROR")
    return spark


# -- steps -----------------------------------------------------------------------------------
def extract(day: dt.date | str, settings: Settings | None = None) -> dict[str, Any]:
    """Make the day's history readable by Spark: stage it locally (or nothing to do with s3a)."""
    day, s = as_date(day), settings or get_settings()
    maybe_fail("extract", day, s)
    if s.lake_read_mode == "s3a":
        return {"step": "extract", "day": day.isoformat(), "mode": "s3a", "root": lake.lake_root_for_spark(s)}
    first, last = history_days(day)
    rep = lake.stage_partitions(first, last, s)
    if day.isoformat() in rep.missing_days:
        raise FileNotFoundError(
            f"the raw lake has no partition dt={day} under {s.lake_uri(lake.RAW_EVENTS_PREFIX)}: "
            "write the world to the lake first (`make data`) or pick a day inside the simulated window"
        )
    return {
        "step": "extract",
        "day": day.isoformat(),
        "mode": "stage",
        "files": rep.files_total,
        "copied": rep.files_copied,
        "removed": rep.files_removed,
        "bytes_copied": rep.bytes_copied,
        "seconds": round(rep.seconds, 3),
        "missing_days": rep.missing_days,
    }


def read_input_day(day: dt.date, settings: Settings | None = None) -> pd.DataFrame:
    """The raw events of partition ``dt=day`` (from the staging folder, or S3 in s3a mode)."""
    import pyarrow.dataset as ds

    s = settings or get_settings()
    if s.lake_read_mode == "s3a":
        from labkit.clients import pyarrow_s3

        path, fs = f"{s.bucket_lake}/{lake.RAW_EVENTS_PREFIX}/dt={day.isoformat()}", pyarrow_s3(s)
    else:
        path, fs = str(lake.staging_root(s) / f"dt={day.isoformat()}"), None
    return ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive").to_table().to_pandas()


def validate_input(day: dt.date | str, settings: Settings | None = None) -> dict[str, Any]:
    """Check the day's raw events before computing anything from them."""
    from pipelines.validation import validate_frame

    day, s = as_date(day), settings or get_settings()
    maybe_fail("validate_input", day, s)
    raw = read_input_day(day, s)
    summary = validate_frame(
        raw, "raw_events", f"raw events of {day}", report_path=work_dir(day, s) / "validate_input.json"
    )
    return {"step": "validate_input", "day": day.isoformat(), "rows": len(raw), **summary}


def compute(day: dt.date | str, settings: Settings | None = None, spark=None) -> dict[str, Any]:
    """Run the Spark feature job for ``day``; write its output to the day's work folder."""
    import pyarrow.parquet as pq

    from pipelines.features import compute_features

    day, s = as_date(day), settings or get_settings()
    maybe_fail("compute", day, s)
    t0 = time.perf_counter()
    spark = spark or job_spark_session(s)
    first, last = history_days(day)
    table = compute_features(lake.read_raw_events(spark, first, last, s), day)
    out = work_dir(day, s) / "features.parquet"
    tmp = out.with_name(".features.parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(out)
    return {
        "step": "compute",
        "day": day.isoformat(),
        "rows": table.num_rows,
        "path": str(out),
        "seconds": round(time.perf_counter() - t0, 3),
    }


def load_features(day: dt.date, settings: Settings | None = None):
    import pyarrow.parquet as pq

    path = work_dir(day, settings) / "features.parquet"
    if not path.exists():
        raise FileNotFoundError(f"no computed features for {day} at {path}: run the compute step for that day first")
    return pq.read_table(path)


def validate_features(day: dt.date | str, settings: Settings | None = None) -> dict[str, Any]:
    from pipelines.validation import validate_frame

    day, s = as_date(day), settings or get_settings()
    maybe_fail("validate_features", day, s)
    df = load_features(day, s).to_pandas()
    summary = validate_frame(
        df, "user_features", f"user features of {day}", report_path=work_dir(day, s) / "validate_features.json"
    )
    return {"step": "validate_features", "day": day.isoformat(), "rows": len(df), **summary}


def publish(day: dt.date | str, settings: Settings | None = None) -> dict[str, Any]:
    from pipelines.feature_table import feature_table_uri, publish_day

    day, s = as_date(day), settings or get_settings()
    maybe_fail("publish", day, s)
    ok = work_dir(day, s) / "validate_features.json"
    if not ok.exists() or not json.loads(ok.read_text()).get("success"):
        raise RuntimeError(f"refusing to publish {day}: its features were not validated successfully (see {ok})")
    table = load_features(day, s)
    version = publish_day(table, day, s)
    return {
        "step": "publish",
        "day": day.isoformat(),
        "rows": table.num_rows,
        "table": feature_table_uri(s),
        "version": version,
    }


def materialize(day: dt.date | str, settings: Settings | None = None) -> dict[str, Any]:
    from pipelines.feature_table import read_day
    from pipelines.online import write_online

    day, s = as_date(day), settings or get_settings()
    maybe_fail("materialize", day, s)
    df = read_day(day, s)
    if df.empty:
        raise RuntimeError(
            f"nothing to materialize for {day}: the Delta table has no rows for that day; run publish first"
        )
    info = write_online(df, s)
    return {"step": "materialize", "day": day.isoformat(), "rows": len(df), **info}


STEP_FUNCTIONS = {
    "extract": extract,
    "validate_input": validate_input,
    "compute": compute,
    "validate_features": validate_features,
    "publish": publish,
    "materialize": materialize,
}


def run_day(day: dt.date | str, settings: Settings | None = None, spark=None) -> list[dict[str, Any]]:
    """All steps for one day, in order, in this process (no retries: that is the orchestrator's job)."""
    day = as_date(day)
    out = []
    for name in STEPS:
        fn = STEP_FUNCTIONS[name]
        out.append(fn(day, settings, spark=spark) if name == "compute" else fn(day, settings))
    return out


def backfill(
    start: dt.date | str, end: dt.date | str, settings: Settings | None = None, spark=None
) -> list[list[dict[str, Any]]]:
    """Run every day in [start, end]; each day replaces its own output, so re-running is safe."""
    start, end = as_date(start), as_date(end)
    if end < start:
        raise ValueError(f"backfill end {end} is before start {start}")
    return [run_day(d, settings, spark) for d in lake.days_between(start, end)]
