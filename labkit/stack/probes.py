"""Readiness probes: a service is up only when it answers its own protocol.

An open TCP port proves little (a half-started broker accepts connections and then fails), so
each probe speaks the real protocol: Redis ``PING``, a Kafka metadata request, an S3
``ListBuckets`` with the lab's credentials. Every probe returns ``(ok, detail)`` and never raises.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from labkit.settings import Settings

ProbeResult = tuple[bool, str]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return (text if text.startswith(name) else f"{name}: {text}")[:160]


def _closed(host: str, port: int) -> ProbeResult | None:
    """A fast answer when nothing listens at all (protocol clients would wait for their timeout)."""
    if tcp_open(host, port):
        return None
    return False, f"nothing listens on {host}:{port} (connection refused or timed out)"


def tcp_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def probe_redis(settings: Settings, timeout: float = 1.0) -> ProbeResult:
    if (closed := _closed(*settings.redis_host_port)) is not None:
        return closed
    try:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            if not client.ping():
                return False, "PING did not answer PONG"
            info = client.info("server")
            server = (
                f"valkey {info['valkey_version']}"
                if "valkey_version" in info
                else f"redis {info.get('redis_version', '?')}"
            )
            return True, f"PING ok, {server}, {client.dbsize()} keys"
        finally:
            client.close()
    except Exception as exc:  # the probe reports, never raises
        return False, _short(exc)


def probe_kafka(settings: Settings, timeout: float = 2.0) -> ProbeResult:
    host, port = settings.kafka_host_port
    if (closed := _closed(host, port)) is not None:
        return closed
    try:
        from kafka import KafkaConsumer

        ms = int(timeout * 1000)
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap.split(","),
            client_id="labkit-probe",
            request_timeout_ms=max(ms, 1000) + 500,
            bootstrap_timeout_ms=ms,
            connections_max_idle_ms=max(ms, 1000) + 1000,
            metadata_max_age_ms=max(ms, 1000),
        )
        try:
            topics = consumer.topics()
            return True, f"metadata ok, {len(topics)} topic(s)"
        finally:
            consumer.close()
    except Exception as exc:
        return False, _short(exc)


def probe_s3(settings: Settings, timeout: float = 2.0) -> ProbeResult:
    if (closed := _closed(*settings.s3_host_port)) is not None:
        return closed
    try:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key,
            region_name=settings.s3_region,
            config=Config(
                s3={"addressing_style": "path"},
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 1, "mode": "standard"},
            ),
        )
        names = sorted(b["Name"] for b in client.list_buckets().get("Buckets", []))
        missing = [b for b in settings.buckets if b not in names]
        detail = f"ListBuckets ok: {', '.join(names) or 'no buckets'}"
        if missing:
            detail += f" (missing: {', '.join(missing)})"
        return True, detail
    except Exception as exc:
        return False, _short(exc)


PROBES: dict[str, Callable[[Settings], ProbeResult]] = {
    "s3": probe_s3,
    "kafka": probe_kafka,
    "redis": probe_redis,
}


def wait_until(
    check: Callable[[], ProbeResult],
    timeout: float,
    interval: float = 0.2,
    still_alive: Callable[[], bool] | None = None,
) -> ProbeResult:
    """Call ``check`` until it answers ok, ``timeout`` passes, or ``still_alive()`` turns False."""
    deadline = time.monotonic() + timeout
    ok, detail = False, "not probed yet"
    while True:
        ok, detail = check()
        if ok:
            return ok, detail
        if still_alive is not None and not still_alive():
            return False, f"the process exited ({detail})"
        if time.monotonic() >= deadline:
            return False, f"no answer after {timeout:.0f} s ({detail})"
        time.sleep(interval)


@dataclass(frozen=True)
class PortHolder:
    port: int
    pid: int | None
    name: str
    transient: bool = False  # only a closed connection in TIME_WAIT: it frees itself within a minute

    def __str__(self) -> str:
        who = f"{self.name} (pid {self.pid})" if self.pid else self.name
        return f"port {self.port} is held by {who}"


def port_holders(ports: list[int], host: str = "127.0.0.1") -> list[PortHolder]:
    """Who holds each of ``ports`` (listening, or bound without listening); free ports are left out.

    One scan of the socket table names the holders (when psutil may see them); a bind test
    then catches what the scan could not see, without a name.
    """
    wanted = set(ports)
    found: dict[int, PortHolder] = {}
    time_wait: set[int] = set()
    try:
        import psutil

        for conn in psutil.net_connections(kind="inet"):
            if not conn.laddr or conn.laddr.port not in wanted or conn.laddr.port in found:
                continue
            if conn.status == psutil.CONN_TIME_WAIT:
                time_wait.add(conn.laddr.port)
                continue
            bound_only = conn.status == psutil.CONN_CLOSE and not conn.raddr  # bind() without listen()
            if conn.status != psutil.CONN_LISTEN and not bound_only:
                continue
            name = "an unknown process"
            if conn.pid:
                try:
                    proc = psutil.Process(conn.pid)
                    name = " ".join(a for a in proc.cmdline()[:3] if a.strip()).strip() or proc.name()
                    name = name if len(name) <= 90 else name[:87] + "..."
                except (psutil.Error, OSError):
                    name = "a process"
            found[conn.laddr.port] = PortHolder(conn.laddr.port, conn.pid, name)
    except Exception:  # psutil may be denied the socket table on some systems
        pass
    for port in wanted - set(found):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT leftovers
            try:
                sock.bind((host, port))
            except OSError:
                if port in time_wait:
                    # Linux refuses to bind a port whose client-side connection is in TIME_WAIT
                    found[port] = PortHolder(port, None, "a recently closed connection (TIME_WAIT)", True)
                else:
                    found[port] = PortHolder(port, None, "another process (psutil could not name it)")
    return [found[p] for p in ports if p in found]


def describe_holders(holders: list[PortHolder]) -> str:
    """'ports 29000, 29001 are held by weed ... (pid 7)': one clause per holding process."""
    groups: dict[object, list[PortHolder]] = {}
    for h in holders:
        groups.setdefault(h.pid or h.name, []).append(h)
    clauses = []
    for group in groups.values():
        first = group[0]
        who = f"{first.name} (pid {first.pid})" if first.pid else first.name
        ports = ", ".join(str(h.port) for h in group)
        clauses.append(f"port{'s' if len(group) > 1 else ''} {ports} {'are' if len(group) > 1 else 'is'} held by {who}")
    return "; ".join(clauses)


def port_holder(port: int, host: str = "127.0.0.1") -> PortHolder | None:
    """Who holds ``port``, or None when it is free."""
    holders = port_holders([port], host)
    return holders[0] if holders else None


def suggest_offset(s: Settings) -> int | None:
    """A LAB_PORT_OFFSET (a multiple of 100) under which every lab port is free, or None."""
    from labkit.settings import DEFAULT_PORTS

    for offset in range(100, 40000, 100):
        if offset == s.port_offset:
            continue
        ports = [base + offset for base in DEFAULT_PORTS.values()]
        if max(ports) > 65535:
            break
        if not port_holders(ports, s.host):
            return offset
    return None
