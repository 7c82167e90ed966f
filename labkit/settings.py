"""The lab's settings: every endpoint, port, credential, bucket and directory, in one place.

Values come from, in order of precedence:
  1. environment variables (``LAB_*``),
  2. a ``.env`` file at the repository root (the same file docker compose reads),
  3. the defaults below.

Ports: each service has a default port. ``LAB_PORT_OFFSET`` shifts every default port at
once, which is how the test stack (and any second stack) runs beside the learner's stack
without colliding: e.g. ``LAB_PORT_OFFSET=20000`` puts Kafka on 29092 and Redis on 26379.
A per-service variable (``LAB_KAFKA_PORT=...``) wins over the offset, and a full endpoint
(``LAB_KAFKA_BOOTSTRAP``, ``LAB_REDIS_URL``, ``LAB_S3_ENDPOINT``) wins over host and port,
which is how a learner points the lab at a remote or managed service.

Nothing else in the lab hard-codes an endpoint: call :func:`get_settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values

REPO_ROOT = Path(__file__).resolve().parent.parent

# Default ports, before LAB_PORT_OFFSET. The lab's public endpoints use the standard ports.
DEFAULT_PORTS: dict[str, int] = {
    "kafka": 9092,
    "kafka_controller": 9093,  # the KRaft controller listener (embedded stack; internal in Docker)
    "redis": 6379,
    "s3": 9000,
    "s3_console": 9001,  # MinIO console (docker) / SeaweedFS admin UI (embedded)
    "jupyter": 8888,
    "feast_serve": 6566,  # `feast serve` HTTP feature server
    "feature_api": 8000,  # the lab's hybrid feature-serving API
    # SeaweedFS `weed mini` internals (embedded stack only); every one is set explicitly.
    # gRPC twins sit next to their HTTP port, not at SeaweedFS's usual +10000: with the test
    # stack's offset (20000+) a 19xxx port would land in Linux's ephemeral range (32768-60999),
    # where a client's closed connection in TIME_WAIT can block the bind for a minute. The
    # admin gRPC port is the exception: mini's maintenance worker always dials s3_console+10000.
    "weed_master": 9333,
    "weed_volume": 9340,
    "weed_filer": 9350,
    "weed_master_grpc": 9334,
    "weed_volume_grpc": 9341,
    "weed_filer_grpc": 9351,
    "weed_s3_grpc": 9002,
    "weed_admin_grpc": 19001,
}


def _env_file_values() -> dict[str, str]:
    path = Path(os.environ.get("LAB_ENV_FILE", REPO_ROOT / ".env"))
    if path.is_file():
        return {k: v for k, v in dotenv_values(path).items() if v is not None}
    return {}


@dataclass(frozen=True)
class Settings:
    """Resolved settings. Build with :func:`get_settings`; never construct by hand in notebooks."""

    home: Path  # state dir: pid files, logs, server data, results
    stack: str  # "auto" | "docker" | "embedded"
    port_offset: int
    ports: dict[str, int]
    host: str  # where the local stack listens
    kafka_bootstrap: str
    redis_url: str
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str
    s3_region: str
    bucket_lake: str  # raw/, processed/, delta/, iceberg/, models/
    spark_master: str
    kafka_session_timeout_ms: int
    kafka_heartbeat_interval_ms: int
    kafka_heap: str  # the embedded broker's JVM heap (-Xmx), e.g. "384m"
    feature_repo: Path
    extra: dict[str, str] = field(default_factory=dict)
    # How Spark reads the S3 lake: "stage" copies the needed partitions to local disk first
    # (works everywhere); "s3a" reads s3a:// directly (needs the hadoop-aws jars on Spark's classpath).
    lake_read_mode: str = "stage"

    # -- derived paths -------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """Local data the lab writes (generated world, Parquet, Feast registry...)."""
        return self.home / "data"

    @property
    def run_dir(self) -> Path:
        """Pid files of the embedded servers."""
        return self.home / "run"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def results_file(self) -> Path:
        """Measurements recorded by notebooks and benchmarks (JSON lines)."""
        return self.home / "results.jsonl"

    @property
    def buckets(self) -> tuple[str, ...]:
        return (self.bucket_lake,)

    # -- derived endpoints ---------------------------------------------------------------
    @property
    def kafka_host_port(self) -> tuple[str, int]:
        host, _, port = self.kafka_bootstrap.split(",")[0].rpartition(":")
        return host, int(port)

    @property
    def redis_host_port(self) -> tuple[str, int]:
        u = urlparse(self.redis_url)
        return u.hostname or "127.0.0.1", u.port or 6379

    @property
    def s3_host_port(self) -> tuple[str, int]:
        u = urlparse(self.s3_endpoint)
        return u.hostname or "127.0.0.1", u.port or (443 if u.scheme == "https" else 80)

    def lake_uri(self, *parts: str) -> str:
        """``s3://<lake bucket>/<parts...>``, e.g. ``lake_uri("raw", "events")``."""
        tail = "/".join(p.strip("/") for p in parts if p)
        return f"s3://{self.bucket_lake}/{tail}" if tail else f"s3://{self.bucket_lake}"

    def url(self, service: str, path: str = "") -> str:
        """``http://<host>:<port><path>`` for an HTTP service of the lab (jupyter, feast_serve...)."""
        return f"http://{self.host}:{self.ports[service]}{path}"

    def as_table(self) -> list[tuple[str, str]]:
        """(name, value) rows for printing; secrets masked."""
        rows = []
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "s3_secret_key":
                v = v[:2] + "*" * max(0, len(v) - 2)
            rows.append((f.name, str(v)))
        return rows


