"""A private embedded stack for the lifecycle tests, so stopping and killing its servers never
disturbs the session's shared test stack (which notebooks and other tests use)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from labkit.settings import Settings, load_settings

# Beside the session stack (LAB_TEST_PORT_OFFSET), never on it: +500 shifts every port away
# from every other lab port of offsets that are multiples of 1000.
PRIVATE_SHIFT = 500


def _clean_env(**overrides: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not (
            k.startswith("LAB_")
            and (
                k.endswith("_PORT")
                or k in ("LAB_KAFKA_BOOTSTRAP", "LAB_REDIS_URL", "LAB_S3_ENDPOINT", "LAB_TEST_STACK")
            )
        )
    }
    env["LAB_ENV_FILE"] = os.devnull  # a learner's .env must not move these stacks' ports
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        # Each test runs the real CLI in a fresh interpreter; without any bytecode cache every
        # run recompiles boto3 & co. Cache it outside the venv (the venv stays untouched).
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "mlinfra-lab-pycache")
    env.update(overrides)
    return env


@dataclass
class PrivateStack:
    env: dict[str, str]

    @property
    def settings(self) -> Settings:
        return load_settings(self.env)

    def labkit(self, *args: str, timeout: float = 120, **extra_env: str) -> subprocess.CompletedProcess:
        """Run the real CLI (`python -m labkit ...`) against this stack; stdin is not a terminal."""
        return subprocess.run(
            [sys.executable, "-m", "labkit", *args],
            env={**self.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )


def private_offset(shift: int = PRIVATE_SHIFT) -> int:
    return int(os.environ.get("LAB_TEST_PORT_OFFSET", "20000")) + shift


@pytest.fixture(scope="module")
def private_stack(tmp_path_factory) -> PrivateStack:
    home: Path = tmp_path_factory.mktemp("private-lab")
    stack = PrivateStack(_clean_env(LAB_PORT_OFFSET=str(private_offset()), LAB_HOME=str(home), LAB_STACK="embedded"))
    yield stack
    from labkit.stack import embedded

    embedded.down(stack.settings, say=lambda _line: None)  # by the pids in its pid files


@pytest.fixture
def stack_factory(tmp_path):
    """``stack_factory(shift=700, **env)``: a PrivateStack (not started) on its own ports and a
    fresh LAB_HOME; ``env`` adds or overrides LAB_* variables."""

    def make(shift: int = 700, **env: str) -> PrivateStack:
        base = {
            "LAB_PORT_OFFSET": str(private_offset(shift)),
            "LAB_HOME": str(tmp_path / "lab-home"),
            "LAB_STACK": "embedded",
        }
        return PrivateStack(_clean_env(**{**base, **env}))

    return make
