"""Write the world to the lab's stack: a raw lake on S3, Delta tables, and a Kafka replay.

    from data_generators import ensure_world
    from data_generators.writers import write_raw_lake, write_delta_tables, replay_to_kafka
    world = ensure_world("small", 42)
    write_raw_lake(world)          # s3://lake/raw/events/dt=YYYY-MM-DD/hour=HH/part-0.parquet, raw/users/...
    write_delta_tables(world)      # s3://lake/delta/events (partitioned by dt), delta/users, ...
    replay_to_kafka(world, "events-raw", rate=1000)   # JSON events keyed by user_id

Endpoints and credentials come from ``labkit.settings`` through ``labkit.clients``. Call
:func:`require_stack` first to get a one-line, fixable error when a service does not answer.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data_generators.stack_check import StackUnavailable, require_stack  # noqa: F401  (re-exported)
from labkit.settings import Settings, get_settings

RAW_PREFIX = "raw"
DELTA_PREFIX = "delta"
DELTA_TABLES = ("events", "users", "products", "user_features", "product_features", "labels")


# -- raw lake on S3 ------------------------------------------------------------------------------
def _delete_prefix(settings: Settings, prefix: str) -> int:
    from labkit.clients import s3_client

    s3 = s3_client(settings)
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=settings.bucket_lake, Prefix=prefix.rstrip("/") + "/"
    ):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        for i in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=settings.bucket_lake, Delete={"Objects": keys[i : i + 1000], "Quiet": True})
            deleted += len(keys[i : i + 1000])
    return deleted


def raw_event_partitions(raw_events: pd.DataFrame):
    """Yield ``(dt, hour, frame)`` for each event-time hour of ``raw_events`` (arrival order kept)."""
    dt = raw_events["event_ts"].dt.strftime("%Y-%m-%d")
    hour = raw_events["event_ts"].dt.hour
    for (d, h), part in raw_events.groupby([dt, hour], sort=True):
        yield d, int(h), part


def write_raw_lake(world, settings: Settings | None = None, prefix: str = RAW_PREFIX, progress: bool = False,
                   workers: int = 16) -> dict:  # fmt: skip
    """Write ``raw_events`` partitioned by event date and hour, plus ``users`` and ``products``,
    under ``s3://<lake bucket>/<prefix>/``. Replaces what the prefix held before (no stale
    partitions from another world). Returns ``{"files", "rows" (raw events), "users", "products", "uri"}``."""
    from data_generators.world import PARQUET_OPTIONS, to_arrow
    from labkit.clients import pyarrow_s3

    s = settings or get_settings()
    fs = pyarrow_s3(s)
    for table in ("events", "users", "products"):
        _delete_prefix(s, f"{prefix}/{table}")
    jobs = [(f"{s.bucket_lake}/{prefix}/events/dt={d}/hour={h:02d}/part-0.parquet", part, "raw_events")
            for d, h, part in raw_event_partitions(world.raw_events)]  # fmt: skip
    jobs += [(f"{s.bucket_lake}/{prefix}/users/part-0.parquet", world.users, "users"),
             (f"{s.bucket_lake}/{prefix}/products/part-0.parquet", world.products, "products")]  # fmt: skip

    def put(job):
        path, frame, name = job
        pq.write_table(to_arrow(frame.reset_index(drop=True), name), path, filesystem=fs, **PARQUET_OPTIONS)
        return len(frame)

    bar = _bar(len(jobs), progress, "raw lake -> S3", "file")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(put, jobs):
            bar.update(1)
    bar.close()
    return {"files": len(jobs), "rows": len(world.raw_events), "users": len(world.users),
            "products": len(world.products), "uri": s.lake_uri(prefix)}  # fmt: skip


# -- Delta tables --------------------------------------------------------------------------------
def write_delta_tables(world, settings: Settings | None = None, prefix: str = DELTA_PREFIX,
                       tables: tuple[str, ...] = DELTA_TABLES, progress: bool = False) -> dict[str, str]:  # fmt: skip
    """Overwrite Delta tables ``s3://<lake>/<prefix>/<table>`` (events partitioned by ``dt``,
    the event date as YYYY-MM-DD). Returns ``{table: uri}``. Each overwrite is a new table
    version, so earlier versions stay readable (time travel)."""
    from deltalake import write_deltalake

    from data_generators.world import to_arrow
    from labkit.clients import delta_storage_options

    s = settings or get_settings()
    opts = delta_storage_options(s)
    out = {}
    bar = _bar(len(tables), progress, "delta -> S3", "table")
    for name in tables:
        table = to_arrow(getattr(world, name), name)
        partition_by = None
        if name == "events":
            dt = pa.array(world.events["event_ts"].dt.strftime("%Y-%m-%d").to_numpy(), pa.string())
            table = table.append_column("dt", dt)
            partition_by = ["dt"]
        uri = s.lake_uri(prefix, name)
        write_deltalake(uri, table, mode="overwrite", schema_mode="overwrite", partition_by=partition_by,
                        storage_options=opts)  # fmt: skip
        out[name] = uri
        bar.update(1)
    bar.close()
    return out


# -- Kafka replay --------------------------------------------------------------------------------
@dataclass
class ReplayResult:
    topic: str
    sent: int  # records acknowledged by the broker (events + malformed)
    events: int
    malformed: int
    failed: int
    seconds: float
    rate: float  # achieved records/s
    mode: str  # "fast", "rate", "clock"

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def replay_records(world, limit: int | None = None, include_malformed: bool = False, chunk: int = 20_000):
    """``(key, value, ingest_ms)`` in arrival order; malformed records (no key) spread evenly.

    ``ingest_ms`` drives the accelerated clock; a malformed record takes its neighbour's time."""
    from data_generators.simulate import ts_ms
    from data_generators.traps import event_records

    raw = world.raw_events if limit is None else world.raw_events.iloc[:limit]
    ingest = ts_ms(raw["ingest_ts"])
    bad = list(world.malformed) if include_malformed else []
    if limit is not None and bad:
        bad = bad[: max(1, round(len(bad) * limit / max(1, len(world.raw_events))))]
    step = max(1, len(raw) // (len(bad) + 1)) if bad else 0
    next_bad = 0
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    for lo in range(0, len(raw), chunk):
        for j, rec in enumerate(event_records(raw.iloc[lo : lo + chunk]), start=lo):
            if bad and next_bad < len(bad) and j == (next_bad + 1) * step:
                yield None, bad[next_bad], int(ingest[j])
                next_bad += 1
            yield str(rec["user_id"]).encode(), dumps(rec).encode(), int(ingest[j])
    for m in bad[next_bad:]:
        yield None, m, int(ingest[-1]) if len(ingest) else 0


def replay_to_kafka(world, topic: str, *, rate: float | None = None, speedup: float | None = None,
                    limit: int | None = None, include_malformed: bool = False, partitions: int = 3,
                    client: str = "kafka-python", settings: Settings | None = None,
                    progress: bool = False) -> ReplayResult:  # fmt: skip
    """Produce ``raw_events`` (arrival order) as JSON to ``topic``, key = user_id.

    Pacing: ``speedup`` follows the events' own arrival clock (``ingest_ts``) sped up X times
    (1 = real time); else ``rate`` sends that many records per second; else as fast as possible.
    ``include_malformed`` mixes ``world.malformed`` in (unkeyed). Returns counts and the achieved rate.
    ``client``: "kafka-python" (``labkit.clients.kafka_producer``, ~5k msg/s here) or "confluent"
    (librdkafka through ``labkit.clients.confluent_config``, several times faster).
    """
    if client not in ("kafka-python", "confluent"):
        raise ValueError(f"client={client!r}: use 'kafka-python' or 'confluent'")
    if rate is not None and rate <= 0:
        raise ValueError(f"rate={rate}: use a positive number of records per second, or None for as fast as possible")
    if speedup is not None and speedup <= 0:
        raise ValueError(f"speedup={speedup}: use a positive factor (1 = real time, 60 = a minute per second)")
    if limit is not None and limit < 0:
        raise ValueError(f"limit={limit}: use a non-negative number of events")
    from labkit.clients import ensure_topic

    s = settings or get_settings()
    ensure_topic(topic, partitions, s, any_partitions=True)
    producer = _Producer(client, s)
    counts = {"ok": 0, "failed": 0}

    def ok(_md):
        counts["ok"] += 1

    def failed(_exc):
        counts["failed"] += 1

    n_events = len(world.raw_events) if limit is None else min(limit, len(world.raw_events))
    mode = "clock" if speedup else "rate" if rate else "fast"
    bar = _bar(n_events + (len(world.malformed) if include_malformed else 0), progress, f"replay -> {topic}", "msg")
    t0 = time.perf_counter()
    first_ingest = None
    n_bad = 0
    i = 0
    for i, (key, value, ingest_ms) in enumerate(replay_records(world, limit, include_malformed), start=1):
        if key is None:
            n_bad += 1
        if mode == "clock":
            first_ingest = ingest_ms if first_ingest is None else first_ingest
            wait = (ingest_ms - first_ingest) / 1000 / speedup - (time.perf_counter() - t0)
            if wait > 0:
                time.sleep(wait)
        elif mode == "rate":
            wait = i / rate - (time.perf_counter() - t0)
            if wait > 0:
                time.sleep(wait)
        producer.send(topic, key, value, ok, failed)
        if i % 1000 == 0:
            bar.update(1000)
    producer.flush()
    seconds = time.perf_counter() - t0
    producer.close()
    bar.update(i % 1000)
    bar.close()
    return ReplayResult(topic=topic, sent=counts["ok"], events=n_events, malformed=n_bad, failed=counts["failed"],
                        seconds=round(seconds, 3), rate=round(counts["ok"] / seconds, 1) if seconds else 0.0,
                        mode=mode)  # fmt: skip


class _Producer:
    """The same three calls over kafka-python or confluent-kafka (gzip, acks=all, batched)."""

    def __init__(self, client: str, settings: Settings):
        self.client = client
        if client == "confluent":
            from confluent_kafka import Producer

            from labkit.clients import confluent_config

            conf = {k: v for k, v in confluent_config(settings).items() if not k.startswith(("session.", "heartbeat."))}
            self.p = Producer({**conf, "acks": "all", "linger.ms": 20, "compression.type": "gzip",
                               "queue.buffering.max.messages": 1_000_000})  # fmt: skip
        else:
            from labkit.clients import kafka_producer

            self.p = kafka_producer(settings, linger_ms=10, batch_size=256 * 1024, compression_type="gzip")

    def send(self, topic, key, value, ok, failed):
        if self.client == "confluent":

            def report(err, _msg):
                (failed if err is not None else ok)(err)

            while True:
                try:
                    self.p.produce(topic, value=value, key=key, on_delivery=report)
                    break
                except BufferError:  # local queue full: let deliveries drain
                    self.p.poll(0.05)
            self.p.poll(0)
        else:
            self.p.send(topic, key=key, value=value).add_callback(ok).add_errback(failed)

    def flush(self):
        self.p.flush()

    def close(self):
        if self.client != "confluent":
            self.p.close()


def _bar(total, enabled: bool, desc: str, unit: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, leave=False)
