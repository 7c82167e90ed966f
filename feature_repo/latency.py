"""Measuring online reads: a timing loop, Feast's Redis layout for a raw floor, and `feast serve`.

Three ways to read the same features for the same keys:
  * raw Redis: one pipelined HMGET per entity key, what Feast itself sends (the floor);
  * the Feast SDK: ``store.get_online_features`` in this process (a kept-open store);
  * ``feast serve``: the same call over HTTP to Feast's feature server.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labkit import processes
from labkit.settings import Settings, get_settings


def time_calls(fn: Callable[[], Any], n: int, warmup: int = 5) -> np.ndarray:
    """Latency of ``n`` calls of ``fn`` in milliseconds (after ``warmup`` untimed calls)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    for _ in range(warmup):
        fn()
    out = np.empty(n)
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        fn()
        out[i] = (clock() - t0) / 1e6
    return out


def summarize(samples_ms: np.ndarray) -> dict[str, float]:
    s = np.asarray(samples_ms, dtype=float)
    return {
        "p50_ms": float(np.percentile(s, 50)),
        "p90_ms": float(np.percentile(s, 90)),
        "p99_ms": float(np.percentile(s, 99)),
        "mean_ms": float(s.mean()),
        "n": int(s.size),
    }


# --- raw Redis: the keys and hash fields Feast's Redis online store uses -----------------------
def redis_keys(project: str, join_key: str, ids: Iterable[Any]) -> list[bytes]:
    """Feast's Redis key per entity: serialized entity key (format v3) + project name.

    Built with Feast's own (private) helpers so the layout cannot drift from what it writes.
    """
    from feast.infra.online_stores.helpers import _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    keys = []
    for i in ids:
        ek = EntityKey(join_keys=[join_key], entity_values=[Value(int64_val=int(i))])
        keys.append(_redis_key(project, ek, entity_key_serialization_version=3))
    return keys


def redis_fields(view: str, features: Iterable[str]) -> list[bytes]:
    """Hash fields of one view: murmur3 of ``view:feature`` per feature, plus ``_ts:view``."""
    from feast.infra.online_stores.helpers import _mmh3

    return [_mmh3(f"{view}:{f}") for f in features] + [f"_ts:{view}".encode()]


def raw_redis_reader(client, plan: list[tuple[list[bytes], list[bytes]]]) -> Callable[[], list]:
    """A function doing one pipelined round trip: HMGET(key, fields) for each (keys, fields) pair."""

    def read() -> list:
        pipe = client.pipeline(transaction=False)
        for keys, fields in plan:
            for k in keys:
                pipe.hmget(k, fields)
        return pipe.execute()

    return read


# --- `feast serve`, started and stopped by PID ---------------------------------------------------
@dataclass
class FeastServer:
    """A ``feast serve`` process for this stack: ``with FeastServer() as srv: httpx.post(srv.url...)``."""

    settings: Settings = field(default_factory=get_settings)
    port: int | None = None
    workers: int = 1
    # gunicorn recycles a worker after --max-requests (Feast's default: 1000) calls: a latency spike
    # and reset keep-alive connections in the middle of a benchmark. 0 turns recycling off.
    max_requests: int = 0
    log_path: Path | None = None
    _process: processes.ManagedProcess | None = field(default=None, init=False, repr=False)
    _at_exit: bool = field(default=False, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.port or self.settings.ports['feast_serve']}"

    @property
    def proc(self) -> subprocess.Popen | None:
        """The gunicorn master's Popen while this object runs a server."""
        return self._process.popen if self._process is not None else None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def launch(self) -> FeastServer:
        """Start the process and return at once (it needs 10-30 s to import Feast and load the
        registry: launch early, do other work, then :meth:`wait_ready`)."""
        from feature_repo.lab_store import REPO_DIR, _prepare_env, write_feature_store_yaml

        if self._process is not None and self._process.alive():
            return self
        port = self.port or self.settings.ports["feast_serve"]
        _probe_port_free(self.settings.host, port)
        _prepare_env(self.settings)
        yaml_path = write_feature_store_yaml(self.settings)
        self.log_path = self.settings.log_dir / f"feast-serve-{port}.log"
        feast_bin = Path(sys.executable).with_name("feast")
        cmd = [str(feast_bin)] if feast_bin.exists() else [sys.executable, "-c", "from feast.cli.cli import cli; cli()"]
        cmd += [
            "-c",
            str(REPO_DIR),
            "-f",
            str(yaml_path),
            "serve",
            "--host",
            self.settings.host,
            "--port",
            str(port),
            "--workers",
            str(self.workers),
            "--no-access-log",
            "--max-requests",
            str(self.max_requests),
        ]
        # Its own process group (stop() ends the gunicorn master and its workers together), and on
        # Linux the kernel SIGTERMs it if this process dies without stop(), even by SIGKILL (a
        # notebook kernel killed mid-run).
        self._process = processes.start(
            cmd, name=f"feast serve on {self.url}", log_path=self.log_path, die_with_parent=True
        )
        if not self._at_exit:  # the other safety net: a script or kernel that exits normally
            atexit.register(self.stop)
            self._at_exit = True
        return self

    def wait_ready(self, timeout_s: float = 90.0) -> FeastServer:
        """Block until ``/health`` answers 200; a dead process or a timeout raises with the log's tail."""
        import httpx

        if self._process is None:
            raise RuntimeError("feast serve was not launched: call launch() or start() first")

        def health() -> tuple[bool, str]:
            try:
                code = httpx.get(self.url + "/health", timeout=1.0).status_code
                return code == 200, f"{self.url}/health answered {code}"
            except httpx.HTTPError as exc:
                return False, f"no answer on {self.url}/health ({type(exc).__name__})"

        self._process.wait_ready(health, timeout_s, interval=0.25)
        return self

    def start(self, timeout_s: float = 90.0) -> FeastServer:
        return self.launch().wait_ready(timeout_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the server's process group (master and workers), SIGKILL after ``timeout_s``."""
        if self._process is not None:
            self._process.stop(timeout_s)
            self._process = None

    def __enter__(self) -> FeastServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _probe_port_free(host: str, port: int) -> None:
    import socket

    with socket.socket() as s:
        if s.connect_ex((host, port)) == 0:
            raise RuntimeError(
                f"port {port} on {host} is already in use (another feast serve?). Stop it, or "
                f"set LAB_FEAST_SERVE_PORT to a free port"
            )


def rows_to_columns(entity_rows: list[dict]) -> dict[str, list]:
    """``[{"user_id": 1, ...}, ...]`` -> ``{"user_id": [1, ...], ...}``: the feature server's JSON shape."""
    if not entity_rows:
        raise ValueError("no entity rows to send")
    return {k: [r[k] for r in entity_rows] for k in entity_rows[0]}


def response_to_columns(payload: dict) -> dict[str, list]:
    """The feature server's JSON answer as ``{feature_name: [value per entity row]}``.

    Its shape: ``metadata.feature_names`` lists the columns; ``results[i].values`` holds column i.
    """
    try:
        names = payload["metadata"]["feature_names"]
        columns = [r["values"] for r in payload["results"]]
    except (KeyError, TypeError):
        raise ValueError(f"not a /get-online-features answer: {str(payload)[:300]}") from None
    return dict(zip(names, columns, strict=False))
