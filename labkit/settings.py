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

Knobs of the lab's services (the feature API's ``LAB_SERVING_*``, the stream processor's
``STREAM_*``, the pipelines' retry delays, JupyterLab's token) are fields here too, declared with
:func:`_knob`: one variable name, one default, one parser that rejects a bad value with a one-line
``SettingsError`` (a ``ValueError``). Nothing reads ``os.environ`` for a ``LAB_*`` or ``STREAM_*`` variable elsewhere
(the Airflow DAG file, which runs in Airflow's own virtualenv, is the one exception: it gets
its values from :meth:`Settings.child_env`).

A process the lab starts gets :meth:`Settings.child_env` in its environment, so it resolves exactly
the settings of its parent, even when those were not the environment's (the test stack).

Nothing else in the lab hard-codes an endpoint: call :func:`get_settings`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any
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


def _env_file_path(environ: dict[str, str] | None = None) -> Path:
    """The settings file: ``LAB_ENV_FILE`` (from ``environ``, else the process environment), else ``.env``."""
    raw = (environ or {}).get("LAB_ENV_FILE") or os.environ.get("LAB_ENV_FILE")
    return Path(raw).expanduser() if raw else REPO_ROOT / ".env"


def _env_file_values(path: Path | None = None) -> dict[str, str]:
    path = path or _env_file_path()
    if path.is_file():
        return {k: v for k, v in dotenv_values(path).items() if v is not None}
    return {}


class SettingsError(ValueError):
    """A setting (environment variable or `.env` line) has a value the lab cannot use; the message
    names the variable and how to fix it, in one line."""


