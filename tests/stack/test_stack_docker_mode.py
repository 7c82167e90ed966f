"""The Docker path of `labkit up/status/down`, with a stand-in `docker` command.

CI has no Docker engine, so a small fake `docker` on PATH answers `docker info` and records
what `labkit` asks of Compose. Compose "starts" nothing: the endpoints it would publish are the
test stack's, so the readiness probes after `compose up` talk to real servers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from labkit.settings import REPO_ROOT

pytestmark = pytest.mark.stack

FAKE_DOCKER = """#!/bin/sh
# records each call: its arguments, then the ports and project compose would see
echo "ARGS $*" >> "$FAKE_DOCKER_LOG"
echo "ENV LAB_KAFKA_PORT=$LAB_KAFKA_PORT LAB_REDIS_PORT=$LAB_REDIS_PORT LAB_S3_PORT=$LAB_S3_PORT \
COMPOSE_PROJECT_NAME=$COMPOSE_PROJECT_NAME" >> "$FAKE_DOCKER_LOG"
case "$1" in
  info) echo "27.3.1" ;;
esac
exit 0
"""


@pytest.fixture
def docker_env(tmp_path, lab_settings):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_DOCKER_LOG": str(log),
        "LAB_HOME": str(tmp_path / "lab-home"),
        "LAB_STACK": "auto",
    }
    env.pop("COMPOSE_FILE", None)
    return env, log


def _labkit(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "labkit", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_auto_mode_uses_compose_when_an_engine_answers(docker_env, lab_settings):
    env, log = docker_env
    done = _labkit(env, "up", "--timeout", "20")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "docker stack" in done.stdout
    calls = log.read_text()
    project = "mlinfra-lab" if lab_settings.port_offset == 0 else f"mlinfra-lab-{lab_settings.port_offset}"
    expected = f"ARGS compose -f {REPO_ROOT / 'docker-compose.yml'} -p {project} up -d --wait"
    assert expected in calls, calls
    assert (
        f"LAB_KAFKA_PORT={lab_settings.kafka_host_port[1]} LAB_REDIS_PORT={lab_settings.redis_host_port[1]} "
        f"LAB_S3_PORT={lab_settings.s3_host_port[1]}"
    ) in calls, calls
    assert (Path(env["LAB_HOME"]) / "run" / "stack").read_text().strip() == "docker"

    status = _labkit(env, "status")
    assert status.returncode == 0 and status.stdout.startswith("docker stack"), status.stdout

    down = _labkit(env, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"ARGS compose -f {REPO_ROOT / 'docker-compose.yml'} -p {project} down" in log.read_text()


def test_docker_mode_without_an_engine_says_how_to_fix_it(docker_env):
    env, _log = docker_env
    env = {**env, "LAB_STACK": "docker", "PATH": "/nonexistent"}
    done = subprocess.run([sys.executable, "-m", "labkit", "up"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "no Docker engine answers" in done.stderr and "LAB_STACK=embedded" in done.stderr
