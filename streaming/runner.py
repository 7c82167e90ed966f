"""Start, watch and stop the stream processor as its own OS process, and feed it events.

    from streaming.runner import start_processor, produce_events, wait_for_offsets
    proc = start_processor(input_topic="ev", features_topic="feat", dlq_topic="dlq", group="g1")
    offsets = produce_events("ev", events)          # {partition: last offset written}
    wait_for_offsets(proc, offsets)                 # until the processor has flushed them
    proc.stop()                                     # SIGTERM: graceful;  proc.kill(): SIGKILL, a crash

The processor's pid file and log live under ``<LAB_HOME>/streaming/<group>/``.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from labkit import processes
from labkit.clients import ensure_topic
from labkit.settings import REPO_ROOT, Settings, get_settings
from streaming.events import encode_event
from streaming.processor import command_line

__all__ = [
    "ensure_topic",
    "produce_events",
    "start_processor",
    "wait_for_offsets",
    "read_topic",
    "high_watermarks",
    "processor_lag",
    "ProcessorProcess",
    "stop_pid",
]


def produce_events(
    topic: str,
    events: Iterable[dict | bytes | tuple[bytes, bytes]],
    settings: Settings | None = None,
    producer=None,
    rate: float | None = None,
) -> dict[int, int]:
    """Produce events (dicts are keyed by user_id; raw bytes go unkeyed, as a poison record would)
    and return ``{partition: highest offset written}``, which is what :func:`wait_for_offsets` needs.

    ``rate`` (events/s) paces the sends, for live-traffic measurements; None sends as fast as possible.
    """
    from labkit.clients import kafka_producer

    own = producer is None
    producer = producer or kafka_producer(settings, linger_ms=5, batch_size=256 * 1024)
    high: dict[int, int] = {}

    def done(md):
        if md.offset > high.get(md.partition, -1):
            high[md.partition] = md.offset

    t0 = time.perf_counter()
    for i, ev in enumerate(events):
        if isinstance(ev, dict):
            k, v = encode_event(ev)
        elif isinstance(ev, tuple):
            k, v = ev
        else:
            k, v = None, ev
        producer.send(topic, key=k, value=v).add_callback(done)
        if rate:
            ahead = (i + 1) / rate - (time.perf_counter() - t0)
            if ahead > 0:
                time.sleep(ahead)
    producer.flush()
    if own:
        producer.close()
    return high


def _is_processor(p) -> bool:
    return "streaming.processor" in " ".join(p.cmdline())


@dataclass
class ProcessorProcess:
    """A running ``python -m streaming.processor``; stop it with :meth:`stop` or crash it with :meth:`kill`."""

    pid: int
    group: str
    args: list[str]
    log_path: Path
    pid_path: Path
    popen: subprocess.Popen | None = None
    settings: Settings | None = None
    process: processes.ManagedProcess | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.process is None:  # built from a bare pid: trust the pid alone
            self.process = processes.ManagedProcess(
                f"stream processor {self.group}",
                self.pid,
                None,
                self.log_path,
                self.pid_path,
                self.args,
                popen=self.popen,
            )

    @property
    def metrics_prefix(self) -> str:
        return f"stream:{self.group}:"

    def alive(self) -> bool:
        return self.process.alive()

    def stop(self, timeout: float = 20) -> int | None:
        """Graceful stop (SIGTERM: the processor commits its checkpoint and exits; SIGKILL after
        ``timeout``). Returns the exit code (0 = clean) when this process started it."""
        self.process.stop(timeout)
        return self.popen.returncode if self.popen else None

    def kill(self) -> None:
        """SIGKILL: the crash nobody gets to clean up after (no commit, no flush)."""
        self.process.kill()

    def pause(self) -> None:
        """SIGSTOP: freeze the processor (a hung process, a long GC pause) without killing it."""
        self.process.signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT: let a paused processor run again; it carries on from where it froze."""
        self.process.signal(signal.SIGCONT)

    def log_tail(self, n: int = 30) -> str:
        """The last ``n`` lines this run of the processor wrote to its log."""
        return self.process.log_tail(n)

    def progress(self, topic: str) -> dict[int, int]:
        """Highest flushed input offset per partition, as the processor reported it."""
        from labkit.clients import redis_client

        raw = redis_client(self.settings).hgetall(f"{self.metrics_prefix}progress:{topic}")
        return {int(k): int(v) for k, v in raw.items()}


