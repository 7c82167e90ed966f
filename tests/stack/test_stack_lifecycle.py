"""`labkit up / status / down / up` on a private embedded stack, through the real CLI.

The tests in this module run in order and share one private stack: cold up, data written,
down, up again (the data must still be there), an idempotent up, a server killed with
SIGKILL (status must say so, up must heal it), and finally reset.
"""

from __future__ import annotations

import os
import signal
import time

import psutil
import pytest

from labkit import clients
from labkit.stack import embedded

pytestmark = pytest.mark.stack

TOPIC = "stack-roundtrip"
GROUP = "stack-roundtrip-group"
MESSAGES = [(f"user-{i}".encode(), f"event-{i}".encode()) for i in range(5)]
COMMITTED = 3
S3_KEY = "stack-tests/roundtrip.txt"
S3_BODY = b"kept across down/up"
REDIS_KEY = "stack-tests:roundtrip"


def _pids(settings) -> dict[str, int | None]:
    return {srv.name: embedded.read_pid(settings, srv.name) for srv in embedded.SERVERS}


def _status_rows(output: str) -> dict[str, str]:
    """service name (s3/kafka/redis) -> its line of the status table."""
    rows = {}
    for line in output.splitlines():
        for key, title in (("s3", "S3 ("), ("kafka", "Kafka ("), ("redis", "Redis (")):
            if line.startswith(title):
                rows[key] = line
    return rows


def _write_data(settings) -> None:
    from kafka import TopicPartition
    from kafka.admin import NewTopic
    from kafka.structs import OffsetAndMetadata

    admin = clients.kafka_admin(settings)
    try:
        admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    producer = clients.kafka_producer(settings)
    for key, value in MESSAGES:
        producer.send(TOPIC, key=key, value=value)
    producer.flush(10)
    producer.close()

    consumer = clients.kafka_consumer(group_id=GROUP, settings=settings)
    tp = TopicPartition(TOPIC, 0)
    consumer.assign([tp])
    consumer.commit({tp: OffsetAndMetadata(COMMITTED, "", -1)})
    assert consumer.committed(tp) == COMMITTED
    consumer.close()

    clients.s3_client(settings).put_object(Bucket=settings.bucket_lake, Key=S3_KEY, Body=S3_BODY)
    clients.redis_client(settings).set(REDIS_KEY, "still here")


def _read_back(settings) -> None:
    from kafka import TopicPartition

    admin = clients.kafka_admin(settings)
    try:
        assert TOPIC in admin.list_topics(), "the topic did not survive down/up"
    finally:
        admin.close()
    tp = TopicPartition(TOPIC, 0)
    consumer = clients.kafka_consumer(group_id=GROUP, settings=settings)
    consumer.assign([tp])
    assert consumer.committed(tp) == COMMITTED, "the committed offset did not survive down/up"
    consumer.seek_to_beginning(tp)
    seen = []
    deadline = time.monotonic() + 15
    while len(seen) < len(MESSAGES) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            seen += [(r.key, r.value) for r in records]
    consumer.close()
    assert seen == MESSAGES, f"messages after down/up: {seen}"

    body = clients.s3_client(settings).get_object(Bucket=settings.bucket_lake, Key=S3_KEY)["Body"].read()
    assert body == S3_BODY
    assert clients.redis_client(settings).get(REDIS_KEY) == b"still here"


def test_cold_up_starts_every_server_in_its_own_session(private_stack):
    t0 = time.monotonic()
    done = private_stack.labkit("up")
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stdout + done.stderr
    s = private_stack.settings
    for name in ("s3", "kafka", "redis"):
        assert f"{name:<6} started" in done.stdout, done.stdout
    pids = _pids(s)
    for name, pid in pids.items():
        assert pid and embedded.pid_alive(pid, embedded.BY_NAME[name]), f"{name} is not running after up"
        # they outlive `labkit up`: their own session, not the CLI's process group
        assert os.getsid(pid) == pid, f"{name} does not run in its own session"
    assert embedded.stack_marker(s).read_text().strip() == "embedded"
    for name in pids:
        assert embedded.log_file(s, name).is_file()
    assert elapsed < 90, f"cold up took {elapsed:.1f} s"


def test_status_shows_every_service_answering(private_stack):
    done = private_stack.labkit("status")
    assert done.returncode == 0, done.stdout
    rows = _status_rows(done.stdout)
    assert set(rows) == {"s3", "kafka", "redis"}, done.stdout
    pids = _pids(private_stack.settings)
    for name, line in rows.items():
        assert str(pids[name]) in line and " yes " in line, line
    assert "ListBuckets ok" in rows["s3"] and "metadata ok" in rows["kafka"] and "PING ok" in rows["redis"]


def test_down_then_up_keeps_topics_offsets_objects_and_keys(private_stack):
    s = private_stack.settings
    _write_data(s)
    before = _pids(s)

    done = private_stack.labkit("down")
    assert done.returncode == 0, done.stdout + done.stderr
    for name, pid in before.items():
        assert not embedded.pid_alive(pid), f"{name} (pid {pid}) still runs after down"
        assert not embedded.pid_file(s, name).exists()
    status = private_stack.labkit("status")
    assert status.returncode == 1, "status must fail when the stack is down"
    assert all(" NO " in line for line in _status_rows(status.stdout).values()), status.stdout

    done = private_stack.labkit("up")
    assert done.returncode == 0, done.stdout + done.stderr
    _read_back(s)


def test_up_is_idempotent(private_stack):
    s = private_stack.settings
    before = _pids(s)
    done = private_stack.labkit("up")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("already up") == 3, done.stdout
    assert _pids(s) == before, "an idempotent up must not restart running servers"


def test_status_tells_the_truth_after_kill_9_and_up_heals(private_stack):
    s = private_stack.settings
    victim = embedded.read_pid(s, "redis")
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while embedded.pid_alive(victim) and time.monotonic() < deadline:
        time.sleep(0.05)

    status = private_stack.labkit("status")
    assert status.returncode == 1, status.stdout
    rows = _status_rows(status.stdout)
    assert " NO " in rows["redis"] and f"process {victim} is gone" in rows["redis"], status.stdout
    assert " yes " in rows["kafka"] and " yes " in rows["s3"], status.stdout

    done = private_stack.labkit("up")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "redis  restarted" in done.stdout and done.stdout.count("already up") == 2, done.stdout
    assert all(row.answers for row in embedded.status(s))
    # the append-only file kept the key written before the crash
    assert clients.redis_client(s).get(REDIS_KEY) == b"still here"


def test_reset_refuses_without_yes_when_not_interactive(private_stack):
    done = private_stack.labkit("reset")
    assert done.returncode == 2
    assert "--yes" in done.stderr
    assert all(row.answers for row in embedded.status(private_stack.settings)), "a refused reset stopped something"


def test_reset_yes_stops_everything_and_empties_lab_home(private_stack):
    s = private_stack.settings
    pids = [p for p in _pids(s).values() if p]
    done = private_stack.labkit("reset", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert s.home.is_dir() and list(s.home.iterdir()) == []
    assert not any(psutil.pid_exists(p) and embedded.pid_alive(p) for p in pids)
