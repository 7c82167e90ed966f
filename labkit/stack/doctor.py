"""`labkit doctor`: look for what would stop the lab from running, and say how to fix each.

Every check returns a :class:`Check`; none raises. A check with ``warn_only`` is a note (the
lab still runs), otherwise a failed check is a problem and ``labkit doctor`` exits non-zero.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from labkit import jvm, processes
from labkit.settings import Settings
from labkit.stack import docker, embedded, probes, servers

MIN_JAVA = jvm.MIN_JAVA
MIN_FREE_DISK_GB = 2.0
LOW_FREE_DISK_GB = 5.0
MIN_AVAILABLE_MEM_GB = 2.0
LOW_AVAILABLE_MEM_GB = 4.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn_only: bool = False


def _run(argv: list[str], timeout: float = 10.0) -> tuple[int, str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, str(exc)
    return done.returncode, (done.stdout + done.stderr).strip()


java_major = jvm.parse_java_major


def check_java() -> Check:
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    fix = (
        f"install Java {MIN_JAVA}+: `sudo apt-get install openjdk-17-jre-headless` (Debian/Ubuntu), "
        "`brew install openjdk@17` (macOS), or `make system-deps`; then check JAVA_HOME"
    )
    if not java or not Path(java).exists():
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no `java` on PATH"
        return Check("java (Kafka, Spark)", False, where, fix)
    code, out = _run([java, "-version"])
    major = java_major(out)
    if code != 0 or major is None:
        return Check("java (Kafka, Spark)", False, f"`{java} -version` failed: {out[:120]}", fix)
    if major < MIN_JAVA:
        return Check("java (Kafka, Spark)", False, f"Java {major} at {java}; Kafka 4 and Spark 4 need {MIN_JAVA}+", fix)
    return Check("java (Kafka, Spark)", True, f"Java {major} at {java}")


def check_kafka_jars() -> Check:
    label = "kafka jars (jvm/kafka.lock)"
    server = servers.BY_NAME["kafka"]
    try:
        bad = jvm.missing_or_wrong("kafka")
    except jvm.JvmError as exc:
        return Check(label, False, str(exc), server.missing_fix)
    if bad:
        return Check(
            label, False, f"{len(bad)} jar(s) missing or not matching their SHA-256 (e.g. {bad[0]})", server.missing_fix
        )
    return Check(label, True, f"{len(jvm.read_lock('kafka').jars)} jars verified in {jvm.jar_dir('kafka')}")


def check_binary(server: servers.Server, binary: str | None, version_args: list[str]) -> Check:
    label = f"{server.signature} ({server.name})"
    if not binary:
        return Check(label, False, "binary not found", server.missing_fix)
    code, out = _run([binary, *version_args])
    if code != 0:
        return Check(label, False, f"{binary} does not run: {out[:120]}", server.missing_fix)
    first = next((line for line in out.splitlines() if line.strip()), "")
    return Check(label, True, f"{first[:70]} ({binary})")


def _own_pids(s: Settings) -> dict[int, str]:
    """Pids of servers started from this LAB_HOME (a port they hold is not a problem)."""
    own = {}
    for server in embedded.SERVERS:
        pid = embedded.running_pid(s, server)
        if pid:
            own[pid] = server.name
    jupyter = processes.adopt(s.run_dir / "jupyter.pid", name="jupyter")
    if jupyter:
        own[jupyter.pid] = "jupyter"
    return own


suggest_offset = probes.suggest_offset


def check_ports(s: Settings) -> list[Check]:
    """Each lab port must be free, or held by this LAB_HOME's own servers. Held ports are
    grouped by the process holding them, so one stray server gives one problem, not ten."""
    own = _own_pids(s)
    names = {port: svc for svc, port in s.ports.items()}
    taken = probes.port_holders(list(s.ports.values()), s.host)
    foreign: dict[object, list] = {}
    for holder in taken:
        if holder.pid is not None and holder.pid in own:
            continue
        foreign.setdefault(holder.pid or holder.name, []).append(holder)
    in_use = sum(1 for h in taken if h.pid in own)
    if not foreign:
        return [
            Check(
                "ports",
                True,
                f"{len(names)} lab ports free or held by this lab's own servers "
                f"({in_use} in use by it); offset {s.port_offset}",
            )
        ]
    offset = suggest_offset(s)
    move = (
        f"`export LAB_PORT_OFFSET={offset}` (all lab ports are free there)"
        if offset is not None
        else "set LAB_PORT_OFFSET to move every lab port"
    )
    checks = []
    for holders in foreign.values():
        first = holders[0]
        ports = ", ".join(f"{h.port} ({names[h.port]})" for h in holders)
        stop = f"stop it (`kill {first.pid}` if it is yours)" if first.pid else "stop it"
        checks.append(
            Check(
                f"port{'s' if len(holders) > 1 else ''} {holders[0].port}"
                + (f" +{len(holders) - 1}" if len(holders) > 1 else ""),
                False,
                f"{ports} held by {first.name}" + (f" (pid {first.pid})" if first.pid else ""),
                f"{stop}, or move this lab's ports: {move}",
            )
        )
    return checks


def ephemeral_range() -> tuple[int, int] | None:
    """The OS's range for outgoing connections' local ports (Linux), or None when unknown."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return None


