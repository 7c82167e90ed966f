"""The Docker Compose stack (``docker-compose.yml`` at the repository root).

Compose reads the lab's settings from the environment this module passes it (ports after
``LAB_PORT_OFFSET``, credentials, buckets), so both stacks serve the same endpoints.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from labkit.settings import REPO_ROOT, Settings

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"


def engine_answers(timeout: float = 5.0) -> bool:
    """True when a Docker engine answers ``docker info`` within ``timeout`` seconds."""
    if not shutil.which("docker"):
        return False
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, timeout=timeout, text=True
        )
    except (subprocess.TimeoutExpired, OSError):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


def compose_available(timeout: float = 10.0) -> bool:
    """True when the Compose v2 plugin (`docker compose`) is installed."""
    try:
        done = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=timeout)
    except (subprocess.TimeoutExpired, OSError):
        return False
    return done.returncode == 0


def compose_env(s: Settings) -> dict[str, str]:
    """The process environment plus the per-service ports and credentials compose reads
    (:func:`labkit.compose.compose_env`: compose cannot apply LAB_PORT_OFFSET itself)."""
    from labkit import compose as compose_files_mod

    return {**os.environ, **compose_files_mod.compose_env(s)}


def project_name(s: Settings) -> str:
    return compose_env(s)["COMPOSE_PROJECT_NAME"]


def compose(
    s: Settings, *args: str, timeout: float | None = None, capture: bool = False
) -> subprocess.CompletedProcess:
    """Run ``docker compose <args>`` for this lab's project. A ``COMPOSE_FILE`` in the
    environment (e.g. the SeaweedFS override) wins; otherwise ``docker-compose.yml``."""
    if not COMPOSE_FILE.is_file():
        raise FileNotFoundError(f"{COMPOSE_FILE} is missing; the Docker stack needs it (or use LAB_STACK=embedded)")
    env = compose_env(s)
    files = [] if env.get("COMPOSE_FILE") else ["-f", str(COMPOSE_FILE)]
    argv = ["docker", "compose", *files, "-p", env["COMPOSE_PROJECT_NAME"], *args]
    return subprocess.run(argv, env=env, cwd=str(REPO_ROOT), timeout=timeout, capture_output=capture, text=True)


def running_services(s: Settings) -> dict[str, str]:
    """service -> state for this project's containers (empty when nothing runs)."""
    try:
        done = compose(s, "ps", "--all", "--format", "{{.Service}} {{.State}}", capture=True, timeout=20)
    except (OSError, FileNotFoundError, subprocess.TimeoutExpired):
        return {}
    states = {}
    for line in done.stdout.splitlines():
        parts = re.split(r"\s+", line.strip(), maxsplit=1)
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states
