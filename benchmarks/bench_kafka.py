"""The broker itself: produce and consume throughput, produce→consume latency, group join, memory.

* **Produce**: N records of ~200 bytes, keyed, to a 4-partition topic, until ``flush()`` returns,
  with the settings the lab recommends (``acks=all``, idempotent, 20 ms linger, lz4), from
  kafka-python and from confluent-kafka (librdkafka). Repeated; median and range.
* **Consume**: the same records read back from the beginning, no group, no processing.
* **Produce→consume**: one record at a time to a consumer already waiting with Kafka's default
  500 ms fetch wait; a broker answers the waiting fetch when the record arrives.
* **Group join**: a new consumer group of one member, from ``subscribe`` to its first assignment.
* **Broker memory**: the resident set of the embedded broker's JVM (embedded stack only).

The figures the previous embedded broker gave (see the history note in docs/stack.md) are shown beside them:
they were measured in the first round of the lab and are quoted, not re-measured.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid

TITLE = "Kafka: throughput, latency, group join and memory of the broker"

FULL = {"records": 20_000, "repeats": 5, "latency_samples": 100, "joins": 5}
QUICK = {"records": 2_000, "repeats": 2, "latency_samples": 10, "joins": 2}
PAYLOAD = b'{"event_type":"click","user_id":%d,"product_id":42,"price":19.99,"pad":"' + b"x" * 120 + b'"}'

# Round 1 of the lab, quiet machine, the previous embedded broker (from the issue that replaced it).
PREVIOUS_BROKER = {
    "produce→consume p50, 500 ms fetch wait (ms)": 263.0,
    "produce→consume p50, 10 ms fetch wait (ms)": 20.5,
    "stream processor freshness p99 at 500 events/s (ms)": 2600.0,
}


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def _produce_kafka_python(topic: str, n: int, s) -> float:
    from labkit.clients import kafka_producer

    p = kafka_producer(
        s, acks="all", enable_idempotence=True, linger_ms=20, batch_size=256 * 1024, compression_type="lz4"
    )
    p.send(topic, key=b"warm-up", value=b"{}").get(timeout=30)
    t0 = time.perf_counter()
    for i in range(n):
        p.send(topic, key=b"%d" % (i % 2000), value=PAYLOAD % i)
    p.flush()
    rate = n / (time.perf_counter() - t0)
    p.close()
    return rate


def _produce_confluent(topic: str, n: int, s) -> float:
    from confluent_kafka import Producer

    p = Producer(
        {
            "bootstrap.servers": s.kafka_bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 20,
            "compression.type": "lz4",
        }
    )
    p.produce(topic, key=b"warm-up", value=b"{}")
    p.flush(30)
    t0 = time.perf_counter()
    for i in range(n):
        while True:
            try:
                p.produce(topic, key=b"%d" % (i % 2000), value=PAYLOAD % i)
                break
            except BufferError:  # the local queue is full: let it drain
                p.poll(0.01)
        p.poll(0)
    p.flush(60)
    return n / (time.perf_counter() - t0)


def _consume_kafka_python(topic: str, n: int, s) -> float:
    from kafka import TopicPartition

    from labkit.clients import kafka_consumer

    c = kafka_consumer(group_id=None, settings=s, max_poll_records=2_000)
    parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic))]
    c.assign(parts)
    c.seek_to_beginning(*parts)
    got, t0, deadline = 0, None, time.monotonic() + 120
    while got < n and time.monotonic() < deadline:
        batch = c.poll(timeout_ms=1_000)
        if batch and t0 is None:
            t0 = time.perf_counter()
        got += sum(len(v) for v in batch.values())
    c.close()
    if got < n:
        raise TimeoutError(f"read {got} of {n} records in 120 s")
    return n / (time.perf_counter() - t0)


def _consume_confluent(topic: str, n: int, s) -> float:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": s.kafka_bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex[:6]}",
            "enable.auto.commit": False,
        }
    )
    parts = c.list_topics(topic, timeout=10).topics[topic].partitions
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    got, t0, deadline = 0, None, time.monotonic() + 120
    while got < n and time.monotonic() < deadline:
        msgs = c.consume(1_000, timeout=1.0)
        if msgs and t0 is None:
            t0 = time.perf_counter()
        got += sum(1 for m in msgs if not m.error())
    c.close()
    if got < n:
        raise TimeoutError(f"read {got} of {n} records in 120 s")
    return n / (time.perf_counter() - t0)


def _produce_to_consume_ms(topic: str, samples: int, s) -> list[float]:
    from kafka import TopicPartition

    from labkit.clients import kafka_consumer, kafka_producer

    tp = TopicPartition(topic, 0)
    consumer = kafka_consumer(group_id=None, settings=s)  # Kafka's default 500 ms fetch wait
    consumer.assign([tp])
    consumer.seek_to_end(tp)
    consumer.poll(timeout_ms=300)
    producer = kafka_producer(s, linger_ms=0)
    out = []
    try:
        for i in range(samples):
            sent_at: list[float] = []

            def send_soon(i=i, sent_at=sent_at):
                time.sleep(0.05)  # the consumer is parked in its waiting fetch by now
                sent_at.append(time.perf_counter())
                producer.send(topic, value=b"%d" % i, partition=0)
                producer.flush()

            t = threading.Thread(target=send_soon)
            t.start()
            deadline = time.monotonic() + 10
            while not consumer.poll(timeout_ms=1_000):
                if time.monotonic() > deadline:
                    raise TimeoutError("a record never reached the waiting consumer")
            out.append((time.perf_counter() - sent_at[0]) * 1000)
            t.join()
    finally:
        consumer.close()
        producer.close()
    return out


def _group_join_s(topic: str, s) -> float:
    from labkit.clients import kafka_consumer

    t0 = time.monotonic()
    c = kafka_consumer(topic, group_id=f"bench-join-{uuid.uuid4().hex[:8]}", settings=s)
    try:
        while not c.assignment():
            if time.monotonic() - t0 > 60:
                raise TimeoutError("no assignment within 60 s")
            c.poll(timeout_ms=50)
        return time.monotonic() - t0
    finally:
        c.close()


def _broker_rss_mb(s) -> float | None:
    import psutil

    from labkit.stack import embedded

    proc = embedded.running(s, embedded.BY_NAME["kafka"])
    if proc is None:
        return None
    return psutil.Process(proc.pid).memory_info().rss / 2**20


def run(report, quick: bool = False) -> None:
    import matplotlib.pyplot as plt

    from labkit.clients import ensure_topic

    s = report.settings
    p = QUICK if quick else FULL
    run_id = uuid.uuid4().hex[:6]
    n = p["records"]

    rates: dict[str, list[float]] = {
        k: []
        for k in ("produce kafka-python", "produce confluent-kafka", "consume kafka-python", "consume confluent-kafka")
    }
    for r in range(p["repeats"]):
        for client, produce, consume in (
            ("kafka-python", _produce_kafka_python, _consume_kafka_python),
            ("confluent-kafka", _produce_confluent, _consume_confluent),
        ):
            topic = f"bench-kafka-{run_id}-{client}-{r}"
            ensure_topic(topic, partitions=4, settings=s)
            rates[f"produce {client}"].append(produce(topic, n, s))
            rates[f"consume {client}"].append(consume(topic, n, s))
    rows = []
    for name, values in rates.items():
        sp = _spread(values)
        rows.append(
            {
                "operation": name,
                "median records/s": sp["median"],
                "min": sp["min"],
                "max": sp["max"],
                "runs": len(values),
            }
        )
        report.record(
            f"kafka.{name.replace(' ', '.').replace('-', '_')}.records_per_s",
            sp["median"],
            "records/s",
            records=n,
            runs=len(values),
            min=sp["min"],
            max=sp["max"],
        )
    report.add_table(f"Throughput, {n:,} records of ~200 bytes, 4 partitions (acks=all, idempotent, lz4)", rows)

    lat_topic = f"bench-kafka-{run_id}-latency"
    ensure_topic(lat_topic, partitions=1, settings=s)
    lat = sorted(_produce_to_consume_ms(lat_topic, p["latency_samples"], s))
    p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    report.record("kafka.produce_consume.p50_ms", p50, "ms", fetch_wait_ms=500, samples=len(lat))
    report.record("kafka.produce_consume.p99_ms", p99, "ms", fetch_wait_ms=500, samples=len(lat))

    joins = [_group_join_s(lat_topic, s) for _ in range(p["joins"])]
    report.record("kafka.group_join.median_s", statistics.median(joins), "s", joins=len(joins))
    rss = _broker_rss_mb(s)
    if rss is not None:
        report.record("kafka.broker.rss_mb", rss, "MB", heap=s.kafka_heap)

    report.add_table(
        "Latency, group join and memory",
        [
            {
                "measure": "produce→consume p50, 500 ms fetch wait (ms)",
                "this broker": p50,
                "previous embedded broker (round 1)": PREVIOUS_BROKER["produce→consume p50, 500 ms fetch wait (ms)"],
            },
            {
                "measure": "produce→consume p99, 500 ms fetch wait (ms)",
                "this broker": p99,
                "previous embedded broker (round 1)": None,
            },
            {
                "measure": f"consumer group join, median of {len(joins)} (s)",
                "this broker": statistics.median(joins),
                "previous embedded broker (round 1)": None,
            },
            {"measure": "broker resident memory (MB)", "this broker": rss, "previous embedded broker (round 1)": None},
        ],
    )
    old_freshness = PREVIOUS_BROKER["stream processor freshness p99 at 500 events/s (ms)"]
    report.add_text(
        f"A consumer waiting with Kafka's default 500 ms fetch wait saw a new record after {p50:.1f} ms at the "
        f"median ({len(lat)} records): the broker answers a waiting fetch when data arrives. The previous "
        "broker let the wait run out, which made the fetch wait the floor of every freshness number "
        f"(its figures: {PREVIOUS_BROKER['produce→consume p50, 500 ms fetch wait (ms)']:.0f} ms p50 with the "
        f"500 ms wait; stream freshness p99 {old_freshness:.0f} ms at 500 events/s). The stream processor's own "
        "freshness is in the streaming section."
    )

    fig, ax = plt.subplots(figsize=(8, 3.2))
    names = [r["operation"] for r in rows]
    med = [r["median records/s"] for r in rows]
    err = [
        [m - r["min"] for m, r in zip(med, rows, strict=True)],
        [r["max"] - m for m, r in zip(med, rows, strict=True)],
    ]
    ax.barh(names, med, xerr=err, capsize=3, color=["tab:blue", "tab:blue", "tab:green", "tab:green"])
    ax.invert_yaxis()
    ax.set(xlabel=f"records / s (median, whiskers min-max of {p['repeats']} runs)", title="Kafka throughput per client")
    fig.tight_layout()
    report.add_figure("Kafka produce and consume throughput", fig)
    plt.close(fig)
