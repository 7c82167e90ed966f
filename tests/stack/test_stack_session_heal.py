"""The session's test stack heals between tests: a test that stops one of its servers (as a
break-and-fix drill does on purpose) must not fail every test that runs after it."""

from __future__ import annotations

import os
import signal
import time

import pytest

from labkit.stack import embedded, probes

pytestmark = pytest.mark.stack

external = pytest.mark.skipif(
    os.environ.get("LAB_TEST_STACK", "").lower() == "external",
    reason="LAB_TEST_STACK=external: the tests do not own that stack's servers",
)

_victim: dict[str, int] = {}


@external
def test_1_a_test_stops_the_session_stacks_redis(lab_settings):
    pid = embedded.read_pid(lab_settings, "redis")
    os.kill(pid, signal.SIGTERM)  # graceful: the other tests' keys are saved first
    deadline = time.monotonic() + 10
    while embedded.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not embedded.pid_alive(pid)
    _victim["pid"] = pid


@external
def test_2_the_next_test_finds_it_running_again(lab_settings):
    assert "pid" in _victim, "runs after test_1 in file order"
    ok, detail = probes.probe_redis(lab_settings)
    assert ok, detail
    assert embedded.read_pid(lab_settings, "redis") != _victim["pid"]
