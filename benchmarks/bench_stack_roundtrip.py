"""Round-trip latency of each service of the stack, one small request at a time.

Every operation is timed on its own, sequentially, with a fresh payload each time:

* Redis: SET then GET of a 100-byte value.
* Kafka: produce one message with acks=all and wait for the broker's acknowledgement; and
  produce one message and wait until a consumer that is already assigned to the partition (no
  group, no rebalance) has read it back: the latency a stream processor sees. That second one is
  measured twice: with a short consumer fetch wait (10 ms) and with kafka-python's default
  (500 ms). A broker answers a waiting fetch as soon as data arrives, so the two should agree;
  a broker that let the wait run out would make that setting the floor of end-to-end latency.
* S3: PUT then GET of a 1 KiB object.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable

import numpy as np

TITLE = "Round-trip latency of each service"

SAMPLES = {"redis": 500, "kafka": 200, "kafka_slow": 40, "s3": 300}
QUICK_SAMPLES = {"redis": 30, "kafka": 15, "kafka_slow": 5, "s3": 20}
WARMUP = 5
KAFKA_READ_TIMEOUT_S = 10.0


def timed(fn: Callable[[int], object], n: int, warmup: int = WARMUP) -> np.ndarray:
    """Latencies in ms of ``n`` calls of ``fn(i)``, after ``warmup`` untimed calls."""
    for i in range(warmup):
        fn(-1 - i)
    out = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out[i] = (time.perf_counter() - t0) * 1000.0
    return out


# -- Redis --------------------------------------------------------------------------------
def redis_ops(settings, n: int) -> dict[str, np.ndarray]:
    from labkit.clients import redis_client

    r = redis_client(settings)
    key = f"lab:bench:roundtrip:{uuid.uuid4().hex}"
    value = b"x" * 100
    try:
        set_ms = timed(lambda i: r.set(key, value), n)
        got = r.get(key)
        assert got == value, f"Redis returned {got!r} for the value just SET"
        get_ms = timed(lambda i: r.get(key), n)
    finally:
        r.delete(key)
        r.close()
    return {"Redis SET": set_ms, "Redis GET": get_ms}


# -- Kafka --------------------------------------------------------------------------------
def kafka_ops(settings, n: int, n_slow: int) -> dict[str, np.ndarray]:
    from kafka import TopicPartition
    from kafka.admin import NewTopic

    from labkit.clients import kafka_admin, kafka_consumer, kafka_producer

    topic = f"lab-bench-roundtrip-{uuid.uuid4().hex[:10]}"
    admin = kafka_admin(settings)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    producer = kafka_producer(settings, acks="all", linger_ms=0)
    tp = TopicPartition(topic, 0)
    out: dict[str, np.ndarray] = {}
    try:
        out["Kafka produce, acks=all"] = timed(lambda i: producer.send(topic, b"ack", partition=0).get(timeout=10), n)

        for label, wait_ms, count in (
            ("Kafka produce→consume", 10, n),
            ("Kafka produce→consume, fetch wait 500 ms", 500, n_slow),
        ):
            consumer = kafka_consumer(settings=settings, group_id=None, fetch_max_wait_ms=wait_ms)
            consumer.assign([tp])
            consumer.seek(tp, 0)
            while consumer.poll(timeout_ms=200):  # skip what earlier rounds wrote
                pass

            def round_trip(i: int, consumer=consumer) -> None:  # bound now: the loop rebinds `consumer`
                payload = uuid.uuid4().bytes
                future = producer.send(topic, payload, partition=0)
                deadline = time.monotonic() + KAFKA_READ_TIMEOUT_S
                while True:
                    batches = consumer.poll(timeout_ms=100)
                    if any(rec.value == payload for recs in batches.values() for rec in recs):
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(
                            f"a message produced to {topic} was not consumed within {KAFKA_READ_TIMEOUT_S:.0f} s: "
                            f"is the broker at {settings.kafka_bootstrap} healthy? (`labkit status`)"
                        )
                future.get(timeout=10)  # it must also have been acknowledged (acks=all)

            try:
                out[label] = timed(round_trip, count, warmup=2)
            finally:
                consumer.close()
    finally:
        producer.close()
        try:
            admin.delete_topics([topic])
        except Exception:  # a broker without topic deletion keeps a small topic; not worth failing for
            pass
        admin.close()
    return out


# -- S3 -----------------------------------------------------------------------------------
def s3_ops(settings, n: int) -> dict[str, np.ndarray]:
    from labkit.clients import s3_client

    s3 = s3_client(settings)
    bucket = settings.bucket_lake
    prefix = f"bench/roundtrip/{uuid.uuid4().hex}"
    body = b"y" * 1024
    key = f"{prefix}/object"
    try:
        put_ms = timed(lambda i: s3.put_object(Bucket=bucket, Key=key, Body=body), n)
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert got == body, f"S3 returned {len(got)} bytes for the 1024-byte object just PUT"
        get_ms = timed(lambda i: s3.get_object(Bucket=bucket, Key=key)["Body"].read(), n)
    finally:
        s3.delete_object(Bucket=bucket, Key=key)
    return {"S3 PUT 1 KiB": put_ms, "S3 GET 1 KiB": get_ms}


# -- report -------------------------------------------------------------------------------
def summarize(latencies: dict[str, np.ndarray]) -> list[dict[str, object]]:
    return [
        {
            "operation": op,
            "samples": len(ms),
            "p50 ms": float(np.percentile(ms, 50)),
            "p99 ms": float(np.percentile(ms, 99)),
            "mean ms": float(ms.mean()),
            "max ms": float(ms.max()),
        }
        for op, ms in latencies.items()
    ]


AXIS_LABELS = {
    "Redis SET": "Redis\nSET",
    "Redis GET": "Redis\nGET",
    "Kafka produce, acks=all": "Kafka produce\nacks=all",
    "Kafka produce→consume": "Kafka produce\n→ consume",
    "Kafka produce→consume, fetch wait 500 ms": "Kafka produce\n→ consume\n(fetch wait 500 ms)",
    "S3 PUT 1 KiB": "S3 PUT\n1 KiB",
    "S3 GET 1 KiB": "S3 GET\n1 KiB",
}


def _short(v: float) -> str:
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}" if v >= 1 else f"{v:.2g}"


def figure(rows: list[dict[str, object]]):
    import matplotlib.pyplot as plt

    labels = [AXIS_LABELS.get(str(r["operation"]), str(r["operation"])) for r in rows]
    p50 = [r["p50 ms"] for r in rows]
    p99 = [r["p99 ms"] for r in rows]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(7.5, 1.3 * len(rows)), 4.6))
    bars50 = ax.bar(x - 0.2, p50, width=0.4, label="p50", color="#4C72B0")
    bars99 = ax.bar(x + 0.2, p99, width=0.4, label="p99", color="#DD8452")
    ax.set_yscale("log")  # Redis answers in tenths of a millisecond, Kafka in tens to hundreds
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_xticks(x, labels, fontsize=8)
    for bars in (bars50, bars99):
        ax.bar_label(bars, labels=[_short(v) for v in bars.datavalues], fontsize=7, padding=2)
    ax.set_ylim(top=max(p99) * 4)  # room for the labels and the legend above the tallest bar
    ax.legend(loc="upper left")
    ax.set_title("One request at a time: p50 and p99 round trip per operation")
    ax.grid(axis="y", which="both", alpha=0.3)
    return fig


def _metric(op: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", op.lower()).strip("_")


def run(report, quick: bool = False) -> None:
    samples = QUICK_SAMPLES if quick else SAMPLES
    s = report.settings
    latencies: dict[str, np.ndarray] = {}
    latencies.update(redis_ops(s, samples["redis"]))
    latencies.update(kafka_ops(s, samples["kafka"], samples["kafka_slow"]))
    latencies.update(s3_ops(s, samples["s3"]))

    rows = summarize(latencies)
    report.add_text(
        "Each operation is timed alone, one request after the other, from this Python process "
        "(redis-py, kafka-python, boto3): what a single caller waits, client overhead included. "
        "Kafka produce→consume is the time from `send()` until a consumer already assigned to the "
        "partition has the message; the broker's acknowledgement (acks=all) is awaited too."
    )
    report.add_table("Round-trip latency (ms)", rows)
    report.add_figure("Round-trip latency per operation, p50 and p99", figure(rows))
    fast = next(r for r in rows if r["operation"] == "Kafka produce→consume")
    slow = next(r for r in rows if r["operation"].startswith("Kafka produce→consume, fetch wait"))
    floored = slow["p50 ms"] > 250  # half of the 500 ms wait: the wait, not the data, ended the fetch
    report.add_text(
        f"Kafka produce→consume p50 was {fast['p50 ms']:.1f} ms with a 10 ms fetch wait and "
        f"{slow['p50 ms']:.1f} ms with kafka-python's default 500 ms. "
        + (
            "The broker let the wait run out: `fetch_max_wait_ms` is the floor of a stream's freshness here."
            if floored
            else "The broker answered the waiting fetch as soon as the record arrived, so the fetch wait "
            "does not set the freshness floor; it only bounds how long an idle poll waits."
        )
    )
    for r in rows:
        for stat in ("p50", "p99"):
            report.record(
                f"roundtrip.{_metric(r['operation'])}.{stat}_ms",
                r[f"{stat} ms"],
                "ms",
                samples=r["samples"],
                operation=r["operation"],
            )