def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not an integer; set it to a number such as 20000 or unset it") from None


def _heap(raw: str) -> str:
    import re

    if not re.fullmatch(r"\d+[mMgG]", raw):
        raise ValueError(f"LAB_KAFKA_HEAP={raw!r} is not a JVM heap size; write it like 384m or 1g")
    return raw


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Resolve settings from ``environ`` (default: os.environ) over ``.env`` over defaults."""
    env = {**_env_file_values(), **(dict(os.environ) if environ is None else environ)}

    def get(name: str, default: str) -> str:
        return env.get(name, default) or default

    offset = _int(get("LAB_PORT_OFFSET", "0"), "LAB_PORT_OFFSET")
    ports = {}
    for svc, base in DEFAULT_PORTS.items():
        var = f"LAB_{svc.upper()}_PORT"
        ports[svc] = _int(env[var], var) if env.get(var) else base + offset
    bad = {k: p for k, p in ports.items() if not 1024 <= p <= 65535}
    if bad:
        raise ValueError(f"ports out of range 1024-65535: {bad}; lower LAB_PORT_OFFSET or the LAB_*_PORT you set")
    dupes = sorted({p for p in ports.values() if list(ports.values()).count(p) > 1})
    if dupes:
        raise ValueError(f"two lab services share port(s) {dupes}; give each LAB_*_PORT its own value")

    host = get("LAB_HOST", "127.0.0.1")
    home = Path(get("LAB_HOME", str(REPO_ROOT / ".lab"))).expanduser().resolve()
    stack = get("LAB_STACK", "auto")
    if stack not in ("auto", "docker", "embedded"):
        raise ValueError(f"LAB_STACK={stack!r}: use auto, docker or embedded")

    lake_read_mode = get("LAB_LAKE_READ_MODE", "stage")
    if lake_read_mode not in ("stage", "s3a"):
        raise ValueError(
            f"LAB_LAKE_READ_MODE={lake_read_mode!r}: use stage (copy partitions locally) or s3a (needs hadoop-aws jars)"
        )

    return Settings(
        lake_read_mode=lake_read_mode,
        home=home,
        stack=stack,
        port_offset=offset,
        ports=ports,
        host=host,
        kafka_bootstrap=get("LAB_KAFKA_BOOTSTRAP", f"{host}:{ports['kafka']}"),
        redis_url=get("LAB_REDIS_URL", f"redis://{host}:{ports['redis']}/0"),
        s3_endpoint=get("LAB_S3_ENDPOINT", f"http://{host}:{ports['s3']}"),
        s3_access_key=get("LAB_S3_ACCESS_KEY", "mlinfra"),
        s3_secret_key=get("LAB_S3_SECRET_KEY", "mlinfra-lab-secret"),
        s3_region=get("LAB_S3_REGION", "us-east-1"),
        bucket_lake=get("LAB_BUCKET_LAKE", "lake"),
        spark_master=get("LAB_SPARK_MASTER", "local[2]"),
        kafka_session_timeout_ms=_int(get("LAB_KAFKA_SESSION_TIMEOUT_MS", "10000"), "LAB_KAFKA_SESSION_TIMEOUT_MS"),
        kafka_heartbeat_interval_ms=_int(
            get("LAB_KAFKA_HEARTBEAT_INTERVAL_MS", "3000"), "LAB_KAFKA_HEARTBEAT_INTERVAL_MS"
        ),
        kafka_heap=_heap(get("LAB_KAFKA_HEAP", "384m")),
        feature_repo=Path(get("LAB_FEATURE_REPO", str(REPO_ROOT / "feature_repo"))).resolve(),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; call ``get_settings.cache_clear()`` after changing env)."""
    return load_settings()
