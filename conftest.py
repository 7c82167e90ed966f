"""Test-stack plumbing for the whole suite (tests/ and the notebooks nbval collects).

The first test that needs Kafka, Redis or S3 (marked ``stack`` or ``notebook``, a notebook item
collected by nbval, or any test using the ``lab_settings`` fixture) starts ONE embedded test
stack for the session:

* on its own ports: ``LAB_PORT_OFFSET = $LAB_TEST_PORT_OFFSET`` (default 20000), so it never
  touches the learner's stack on the standard ports;
* under a temporary ``LAB_HOME``;
* exported into ``os.environ`` (``LAB_PORT_OFFSET``, ``LAB_HOME``, ``LAB_STACK=embedded``) so
  that papermill/nbval kernels, subprocesses and ``get_settings()`` all see it.

Every server it started is stopped by pid when the session ends. Tests that never need the
stack never pay for it. ``LAB_TEST_STACK=external`` uses the stack the environment already
names (e.g. a learner's running ``labkit up``, or a Docker stack) and starts nothing.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

DEFAULT_TEST_PORT_OFFSET = "20000"
STACK_MARKERS = ("stack", "notebook")


class _TestStack:
    """The session's test stack, started on first use and stopped at the end."""

    def __init__(self) -> None:
        self.settings: Any = None  # labkit.settings.Settings once started
        self.error: str | None = None
        self.started_here = False
        self.startup_seconds: float | None = None

    def ensure(self, tmp_root: Path | None = None):
        if self.settings is not None:
            return self.settings
        if self.error is not None:  # failed once: fail every later user fast, with the same story
            pytest.fail(self.error, pytrace=False)
        from labkit.settings import get_settings

        external = os.environ.get("LAB_TEST_STACK", "").strip().lower() == "external"
        try:
            if external:
                get_settings.cache_clear()
                settings = get_settings()
                self._check_external(settings)
            else:
                settings = self._start(tmp_root)
        except Exception as exc:
            self.error = f"the test stack is not available: {exc}"
        if self.error is not None:
            pytest.fail(self.error, pytrace=False)
        self.settings = settings
        return settings

    @staticmethod
    def _check_external(settings) -> None:
        from labkit.stack import probes

        dead = []
        for name, probe in probes.PROBES.items():
            ok, detail = probe(settings)
            if not ok:
                dead.append(f"{name}: {detail}")
        if dead:
            raise RuntimeError(
                "LAB_TEST_STACK=external, but the stack the environment names does not answer ("
                + "; ".join(dead)
                + "). Start it with `labkit up`, or unset LAB_TEST_STACK to let the "
                "tests start their own."
            )

    def _start(self, tmp_root: Path | None):
        from labkit.settings import get_settings

        offset = os.environ.get("LAB_TEST_PORT_OFFSET", DEFAULT_TEST_PORT_OFFSET)
        root = Path(tmp_root) if tmp_root else Path(tempfile.mkdtemp(prefix="lab-test-"))
        home = root / "lab-home"
        home.mkdir(parents=True, exist_ok=True)
        # LAB_ENV_FILE=/dev/null: a learner's .env (pinned ports, remote endpoints) must not leak
        # into the test stack, which is self-contained by design.
        os.environ.update(
            {"LAB_PORT_OFFSET": offset, "LAB_HOME": str(home), "LAB_STACK": "embedded", "LAB_ENV_FILE": os.devnull}
        )
        # Per-service overrides from the developer's shell would defeat the offset.
        for var in [k for k in os.environ if k.endswith("_PORT") and k.startswith("LAB_")]:
            del os.environ[var]
        for var in ("LAB_KAFKA_BOOTSTRAP", "LAB_REDIS_URL", "LAB_S3_ENDPOINT"):
            os.environ.pop(var, None)
        get_settings.cache_clear()
        settings = get_settings()
        self.started_here = True  # from here on, session end stops whatever the pid files name
        t0 = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "labkit", "up", "--timeout", "60"], capture_output=True, text=True, timeout=300
        )
        self.startup_seconds = time.monotonic() - t0
        if done.returncode != 0:
            raise RuntimeError(
                f"`labkit up` for the test stack (offset {offset}, LAB_HOME={home}) failed:\n"
                f"{done.stdout}\n{done.stderr}\nIf another test stack holds these ports, run the "
                "tests on others: LAB_TEST_PORT_OFFSET=<n> (a multiple of 1000 up to 23000)."
            )
        return settings

    def heal(self) -> None:
        """Restart any server of our stack that died (a break-and-fix drill may kill one on purpose),
        so one test's damage does not fail every test after it. Costs a few pid checks."""
        if not self.started_here or self.settings is None:
            return
        from labkit.stack import embedded

        if all(embedded.running_pid(self.settings, srv) for srv in embedded.SERVERS):
            return
        done = subprocess.run(
            [sys.executable, "-m", "labkit", "up", "--timeout", "60"], capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            pytest.fail(
                f"a test stack server died and `labkit up` could not restart it:\n{done.stdout}\n{done.stderr}",
                pytrace=False,
            )

    def stop(self) -> None:
        if not self.started_here or self.settings is None:
            return
        self.started_here = False
        from labkit.stack import embedded

        embedded.down(self.settings, say=lambda _line: None)


_STACK = _TestStack()
atexit.register(_STACK.stop)  # a backstop when the session dies before pytest_sessionfinish


def _interrupt_on_sigterm(signum, frame):
    # A CI timeout or `kill` sends SIGTERM, which by default ends Python without atexit or
    # pytest_sessionfinish, leaving the test stack's servers behind. As an interrupt, pytest
    # stops cleanly and the stack is stopped with it.
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt_on_sigterm)


def _needs_stack(item: pytest.Item) -> bool:
    if any(item.get_closest_marker(m) for m in STACK_MARKERS):
        return True
    if "lab_settings" in getattr(item, "fixturenames", ()):
        return True
    path = getattr(item, "path", None) or getattr(item, "fspath", "")
    return str(path).endswith(".ipynb")  # nbval's notebook cells


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # nbval's cells of the reference notebooks are notebook tests too: `-m notebook` selects
    # them and `-m "not notebook"` (make test-quick) leaves them out.
    for item in items:
        if str(getattr(item, "path", "")).endswith(".ipynb"):
            item.add_marker(pytest.mark.notebook)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _needs_stack(item):
        factory = getattr(item.config, "_tmp_path_factory", None)  # what the tmp_path_factory fixture returns
        _STACK.ensure(factory.getbasetemp() if factory else None)
        _STACK.heal()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _STACK.stop()


def pytest_report_header(config: pytest.Config) -> str:
    if os.environ.get("LAB_TEST_STACK", "").strip().lower() == "external":
        return "lab test stack: external (LAB_TEST_STACK=external)"
    offset = os.environ.get("LAB_TEST_PORT_OFFSET", DEFAULT_TEST_PORT_OFFSET)
    return f"lab test stack: embedded, started on first use at LAB_PORT_OFFSET={offset}"


@pytest.fixture(scope="session")
def lab_settings(tmp_path_factory):
    """The test stack's Settings (starting the stack if no test has yet)."""
    return _STACK.ensure(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def small_world(tmp_path_factory):
    """The small synthetic world (seed 42), under pytest's temp dir, never the learner's LAB_HOME
    (with or without a test stack), generated once per session for every test package (tests/data
    has its own ``world`` in its own folder, to test loading a world from disk)."""
    from data_generators import ensure_world

    return ensure_world(scale="small", seed=42, data_dir=tmp_path_factory.getbasetemp() / "worlds")