def check_ephemeral(s: Settings) -> Check:
    span = ephemeral_range()
    inside = sorted((port, svc) for svc, port in s.ports.items() if span and span[0] <= port <= span[1])
    if not inside:
        return Check(
            "port range",
            True,
            "no lab port is in the OS's ephemeral range" + (f" ({span[0]}-{span[1]})" if span else ""),
        )
    names = ", ".join(f"{port} ({svc})" for port, svc in inside)
    return Check(
        "port range",
        False,
        f"{names} in the ephemeral range {span[0]}-{span[1]}: a closed outgoing connection can hold "
        "such a port for up to 60 s (`labkit up` waits for it)",
        "a smaller LAB_PORT_OFFSET keeps every lab port below the range",
        warn_only=True,
    )


def check_docker(s: Settings) -> Check:
    answers = docker.engine_answers(timeout=5)
    if s.stack == "docker" and not answers:
        return Check(
            "docker",
            False,
            "LAB_STACK=docker but no Docker engine answers `docker info`",
            "start Docker (Docker Desktop, or `sudo systemctl start docker`), or use LAB_STACK=embedded",
        )
    if answers:
        if not docker.compose_available():
            return Check(
                "docker",
                False,
                "engine answers but `docker compose` (v2) is missing; `labkit up` falls back to the embedded servers",
                "install the docker-compose-plugin package (or Docker Desktop)",
                warn_only=True,
            )
        compose = docker.COMPOSE_FILE.is_file()
        return Check(
            "docker",
            True,
            "engine answers; `labkit up` uses Docker Compose"
            + ("" if compose else " (but docker-compose.yml is missing: embedded stack)"),
        )
    where = "no `docker` command" if not shutil.which("docker") else "`docker` found but no engine answers"
    return Check("docker", True, f"{where}; `labkit up` runs the embedded servers (that is fine)")


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(s: Settings) -> Check:
    where = _existing_parent(s.home)
    free_gb = shutil.disk_usage(where).free / 1e9
    detail = f"{free_gb:.1f} GB free at {where}"
    fix = "free disk space, or point LAB_HOME at a disk with more room"
    if free_gb < MIN_FREE_DISK_GB:
        return Check("disk", False, detail + f" (need {MIN_FREE_DISK_GB:.0f}+ GB)", fix)
    if free_gb < LOW_FREE_DISK_GB:
        return Check(
            "disk", False, detail + f" (medium/large scales want {LOW_FREE_DISK_GB:.0f}+ GB)", fix, warn_only=True
        )
    return Check("disk", True, detail)


def check_memory() -> Check:
    import psutil

    vm = psutil.virtual_memory()
    avail = vm.available / 1e9
    detail = f"{avail:.1f} GB available of {vm.total / 1e9:.1f} GB"
    fix = "close other programs; Spark's driver alone takes 2 GB (LAB_SPARK_MASTER, spark.driver.memory)"
    if avail < MIN_AVAILABLE_MEM_GB:
        return Check("memory", False, detail + f" (need {MIN_AVAILABLE_MEM_GB:.0f}+ GB)", fix)
    if avail < LOW_AVAILABLE_MEM_GB:
        return Check(
            "memory", False, detail + f" (tight: {LOW_AVAILABLE_MEM_GB:.0f}+ GB is comfortable)", fix, warn_only=True
        )
    return Check("memory", True, detail)


def check_home(s: Settings) -> Check:
    where = _existing_parent(s.home)
    if os.access(where, os.W_OK):
        return Check("LAB_HOME", True, f"{s.home} is writable")
    return Check(
        "LAB_HOME",
        False,
        f"{where} is not writable by you",
        "point LAB_HOME at a directory you own, e.g. `export LAB_HOME=$HOME/.mlinfra-lab`",
    )


def check_python() -> Check:
    v = sys.version_info
    if (v.major, v.minor) == (3, 11):
        return Check("python", True, f"Python {v.major}.{v.minor}.{v.micro} ({sys.executable})")
    return Check(
        "python",
        False,
        f"Python {v.major}.{v.minor}; the lock file is for 3.11",
        "create the venv with Python 3.11: `make clean setup PYTHON=python3.11`",
    )


def run_checks(s: Settings) -> list[Check]:
    srv = embedded.BY_NAME
    return [
        check_python(),
        check_java(),
        check_binary(srv["redis"], servers.find_valkey(), ["--version"]),
        check_kafka_jars(),
        check_binary(srv["s3"], servers.find_weed(), ["version"]),
        *check_ports(s),
        check_ephemeral(s),
        check_docker(s),
        check_home(s),
        check_disk(s),
        check_memory(),
    ]
