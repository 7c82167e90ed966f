"""Reading the raw S3 lake from Spark, with or without the s3a connector.

The raw events live in ``s3://<lake>/raw/events/dt=YYYY-MM-DD/hour=HH/*.parquet``. Spark reads
``s3a://`` only with the hadoop-aws jars on its classpath; they cannot be downloaded here, so the
default mode *stages* the partitions a job needs: it copies them to a local folder with pyarrow
(only missing or changed files) and Spark reads that folder. Where the jars exist, set
``LAB_LAKE_READ_MODE=s3a`` and the same job reads the bucket directly. Either way the job asks
for a root and a date range, and Spark prunes partitions on ``dt``.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.settings import Settings, get_settings

RAW_EVENTS_PREFIX = "raw/events"


def days_between(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def staging_root(settings: Settings | None = None) -> Path:
    s = settings or get_settings()
    return s.home / "staging" / s.bucket_lake / RAW_EVENTS_PREFIX


@dataclass
class StageReport:
    root: Path
    days: list[str]
    files_total: int
    files_copied: int
    files_removed: int
    bytes_copied: int
    seconds: float
    missing_days: list[str]


def stage_partitions(
    first: dt.date,
    last: dt.date,
    settings: Settings | None = None,
    prefix: str = RAW_EVENTS_PREFIX,
    dest: Path | None = None,
) -> StageReport:
    """Mirror the ``dt=`` partitions first..last of ``s3://<lake>/<prefix>`` into a local folder.

    A file already staged with the same size and modification time is kept; files gone from S3 are removed locally
    (a rewritten partition must not leave stale files behind). Days with no partition are
    reported in ``missing_days`` rather than failing: the caller decides whether that is fine.
    """
    from pyarrow import fs as pafs

    from labkit.clients import pyarrow_s3

    s = settings or get_settings()
    s3 = pyarrow_s3(s)
    local = pafs.LocalFileSystem()
    dest = dest or (s.home / "staging" / s.bucket_lake / prefix)
    t0 = time.perf_counter()
    total = copied = removed = nbytes = 0
    missing: list[str] = []
    days = days_between(first, last)
    for day in days:
        part = f"dt={day.isoformat()}"
        src_dir = f"{s.bucket_lake}/{prefix}/{part}"
        info = s3.get_file_info(pafs.FileSelector(src_dir, recursive=True, allow_not_found=True))
        # (size, mtime) identifies a version of an object: a rewritten partition gets a new mtime
        remote = {
            i.path[len(src_dir) + 1 :]: (i.size, int(i.mtime.timestamp())) for i in info if i.type == pafs.FileType.File
        }
        if not remote:
            missing.append(day.isoformat())
        local_dir = dest / part
        existing = (
            {
                str(p.relative_to(local_dir)): (p.stat().st_size, int(p.stat().st_mtime))
                for p in local_dir.rglob("*")
                if p.is_file()
            }
            if local_dir.exists()
            else {}
        )
        for rel in set(existing) - set(remote):
            (local_dir / rel).unlink()
            removed += 1
        for rel, (size, mtime) in remote.items():
            total += 1
            if existing.get(rel) == (size, mtime):
                continue
            target = local_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name("." + target.name + ".part")  # hidden: Spark skips dot-files
            pafs.copy_files(f"{src_dir}/{rel}", str(tmp), source_filesystem=s3, destination_filesystem=local)
            os.utime(tmp, (mtime, mtime))
            tmp.replace(target)  # atomic: a reader never sees half a file
            copied += 1
            nbytes += size
    return StageReport(
        dest, [d.isoformat() for d in days], total, copied, removed, nbytes, time.perf_counter() - t0, missing
    )


def lake_root_for_spark(settings: Settings | None = None, prefix: str = RAW_EVENTS_PREFIX) -> str:
    """Where Spark reads the raw lake from, per ``settings.lake_read_mode``."""
    s = settings or get_settings()
    if s.lake_read_mode == "s3a":
        return f"s3a://{s.bucket_lake}/{prefix}"
    return (s.home / "staging" / s.bucket_lake / prefix).as_uri()


def s3a_conf(settings: Settings | None = None) -> dict[str, str]:
    """Spark options for ``s3a://`` on the lab's S3 (only used when the hadoop-aws jars exist)."""
    s = settings or get_settings()
    return {
        "spark.hadoop.fs.s3a.endpoint": s.s3_endpoint,
        "spark.hadoop.fs.s3a.access.key": s.s3_access_key,
        "spark.hadoop.fs.s3a.secret.key": s.s3_secret_key,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": str(s.s3_endpoint.startswith("https")).lower(),
    }


def read_raw_events(
    spark, first: dt.date, last: dt.date, settings: Settings | None = None, prefix: str = RAW_EVENTS_PREFIX
):
    """The raw events of days first..last as a Spark DataFrame (partition-pruned on ``dt``).

    In ``stage`` mode the caller must have staged the days first (:func:`stage_partitions`).
    """
    from pyspark.sql import functions as F

    s = settings or get_settings()
    root = lake_root_for_spark(s, prefix)
    try:
        df = spark.read.parquet(root)
    except Exception as exc:  # noqa: BLE001 - re-raised with the fix attached
        text = str(exc)
        if "S3AFileSystem" in text or "No FileSystem for scheme" in text:
            raise RuntimeError(
                "Spark cannot read s3a:// here: the hadoop-aws connector jars are not on its classpath. "
                "Set LAB_LAKE_READ_MODE=stage (the default) to stage partitions locally, or add the jars "
                "(spark.jars.packages=org.apache.hadoop:hadoop-aws:<Spark's Hadoop version>)."
            ) from exc
        if "PATH_NOT_FOUND" in text or "Path does not exist" in text:
            raise FileNotFoundError(
                f"no raw events under {root}: generate the world and write the lake first "
                "(`make data`), and in stage mode stage the days (pipelines.lake.stage_partitions)."
            ) from exc
        raise
    return df.where(F.col("dt").between(F.lit(first), F.lit(last)))


def ensure_raw_lake(world, settings: Settings | None = None) -> dict:
    """Write ``world`` to the raw lake unless the lake already holds exactly this world.

    A marker object ``raw/events/_WORLD`` (Spark and pyarrow skip ``_`` files) names the world
    that was written; any other content is replaced with the world helper's writer.
    """
    from labkit.clients import s3_client

    s = settings or get_settings()
    s3 = s3_client(s)
    key = f"{RAW_EVENTS_PREFIX}/_WORLD"
    digest = (getattr(world, "manifest", None) or {}).get("files", {}).get("raw_events.parquet", "")
    want = f"{world.config.config_id()} raw_events={digest or len(world.raw_events)}"
    try:
        have = s3.get_object(Bucket=s.bucket_lake, Key=key)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        have = None
    except Exception as exc:  # noqa: BLE001 - e.g. the store is down: say so plainly
        if "NoSuchKey" in str(exc) or "Not Found" in str(exc) or "404" in str(exc):
            have = None
        else:
            raise
    if have == want:
        return {"written": False, "world": want}
    from data_generators.writers import write_raw_lake

    info = write_raw_lake(world, s)
    s3.put_object(Bucket=s.bucket_lake, Key=key, Body=want.encode())
    return {"written": True, "world": want, **info}