def start_processor(
    *,
    input_topic: str,
    features_topic: str,
    dlq_topic: str,
    group: str,
    settings: Settings | None = None,
    ready_timeout: float = 60,
    **options,
) -> ProcessorProcess:
    """Launch the processor in a new process and wait until it has joined its consumer group
    (it writes a ready file once its processing loop runs).

    ``options`` map to the command-line flags: ``grace_s=600`` -> ``--grace-s 600``,
    ``no_freshness=True`` -> ``--no-freshness`` (:func:`streaming.processor.command_line`; an
    unknown option raises ``TypeError`` here, before anything starts).
    """
    s = settings or get_settings()
    run_dir = s.home / "streaming" / group
    pid_path, log_path, ready_path = run_dir / "processor.pid", run_dir / "processor.log", run_dir / "ready"
    old = processes.adopt(pid_path, match=_is_processor)  # an empty or stale pid file means: not running
    if old is not None:
        raise RuntimeError(
            f"a processor for group {group!r} already runs as pid {old.pid}; stop it first "
            f"(streaming.runner.stop_pid({old.pid})) or use another group"
        )
    ready_path.unlink(missing_ok=True)
    args = [
        sys.executable,
        "-m",
        "streaming.processor",
        *command_line(
            input_topic=input_topic, features_topic=features_topic, dlq_topic=dlq_topic, group=group, **options
        ),
    ]
    env = {
        **s.child_env(),  # the processor resolves exactly these settings
        "STREAM_READY_FILE": str(ready_path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    managed = processes.start(
        args,
        name=f"the stream processor (group {group!r})",
        log_path=log_path,
        pid_path=pid_path,
        env=env,
        cwd=REPO_ROOT,
    )
    proc = ProcessorProcess(managed.pid, group, args, log_path, pid_path, managed.popen, s, managed)
    # A notebook that fails half-way must not leave its processor running after the kernel exits.
    atexit.register(_stop_quietly, proc)
    managed.wait_ready(
        lambda: (
            ready_path.is_file(),
            f"no ready file {ready_path} yet: it has not joined its consumer group; is Kafka up (`labkit status`)?",
        ),
        ready_timeout,
        interval=0.05,
    )
    return proc


def _stop_quietly(proc: ProcessorProcess) -> None:
    try:
        proc.stop(timeout=10)
    except Exception:  # interpreter shutdown: best effort only
        pass


def stop_pid(pid: int, timeout: float = 20) -> None:
    """Stop a processor started elsewhere (e.g. a previous notebook run) by its pid: SIGTERM its
    process group, SIGKILL after ``timeout``. A pid that is not a stream processor is refused."""
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:  # gone already
        return
    if "streaming.processor" not in cmdline:
        raise ValueError(f"pid {pid} is not a stream processor ({cmdline[:80]!r}); not stopping it")
    processes.ManagedProcess(f"stream processor (pid {pid})", pid, None).stop(timeout)


def wait_for_offsets(proc: ProcessorProcess, topic: str, offsets: dict[int, int], timeout: float = 60) -> float:
    """Block until the processor has flushed every ``{partition: offset}``; return the seconds waited."""
    t0 = time.monotonic()
    while True:
        done = proc.progress(topic)
        if all(done.get(p, -1) >= o for p, o in offsets.items()):
            return time.monotonic() - t0
        if not proc.alive():
            raise RuntimeError(
                f"the processor died (exit {proc.popen.returncode if proc.popen else '?'}):\n{proc.log_tail()}"
            )
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(
                f"processor still behind after {timeout}s: flushed {done}, want {offsets}\n{proc.log_tail()}"
            )
        time.sleep(0.05)


def read_topic(
    topic: str,
    settings: Settings | None = None,
    *,
    expect: int | None = None,
    timeout: float = 30,
    committed_only: bool = True,
) -> list[dict]:
    """Every record of ``topic`` as ``{"partition", "offset", "key", "value"}`` (values JSON-decoded when possible).

    Reads from the beginning without a consumer group, up to each partition's end offset as it was
    when the call began (or until ``expect`` records arrived, or ``timeout`` seconds passed).
    ``committed_only`` reads with ``isolation.level=read_committed``: records of aborted transactions
    (a crashed exactly-once processor) are skipped, as a downstream consumer would skip them, and a
    transaction still open holds the reader back until it commits or aborts (its records count once
    it commits), which is why the reader waits for the end offsets rather than for a quiet moment.
    """
    import json

    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from labkit.clients import confluent_config

    conf = confluent_config(
        settings,
        **{
            "group.id": "lab-reader",
            "enable.auto.commit": False,
            "isolation.level": "read_committed" if committed_only else "read_uncommitted",
        },
    )
    c = Consumer(conf)
    try:
        meta = c.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None:
            raise ValueError(f"cannot read topic {topic!r}: {meta.error}")
        parts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        ends = {tp.partition: c.get_watermark_offsets(tp, timeout=10)[1] for tp in parts}
        c.assign(parts)
        out: list[dict] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            msgs = c.consume(1000, timeout=0.2)
            for m in msgs:
                if m.error():
                    continue
                v = m.value()
                try:
                    v = json.loads(v)
                except (TypeError, ValueError):
                    pass
                out.append(
                    {
                        "partition": m.partition(),
                        "offset": m.offset(),
                        "key": m.key().decode() if m.key() else None,
                        "value": v,
                    }
                )
            if expect is not None and len(out) >= expect:
                break
            if expect is None:
                positions = {tp.partition: tp.offset for tp in c.position(parts)}
                if all(positions.get(p, -1) >= end for p, end in ends.items() if end > 0):
                    break
        return out
    finally:
        c.close()


def high_watermarks(topic: str, settings: Settings | None = None, timeout: float = 10) -> dict[int, int]:
    """``{partition: high watermark}``: the offset the next record will get, from ``end_offsets()``."""
    from kafka import TopicPartition

    from labkit.clients import kafka_consumer

    c = kafka_consumer(group_id=None, settings=settings, request_timeout_ms=int(timeout * 1000) + 1000)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(c.partitions_for_topic(topic) or [])]
        if not parts:
            raise ValueError(f"topic {topic!r} does not exist (or has no partitions)")
        return {tp.partition: off for tp, off in c.end_offsets(parts).items()}
    finally:
        c.close()


def processor_lag(proc: ProcessorProcess | str, topic: str, settings: Settings | None = None) -> int:
    """Records on ``topic`` the processor has not flushed yet (0 = caught up).

    ``proc`` is a :class:`ProcessorProcess` or a group name (a processor started elsewhere).
    """
    from labkit.clients import redis_client

    group = proc.group if isinstance(proc, ProcessorProcess) else proc
    raw = redis_client(settings).hgetall(f"stream:{group}:progress:{topic}")
    done = {int(k): int(v) for k, v in raw.items()}
    return sum(max(0, hw - (done.get(p, -1) + 1)) for p, hw in high_watermarks(topic, settings).items())
