"""Start and stop the feature API as a background process (by PID), for notebooks and tests.

    from serving.process import start_api, stop_api
    api = start_api()                 # python -m serving.api on settings.ports['feature_api']
    ...
    stop_api(api)

Extra environment (``LAB_SERVING_*`` knobs) goes in ``env``; ``port`` overrides the port, so a
second API (say, a buggy deploy) can run beside the first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from labkit import processes
from labkit.settings import REPO_ROOT, Settings, get_settings


@dataclass
class ApiProcess:
    pid: int
    url: str
    log_path: Path
    popen: subprocess.Popen | None = None
    pid_path: Path | None = None
    process: processes.ManagedProcess | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.process is None:  # built from a bare pid: trust the pid alone
            self.process = processes.ManagedProcess(
                "the feature API", self.pid, None, self.log_path, self.pid_path, popen=self.popen
            )

    def is_running(self) -> bool:
        return self.process.alive()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines this run of the API wrote to its log."""
        return self.process.log_tail(lines)

    @classmethod
    def _of(cls, proc: processes.ManagedProcess, url: str) -> ApiProcess:
        return cls(proc.pid, url, proc.log_path, proc.popen, proc.pid_path, proc)


def _pid_file(s: Settings, port: int) -> Path:
    return s.run_dir / f"feature_api-{port}.pid"


def _is_feature_api(p) -> bool:
    return "serving.api" in " ".join(p.cmdline())


def start_api(
    env: dict[str, str] | None = None,
    port: int | None = None,
    settings: Settings | None = None,
    wait_s: float = 90.0,
    wait: bool = True,
) -> ApiProcess:
    """Start ``python -m serving.api`` and wait until /health answers. Raises with the log tail if it dies.

    ``wait=False`` returns at once (start two APIs side by side, then :func:`wait_ready` each).
    """
    s = settings or get_settings()
    port = port or s.ports["feature_api"]
    _stop_previous(s, port)
    # the child must resolve THESE settings even when they are not the environment's (tests)
    stack_env = {
        **s.child_env(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = processes.start(
        [sys.executable, "-m", "serving.api"],
        name=f"the feature API on port {port}",
        log_path=s.log_dir / f"feature_api-{port}.log",
        pid_path=_pid_file(s, port),
        env={**stack_env, "LAB_FEATURE_API_PORT": str(port), **(env or {})},
        cwd=REPO_ROOT,
    )
    api = ApiProcess._of(proc, f"http://{s.host}:{port}")
    return wait_ready(api, wait_s) if wait else api


def _stop_previous(s: Settings, port: int) -> None:
    """A notebook that failed half-way leaves its API running: stop that one (same LAB_HOME, same
    port, our own pid file), and refuse to start beside anything else holding the port."""
    import socket

    old = processes.adopt(_pid_file(s, port), name="the feature API", match=_is_feature_api)
    if old is not None:
        old.stop()
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((s.host, port)) == 0:
            raise RuntimeError(
                f"port {port} on {s.host} is already taken by another process; stop it, or start "
                f"the API on another port: start_api(port=...)"
            )


def stop_processors(group_prefix: str, settings: Settings | None = None) -> list[int]:
    """Stop stream processors left running by an earlier, interrupted run (groups ``<prefix>*``)."""
    s = settings or get_settings()
    stopped = []
    for pid_path in (s.home / "streaming").glob(f"{group_prefix}*/processor.pid"):
        proc = processes.adopt(
            pid_path,
            name=f"stream processor {pid_path.parent.name}",
            match=lambda p: "streaming.processor" in " ".join(p.cmdline()),
        )
        if proc is not None:  # a pid file naming nothing (or someone else) is removed by adopt()
            proc.stop(timeout=20)
            stopped.append(proc.pid)
    return stopped


def wait_ready(api: ApiProcess, wait_s: float = 90.0) -> ApiProcess:
    """Block until the API answers /health (it loads the feature registry first)."""

    def health() -> tuple[bool, str]:
        try:
            code = httpx.get(f"{api.url}/health", timeout=1.0).status_code
            return code == 200, f"{api.url}/health answered {code}"
        except httpx.HTTPError as exc:
            return False, f"no answer on {api.url}/health ({type(exc).__name__})"

    api.process.wait_ready(health, wait_s, interval=0.2)
    return api


def stop_api(api: ApiProcess, timeout_s: float = 10.0) -> None:
    """SIGTERM the API's process group (by PID), then SIGKILL if it does not exit in time."""
    api.process.stop(timeout_s)