# -- parsers: each turns the raw text of one variable into a value, or raises a one-line SettingsError
def _int(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer; set it to a number such as 20000 or unset it") from None


def _float(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number; set it to a number such as 0.5 or unset it") from None


_ON, _OFF = ("on", "1", "true", "yes"), ("off", "0", "false", "no")


def _bool(raw: str, name: str) -> bool:
    if raw.strip().lower() in _ON:
        return True
    if raw.strip().lower() in _OFF:
        return False
    raise SettingsError(f"{name}={raw!r} is not on or off; set it to on or off (or unset it)")


def _str(raw: str, name: str) -> str:
    return raw


def _path(raw: str, name: str) -> Path:
    return Path(raw).expanduser().resolve()


def _heap(raw: str, name: str = "LAB_KAFKA_HEAP") -> str:
    if not re.fullmatch(r"\d+[mMgG]", raw):
        raise SettingsError(f"{name}={raw!r} is not a JVM heap size; write it like 384m or 1g")
    return raw


def _log_level(raw: str, name: str) -> str:
    level = raw.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"{name}={raw!r} is not a log level; use DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


Parser = Callable[[str, str], Any]


def _parse_knob(parse: Parser, raw: str, name: str) -> Any:
    try:
        return parse(raw, name)
    except SettingsError:
        raise
    except ValueError as exc:  # a parser's own ValueError: still a bad setting, said in one line
        raise SettingsError(f"{name}={raw!r}: {exc}") from None


def _knob(env: str, default: Any, parse: Parser = _str, *, secret: bool = False) -> Any:
    """A settings field read from the variable ``env`` (environment over ``.env``) with ``parse``.

    An unset or empty variable means ``default``; ``None`` as a default means "not set" (or, for
    a path, "derived from another setting"). ``secret`` masks the value in :meth:`Settings.as_table`.
    """
    return field(default=default, metadata={"env": env, "parse": parse, "secret": secret})


def _env_text(value: Any) -> str:
    """A setting's value as the text of its variable (the inverse of its parser)."""
    if value is None:
        return ""  # an empty variable means: the default
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


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
    # The settings file these settings were read from (LAB_ENV_FILE, default .env); handed to children.
    env_file: Path = REPO_ROOT / ".env"

    # -- knobs of the lab's services (each one a variable; see .env.example) --------------------
    jupyter_token: str = _knob("LAB_JUPYTER_TOKEN", "", secret=True)  # empty: a random token per start
    # the feature-serving API (serving.config.ServingConfig): timeouts per source, cache, staleness
    serving_batch_timeout_s: float = _knob("LAB_SERVING_BATCH_TIMEOUT_S", 0.5, _float)
    serving_stream_timeout_s: float = _knob("LAB_SERVING_STREAM_TIMEOUT_S", 0.1, _float)
    serving_cache_timeout_s: float = _knob("LAB_SERVING_CACHE_TIMEOUT_S", 0.1, _float)
    serving_cache_ttl_s: float = _knob("LAB_SERVING_CACHE_TTL_S", 60.0, _float)
    serving_cache_stale_ttl_s: float = _knob("LAB_SERVING_CACHE_STALE_TTL_S", 3600.0, _float)
    serving_cache: bool = _knob("LAB_SERVING_CACHE", True, _bool)
    serving_max_stream_age_s: float = _knob("LAB_SERVING_MAX_STREAM_AGE_S", 300.0, _float)
    serving_context_tz: str = _knob("LAB_SERVING_CONTEXT_TZ", "UTC")
    serving_feature_service: str = _knob("LAB_SERVING_FEATURE_SERVICE", "recommendation_v1")
    serving_cache_prefix: str = _knob("LAB_SERVING_CACHE_PREFIX", "serving:cache:")
    serving_stream_prefix: str = _knob("LAB_SERVING_STREAM_PREFIX", "features:user:")
    serving_log: Path | None = _knob("LAB_SERVING_LOG", None, _path)  # None: <home>/serving/served_features.jsonl
    serving_log_level: str = _knob("LAB_SERVING_LOG_LEVEL", "INFO", _log_level)
    serving_scale: str = _knob("LAB_SERVING_SCALE", "small")  # the synthetic world the API loads
    serving_seed: int = _knob("LAB_SERVING_SEED", 42, _int)
    # the stream processor (python -m streaming.processor)
    stream_loglevel: str = _knob("STREAM_LOGLEVEL", "WARNING", _log_level)
    stream_ready_file: Path | None = _knob("STREAM_READY_FILE", None, _path)  # written once it has joined its group
    stream_profile: Path | None = _knob("STREAM_PROFILE", None, _path)  # write a cProfile of the run here
    # pipelines: the Prefect flow's and the Airflow DAG's delay between retries of a step
    pipeline_retry_delay_s: float = _knob("LAB_PIPELINE_RETRY_DELAY_S", 1.0, _float)
    airflow_retry_delay_s: float = _knob("LAB_AIRFLOW_RETRY_DELAY_S", 300.0, _float)
    # the Python the Airflow DAG's tasks run the steps with (None: the repository's .venv)
    pipeline_python: Path | None = _knob("LAB_PIPELINE_PYTHON", None, _path)

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
            if f.name == "s3_secret_key" or (f.metadata.get("secret") and v):
                v = v[:2] + "*" * max(0, len(v) - 2)
            rows.append((f.name, str(v)))
        return rows

    def child_env(self) -> dict[str, str]:
        """The environment a child process needs to resolve exactly these settings.

        Every setting is written out as its variable (an empty one means the default), so the
        child agrees with its parent even when the parent's settings are not its environment's
        (``dataclasses.replace``, the test stack). Pass it to the child as a whole, then add what
        is the child's own (``{**s.child_env(), "LAB_FEATURE_API_PORT": "8001"}``).
        """
        env = {
            "LAB_ENV_FILE": str(self.env_file),
            "LAB_HOME": str(self.home),
            "LAB_STACK": self.stack,
            "LAB_PORT_OFFSET": str(self.port_offset),
            **{f"LAB_{svc.upper()}_PORT": str(port) for svc, port in self.ports.items()},
            "LAB_HOST": self.host,
            "LAB_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            "LAB_REDIS_URL": self.redis_url,
            "LAB_S3_ENDPOINT": self.s3_endpoint,
            "LAB_S3_ACCESS_KEY": self.s3_access_key,
            "LAB_S3_SECRET_KEY": self.s3_secret_key,
            "LAB_S3_REGION": self.s3_region,
            "LAB_BUCKET_LAKE": self.bucket_lake,
            "LAB_SPARK_MASTER": self.spark_master,
            "LAB_KAFKA_SESSION_TIMEOUT_MS": str(self.kafka_session_timeout_ms),
            "LAB_KAFKA_HEARTBEAT_INTERVAL_MS": str(self.kafka_heartbeat_interval_ms),
            "LAB_KAFKA_HEAP": self.kafka_heap,
            "LAB_FEATURE_REPO": str(self.feature_repo),
            "LAB_LAKE_READ_MODE": self.lake_read_mode,
        }
        for f in fields(self):
            if "env" in f.metadata:
                env[f.metadata["env"]] = _env_text(getattr(self, f.name))
        return env


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Resolve settings from ``environ`` (default: os.environ) over ``.env`` over defaults."""
    env_file = _env_file_path(environ)
    env = {**_env_file_values(env_file), **(dict(os.environ) if environ is None else environ)}

    def get(name: str, default: str) -> str:
        return env.get(name, default) or default

    offset = _int(get("LAB_PORT_OFFSET", "0"), "LAB_PORT_OFFSET")
    ports = {}
    for svc, base in DEFAULT_PORTS.items():
        var = f"LAB_{svc.upper()}_PORT"
        ports[svc] = _int(env[var], var) if env.get(var) else base + offset
    bad = {k: p for k, p in ports.items() if not 1024 <= p <= 65535}
    if bad:
        raise SettingsError(f"ports out of range 1024-65535: {bad}; lower LAB_PORT_OFFSET or the LAB_*_PORT you set")
    dupes = sorted({p for p in ports.values() if list(ports.values()).count(p) > 1})
    if dupes:
        raise SettingsError(f"two lab services share port(s) {dupes}; give each LAB_*_PORT its own value")

    host = get("LAB_HOST", "127.0.0.1")
    home = Path(get("LAB_HOME", str(REPO_ROOT / ".lab"))).expanduser().resolve()
    stack = get("LAB_STACK", "auto")
    if stack not in ("auto", "docker", "embedded"):
        raise SettingsError(f"LAB_STACK={stack!r}: use auto, docker or embedded")

    lake_read_mode = get("LAB_LAKE_READ_MODE", "stage")
    if lake_read_mode not in ("stage", "s3a"):
        raise SettingsError(
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
        env_file=env_file,
        **{
            f.name: _parse_knob(f.metadata["parse"], env[f.metadata["env"]], f.metadata["env"])
            for f in fields(Settings)
            if "env" in f.metadata and env.get(f.metadata["env"])
        },
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process (cached; call ``get_settings.cache_clear()`` after changing env)."""
    return load_settings()
