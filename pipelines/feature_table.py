"""The offline feature table: a Delta table on S3, one partition per ``feature_date``.

Publishing a day is idempotent: it overwrites exactly that day's partition in one atomic
commit (Delta's replaceWhere, ``predicate=`` in the ``deltalake`` package). Re-running a day,
or a whole backfill, replaces rows and never duplicates them; readers see either the old
day or the new one, never a mix. Every commit stays readable by version (time travel).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from labkit.settings import Settings, get_settings

FEATURE_TABLE = ("delta", "features", "user_daily")
PARTITION = "feature_date"


def feature_table_uri(settings: Settings | None = None, name: tuple[str, ...] = FEATURE_TABLE) -> str:
    return (settings or get_settings()).lake_uri(*name)


def _opts(settings: Settings | None) -> dict[str, str]:
    from labkit.clients import delta_storage_options

    return delta_storage_options(settings)


def table_exists(uri: str, settings: Settings | None = None) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(uri, storage_options=_opts(settings))


def publish_day(features: pa.Table, day: dt.date, settings: Settings | None = None, uri: str | None = None) -> int:
    """Replace the partition ``feature_date = day`` with ``features``; return the new table version."""
    from deltalake import DeltaTable, write_deltalake

    uri = uri or feature_table_uri(settings)
    days = set(features.column(PARTITION).unique().to_pylist()) if features.num_rows else set()
    if days - {day.isoformat()}:
        raise ValueError(f"publish_day({day}): the batch holds rows for {sorted(days)}; publish one day at a time")
    opts = _opts(settings)
    if not DeltaTable.is_deltatable(uri, storage_options=opts):
        write_deltalake(uri, features, mode="append", partition_by=[PARTITION], storage_options=opts)
    else:
        write_deltalake(
            uri,
            features,
            mode="overwrite",
            predicate=f"{PARTITION} = '{day.isoformat()}'",
            partition_by=[PARTITION],
            storage_options=opts,
        )
    return DeltaTable(uri, storage_options=opts).version()


def read_day(day: dt.date, settings: Settings | None = None, uri: str | None = None, version: int | None = None):
    """The published features of one day as pandas (optionally as of a table version)."""
    from deltalake import DeltaTable

    dt_ = DeltaTable(uri or feature_table_uri(settings), version=version, storage_options=_opts(settings))
    return dt_.to_pandas(filters=[(PARTITION, "=", day.isoformat())])


def read_table(settings: Settings | None = None, uri: str | None = None, version: int | None = None):
    from deltalake import DeltaTable

    return DeltaTable(uri or feature_table_uri(settings), version=version, storage_options=_opts(settings)).to_pandas()


def rows_per_day(settings: Settings | None = None, uri: str | None = None) -> dict[str, int]:
    """How many rows each published day holds (the idempotency check: re-runs must not grow it).
    Empty when nothing was published yet (no table)."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(uri or feature_table_uri(settings), storage_options=_opts(settings)):
        return {}
    df = read_table(settings, uri)
    return {k: int(v) for k, v in df.groupby(PARTITION).size().items()} if len(df) else {}
