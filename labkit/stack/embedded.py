"""The embedded stack: S3, Kafka and Redis as local background processes, no Docker needed.

What each server is and how its command line is built lives in :mod:`labkit.stack.servers`;
starting, probing and stopping a process in :mod:`labkit.processes`. This module is the
up/down/status logic: S3 first (the buckets), then Kafka and Redis. Each server gets a pid file
under ``LAB_HOME/run``, a log under ``LAB_HOME/logs`` and its data under ``LAB_HOME/data``, so
``down``/``up`` keeps topics, messages, committed offsets, objects and keys. Processes are
stopped by the pid recorded at start, never by name.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit import processes
from labkit.settings import Settings
from labkit.stack import probes
from labkit.stack.servers import BY_NAME, SERVERS, Server, StackError

Printer = Callable[[str], None]

__all__ = ["BY_NAME", "SERVERS", "Server", "StackError", "Row", "up", "down", "status", "any_running"]


# -- files under LAB_HOME --------------------------------------------------------------------
def pid_file(s: Settings, name: str) -> Path:
    return s.run_dir / f"{name}.pid"


def log_file(s: Settings, name: str) -> Path:
    return s.log_dir / f"{name}.log"


def stack_marker(s: Settings) -> Path:
    return s.run_dir / "stack"


def read_pid(s: Settings, name: str) -> int | None:
    held = processes.read_pid_file(pid_file(s, name))
    return held[0] if held else None


def running(s: Settings, server: Server) -> processes.ManagedProcess | None:
    """The live process of ``server`` this LAB_HOME started, or None (a stale pid file is removed)."""
    return processes.adopt(
        pid_file(s, server.name),
        name=server.name,
        log_path=log_file(s, server.name),
        match=lambda p: server.is_ours(p.cmdline()),
        keep_stale=True,
    )


def running_pid(s: Settings, server: Server) -> int | None:
    proc = running(s, server)
    return proc.pid if proc else None


def pid_alive(pid: int | None, server: Server | None = None) -> bool:
    """True when ``pid`` runs (and, given ``server``, is that server's process)."""
    if not pid:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return server is None or server.is_ours(proc.cmdline())
    except psutil.Error:
        return False


# -- diagnosing a server that died -----------------------------------------------------------
_CAUSES: list[tuple[str, str]] = [
    (
        r"address already in use|bind: address|Address in use|EADDRINUSE|BindException",
        "a port it needs is taken; stop that process or set LAB_PORT_OFFSET to move the lab's ports",
    ),
    (
        r"permission denied|EACCES|AccessDeniedException",
        "permission denied on a file or port: check that LAB_HOME is writable by you",
    ),
    (r"no space left", "the disk is full: free space or point LAB_HOME at another disk"),
    (
        r"Bad file format reading the append only file|AOF.*corrupt",
        "the append-only file of Redis is damaged: run `labkit reset --yes` (wipes the lab's data)",
    ),
    (
        r"InconsistentClusterIdException|meta\.properties|not formatted",
        "Kafka's log dir belongs to another cluster or is damaged: `labkit reset --yes` wipes it",
    ),
    (
        r"OutOfMemoryError|Cannot allocate memory|Could not reserve enough space",
        "not enough memory for the JVM: free memory, or lower LAB_KAFKA_HEAP (e.g. 256m)",
    ),
]


def likely_cause(log_text: str, server: Server, s: Settings) -> str:
    taken = probes.port_holders(server.ports(s), s.host)
    for pattern, cause in _CAUSES:
        if re.search(pattern, log_text, re.IGNORECASE):
            if taken and "port" in cause:
                return cause + ": " + probes.describe_holders(taken)
            return cause
    if taken:
        return probes.describe_holders(taken) + " (stop it or set LAB_PORT_OFFSET)"
    return "see the log above; `labkit doctor` checks Java, binaries, ports and disk"


# -- up / down / status ----------------------------------------------------------------------
@dataclass
class Row:
    service: str
    endpoint: str
    pid: str
    answers: bool
    detail: str


def _wait_for_ports(server: Server, s: Settings, say: Printer) -> None:
    taken = probes.port_holders(server.ports(s), s.host)
    if taken and all(h.transient for h in taken):
        # A port in the OS's ephemeral range was the local end of a connection that just
        # closed; the kernel frees it within 60 s. Waiting beats failing.
        say(
            f"  {server.name:<6} waiting for port(s) {', '.join(str(h.port) for h in taken)}: "
            "a recently closed connection (TIME_WAIT) holds them for up to a minute"
        )
        deadline = time.monotonic() + 65
        while taken and all(h.transient for h in taken) and time.monotonic() < deadline:
            time.sleep(1)
            taken = probes.port_holders(server.ports(s), s.host)
    if taken:
        free = probes.suggest_offset(s)
        example = f" (e.g. `LAB_PORT_OFFSET={free} labkit up`: every lab port is free there)" if free else ""
        raise StackError(
            f"{server.title} cannot start: "
            + probes.describe_holders(taken)
            + f". Fix: stop that process, or give this stack other ports with LAB_PORT_OFFSET{example}."
        )


def _start(server: Server, s: Settings, timeout: float, say: Printer) -> int:
    launch = server.launch(s)  # raises with the fix when a binary or the jars are missing
    _wait_for_ports(server, s, say)
    proc = processes.start(
        launch.argv,
        name=server.name,
        log_path=log_file(s, server.name),
        pid_path=pid_file(s, server.name),
        env=launch.env,
        cwd=s.home,
    )
    try:
        proc.wait_ready(lambda: server.probe(s), timeout, what=server.title)
    except processes.ProcessError as exc:
        raise StackError(
            f"{server.title} did not become ready: {exc}\nLikely cause: {likely_cause(proc.log_tail(40), server, s)}"
        ) from None
    return proc.pid


def ensure_buckets(s: Settings) -> list[str]:
    """Create the lab's buckets that do not exist yet; returns the ones created."""
    from botocore.exceptions import ClientError

    from labkit.clients import s3_client

    client = s3_client(s)
    have = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    created = []
    for bucket in s.buckets:
        if bucket not in have:
            try:
                client.create_bucket(Bucket=bucket)
                created.append(bucket)
            except ClientError as exc:  # the server's own -bucket= creation won the race
                if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
    return created


@contextlib.contextmanager
def _exclusive(s: Settings, say: Printer):
    """One `labkit up`/`down` at a time per LAB_HOME (two at once would start servers twice)."""
    s.run_dir.mkdir(parents=True, exist_ok=True)
    with (s.run_dir / "lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("  another `labkit up`/`down` is running for this LAB_HOME; waiting for it...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def up(s: Settings, timeout: float = 60.0, say: Printer = print) -> list[Row]:
    """Start what is not running (idempotent) and wait until each server answers.

    A server that fails to start stops the ones this call started, so a failed ``up`` leaves
    nothing half-running behind.
    """
    for d in (s.home, s.run_dir, s.log_dir, s.data_dir):
        d.mkdir(parents=True, exist_ok=True)
    with _exclusive(s, say):
        _up_locked(s, timeout, say)
    return status(s)


def _up_locked(s: Settings, timeout: float, say: Printer) -> None:
    stack_marker(s).write_text("embedded\n")
    for server in SERVERS:  # a missing binary, Java or jar stops `up` before anything starts
        if server.is_local(s) and not running(s, server):
            server.preflight(s)
    started: list[processes.ManagedProcess] = []
    try:
        for server in SERVERS:
            if not server.is_local(s):
                ok, detail = server.probe(s)
                say(
                    f"  {server.name:<6} external at {server.endpoint(s)}: "
                    f"{'answers' if ok else 'NOT answering'} ({detail})"
                )
                continue
            stale = read_pid(s, server.name)
            proc = running(s, server)
            if proc:
                ok, detail = probes.wait_until(lambda srv=server: srv.probe(s), min(timeout, 15.0))
                if not ok:
                    raise StackError(
                        f"{server.title} runs (pid {proc.pid}) but does not answer: {detail}. "
                        f"Fix: `labkit down && labkit up`; its log is {log_file(s, server.name)}"
                    )
                say(f"  {server.name:<6} already up   pid {proc.pid:<7} {server.endpoint(s)}")
            else:
                t0 = time.monotonic()
                pid = _start(server, s, timeout, say)
                started.append(running(s, server) or processes.ManagedProcess(server.name, pid, None))
                verb = "restarted" if stale else "started"
                say(f"  {server.name:<6} {verb:<12} pid {pid:<7} {server.endpoint(s)}  ({time.monotonic() - t0:.1f} s)")
            if server.name == "s3":
                created = ensure_buckets(s)
                if created:
                    say(f"  s3     created bucket(s): {', '.join(created)}")
    except BaseException:
        processes.stop_all(started, timeout=10)
        raise


def down(s: Settings, say: Printer = print) -> int:
    """Stop every embedded server this LAB_HOME started, by pid. Returns how many were stopped.

    Kafka and Redis stop together (Kafka's controlled shutdown takes a second or two), then S3.
    """
    if not s.run_dir.is_dir():
        return 0
    with _exclusive(s, say):
        return _down_locked(s, say)


def _down_locked(s: Settings, say: Printer) -> int:
    stopped = 0
    for wave in (["redis", "kafka"], ["s3"]):
        alive = {name: proc for name in wave if (proc := running(s, BY_NAME[name]))}
        t0 = time.monotonic()
        killed = processes.stop_all(list(alive.values()), timeout=20)
        for name, proc in alive.items():
            how = "killed after SIGTERM timed out" if proc.pid in killed else "stopped"
            say(f"  {name:<6} {how} (pid {proc.pid}, {time.monotonic() - t0:.1f} s)")
            stopped += 1
        for name in wave:
            pid_file(s, name).unlink(missing_ok=True)
    return stopped


def status(s: Settings) -> list[Row]:
    rows = []
    for server in SERVERS:
        ok, detail = server.probe(s)
        if not server.is_local(s):
            rows.append(Row(server.title, server.endpoint(s), "external", ok, detail))
            continue
        stale = read_pid(s, server.name)
        proc = running(s, server)
        if proc:
            rows.append(Row(server.title, server.endpoint(s), str(proc.pid), ok, detail))
        elif ok:  # answers, but not from a process of this LAB_HOME
            holder = probes.port_holder(server.host_port(s)[1], s.host)
            rows.append(
                Row(
                    server.title,
                    server.endpoint(s),
                    "-",
                    True,
                    f"answers, but not started from this LAB_HOME ({holder or 'unknown holder'})",
                )
            )
        else:
            why = f"process {stale} is gone (died or was killed)" if stale else "not started"
            rows.append(Row(server.title, server.endpoint(s), "-", False, f"{why}; `labkit up` starts it"))
    return rows


def any_running(s: Settings) -> bool:
    return any(running(s, srv) for srv in SERVERS)


def stop_server(s: Settings, name: str, hard: bool = False) -> int | None:
    """Stop one server of this LAB_HOME (a drill's outage); ``hard`` is SIGKILL, a crash. Returns its pid."""
    proc = running(s, BY_NAME[name])
    if proc is None:
        return None
    if hard:
        proc.kill()
    else:
        proc.stop(timeout=20)
    return proc.pid
