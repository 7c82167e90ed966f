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
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from labkit.settings import REPO_ROOT, Settings, get_settings


@dataclass
class ApiProcess:
    pid: int
    url: str
    log_path: Path
    popen: subprocess.Popen | None = None
    pid_path: Path | None = None

    def is_running(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _pid_file(s: Settings, port: int) -> Path:
    return s.run_dir / f"feature_api-{port}.pid"


def start_api(env: dict[str, str] | None = None, port: int | None = None, settings: Settings | None = None,
              wait_s: float = 90.0, wait: bool = True) -> ApiProcess:
    """Start ``python -m serving.api`` and wait until /health answers. Raises with the log tail if it dies.

    ``wait=False`` returns at once (start two APIs side by side, then :func:`wait_ready` each).
    """
    s = settings or get_settings()
    port = port or s.ports["feature_api"]
    _stop_previous(s, port)
    s.run_dir.mkdir(parents=True, exist_ok=True)
    s.log_dir.mkdir(parents=True, exist_ok=True)
    log_path = s.log_dir / f"feature_api-{port}.log"
    # the child must talk to THIS stack even when `settings` is not the environment's (tests)
    stack_env = {"LAB_HOME": str(s.home), "LAB_PORT_OFFSET": str(s.port_offset), "LAB_REDIS_URL": s.redis_url,
                 "LAB_KAFKA_BOOTSTRAP": s.kafka_bootstrap, "LAB_S3_ENDPOINT": s.s3_endpoint}
    child_env = {**os.environ, **stack_env, "LAB_FEATURE_API_PORT": str(port), **(env or {})}
    child_env.setdefault("PYTHONPATH", str(REPO_ROOT))
    with log_path.open("ab") as log:
        popen = subprocess.Popen([sys.executable, "-m", "serving.api"], cwd=REPO_ROOT, env=child_env,
                                 stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    _pid_file(s, port).write_text(str(popen.pid))
    api = ApiProcess(popen.pid, f"http://{s.host}:{port}", log_path, popen, _pid_file(s, port))
    return wait_ready(api, wait_s) if wait else api


def _stop_previous(s: Settings, port: int) -> None:
    """A notebook that failed half-way leaves its API running: stop that one (same LAB_HOME, same
    port, our own pid file), and refuse to start beside anything else holding the port."""
    import socket

    pid_file = _pid_file(s, port)
    if pid_file.is_file():
        try:
            old = ApiProcess(int(pid_file.read_text().strip()), f"http://{s.host}:{port}", s.log_dir / "x")
        except ValueError:
            old = None
        if old is not None and old.is_running() and _is_feature_api(old.pid):
            stop_api(old)
        pid_file.unlink(missing_ok=True)
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((s.host, port)) == 0:
            raise RuntimeError(f"port {port} on {s.host} is already taken by another process; stop it, or start "
                               f"the API on another port: start_api(port=...)")


def _is_feature_api(pid: int) -> bool:
    try:
        import psutil

        return "serving.api" in " ".join(psutil.Process(pid).cmdline())
    except Exception:
        return False


def stop_processors(group_prefix: str, settings: Settings | None = None) -> list[int]:
    """Stop stream processors left running by an earlier, interrupted run (groups ``<prefix>*``)."""
    from streaming.runner import stop_pid

    s = settings or get_settings()
    stopped = []
    for pid_path in (s.home / "streaming").glob(f"{group_prefix}*/processor.pid"):
        try:
            pid = int(pid_path.read_text().strip())
        except ValueError:
            continue
        try:
            import psutil

            if "streaming.processor" in " ".join(psutil.Process(pid).cmdline()):
                stop_pid(pid)
                stopped.append(pid)
        except Exception:
            pass
        pid_path.unlink(missing_ok=True)
    return stopped


def wait_ready(api: ApiProcess, wait_s: float = 90.0) -> ApiProcess:
    """Block until the API answers /health (it loads the feature registry first)."""
    popen, log_path, port = api.popen, api.log_path, api.url.rsplit(":", 1)[1]
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not api.is_running():
            code = popen.returncode if popen is not None else "?"
            raise RuntimeError(f"the feature API exited at start (code {code}); log {log_path}:\n"
                               f"{api.log_tail()}")
        try:
            if httpx.get(f"{api.url}/health", timeout=1.0).status_code == 200:
                return api
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_api(api)
    raise TimeoutError(f"the feature API did not answer on {api.url}/health within {wait_s:.0f} s; "
                       f"is port {port} taken? log {log_path}:\n{api.log_tail()}")


def stop_api(api: ApiProcess, timeout_s: float = 10.0) -> None:
    """SIGTERM the API (by PID), then SIGKILL if it does not exit in time."""
    if api.is_running():
        os.kill(api.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while api.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if api.is_running():
            os.kill(api.pid, signal.SIGKILL)
    if api.popen is not None:
        api.popen.wait(timeout=5)
    if api.pid_path is not None and api.pid_path.is_file() and api.pid_path.read_text().strip() == str(api.pid):
        api.pid_path.unlink(missing_ok=True)
