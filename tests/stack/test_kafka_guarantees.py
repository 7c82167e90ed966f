"""The Kafka guarantees the lab teaches (notebook 08, drill 2 of notebook 12), on the real broker.

Each test would fail on a broker that only speaks the protocol: aborted transactions must be
invisible to ``read_committed``, ``end_offsets`` must be the high watermark, an idempotent
producer must survive ``kill -9`` of the broker with nothing lost or doubled, and a waiting fetch
must return when data arrives rather than when its wait runs out.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid

import pytest
from kafka import TopicPartition

from labkit.clients import confluent_config, kafka_admin, kafka_consumer, kafka_producer
from labkit.stack import embedded

pytestmark = pytest.mark.stack


def _topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _create(topic: str, partitions: int, settings) -> None:
    from kafka.admin import NewTopic

    admin = kafka_admin(settings)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def _read_all(topic: str, settings, isolation: str) -> list[bytes]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer
    from confluent_kafka import TopicPartition as CTP

    c = Consumer(
        confluent_config(
            settings,
            **{"group.id": f"reader-{uuid.uuid4().hex[:6]}", "enable.auto.commit": False, "isolation.level": isolation},
        )
    )
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.assign([CTP(topic, p, OFFSET_BEGINNING) for p in parts])
        out, idle_since = [], time.monotonic()
        while time.monotonic() - idle_since < 2.0:
            msgs = c.consume(500, timeout=0.2)
            good = [m for m in msgs if not m.error()]
            if good:
                idle_since = time.monotonic()
            out += [m.value() for m in good]
        return out
    finally:
        c.close()


def test_read_committed_hides_an_aborted_transaction(lab_settings):
    from confluent_kafka import Producer

    topic = _topic("txn")
    _create(topic, 2, lab_settings)
    producer = Producer(confluent_config(lab_settings, **{"transactional.id": f"tx-{uuid.uuid4().hex[:6]}"}))
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(10):
        producer.produce(topic, key=str(i).encode(), value=f"aborted-{i}".encode())
    producer.flush()
    producer.abort_transaction(30)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic, key=str(i).encode(), value=f"committed-{i}".encode())
    producer.commit_transaction(30)

    committed = _read_all(topic, lab_settings, "read_committed")
    everything = _read_all(topic, lab_settings, "read_uncommitted")
    assert sorted(committed) == sorted(f"committed-{i}".encode() for i in range(5)), committed
    assert len([v for v in everything if v.startswith(b"aborted-")]) == 10, (
        "read_uncommitted should see the aborted records"
    )


def test_end_offsets_is_the_high_watermark_after_batched_writes(lab_settings):
    topic = _topic("ends")
    _create(topic, 3, lab_settings)
    producer = kafka_producer(lab_settings, linger_ms=50, batch_size=64 * 1024)  # many records per batch
    sent: dict[int, int] = {}
    for i in range(1500):
        md = producer.send(topic, key=f"user-{i % 97}".encode(), value=b"x" * 20)
        md.add_callback(lambda m: sent.__setitem__(m.partition, sent.get(m.partition, 0) + 1))
    producer.flush()
    producer.close()

    consumer = kafka_consumer(group_id=None, settings=lab_settings)
    try:
        parts = [TopicPartition(topic, p) for p in range(3)]
        ends = consumer.end_offsets(parts)
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + 20
        while any(consumer.highwater(tp) is None for tp in parts) and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
        high = {tp.partition: consumer.highwater(tp) for tp in parts}
    finally:
        consumer.close()
    assert {tp.partition: ends[tp] for tp in parts} == sent == high


def test_a_waiting_fetch_returns_when_data_arrives(lab_settings):
    topic = _topic("wait")
    _create(topic, 1, lab_settings)
    wait_ms = 3000
    consumer = kafka_consumer(group_id=None, settings=lab_settings, fetch_max_wait_ms=wait_ms)
    producer = kafka_producer(lab_settings, linger_ms=0)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_end(tp)
    consumer.poll(timeout_ms=500)  # settle the position
    latencies = []
    try:
        for i in range(5):
            sent_at: list[float] = []

            def send_later(i=i, sent_at=sent_at):
                time.sleep(0.3)  # the consumer is already parked in its waiting fetch
                sent_at.append(time.perf_counter())
                producer.send(topic, value=f"m{i}".encode())
                producer.flush()

            t = threading.Thread(target=send_later)
            t.start()
            got = {}
            deadline = time.monotonic() + 10
            while not got and time.monotonic() < deadline:
                got = consumer.poll(timeout_ms=wait_ms * 2)
            received_at = time.perf_counter()
            t.join()
            assert got, "the record never arrived"
            latencies.append(received_at - sent_at[0])
    finally:
        consumer.close()
        producer.close()
    # A broker that sat out the wait would give >= 3 s every time; the real one answers at once.
    assert statistics.median(latencies) < 1.0, (
        f"produce->consume latencies {latencies} s with a {wait_ms} ms fetch wait"
    )


def test_a_consumer_group_joins_quickly(lab_settings):
    topic = _topic("join")
    _create(topic, 2, lab_settings)
    t0 = time.monotonic()
    consumer = kafka_consumer(topic, group_id=f"g-{uuid.uuid4().hex[:6]}", settings=lab_settings)
    try:
        while not consumer.assignment() and time.monotonic() - t0 < 30:
            consumer.poll(timeout_ms=100)
        joined = time.monotonic() - t0
    finally:
        consumer.close()
    assert consumer.assignment() or joined < 30
    assert joined < 10, f"joining a one-member group took {joined:.1f} s (make bench reports the figure)"


def test_an_idempotent_producer_survives_kill_9_of_the_broker(private_stack):
    """The drill of notebook 12, as a test: 0 lost and 0 duplicated acknowledged events."""
    s = private_stack.settings
    up = private_stack.labkit("up", "--timeout", "60")
    assert up.returncode == 0, up.stdout + up.stderr
    topic = _topic("durable")
    _create(topic, 3, s)
    total = 3000
    producer = kafka_producer(
        s,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        retries=2_147_483_647,
        delivery_timeout_ms=120_000,
        request_timeout_ms=5_000,
    )
    acked: list[int] = []
    failed: list[str] = []

    def send_all():
        for i in range(total):
            fut = producer.send(topic, key=f"user-{i % 50}".encode(), value=str(i).encode())
            fut.add_callback(lambda md, i=i: acked.append(i))
            fut.add_errback(lambda exc: failed.append(repr(exc)))
            time.sleep(0.001)
        producer.flush(timeout=120)

    sender = threading.Thread(target=send_all)
    sender.start()
    deadline = time.monotonic() + 30
    while len(acked) < total // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    killed = embedded.stop_server(s, "kafka", hard=True)  # kill -9, mid-stream
    assert killed, "the private stack's broker was not running"
    restarted = private_stack.labkit("up", "--timeout", "60")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    sender.join(timeout=150)
    producer.close()
    assert not sender.is_alive(), "the producer never finished"
    assert not failed, f"sends failed: {failed[:3]}"

    values = [int(v) for v in _read_all(topic, s, "read_committed")]
    lost = set(acked) - set(values)
    duplicated = len(values) - len(set(values))
    assert len(acked) == total and not lost and duplicated == 0, (
        f"acked {len(acked)}/{total}, lost {len(lost)}, duplicated {duplicated}"
    )
