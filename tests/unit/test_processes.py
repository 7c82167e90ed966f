"""labkit.processes: start, probe, adopt and stop background processes (no lab stack, a few seconds)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from labkit import processes

PY = sys.executable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gone(pid: int, timeout: float = 3.0) -> bool:
    """True once ``pid`` no longer runs (a zombie left to an init that does not reap counts as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "child.py"
    path.write_text(body)
    return [PY, str(path)]


@pytest.fixture
def started():
    """Processes a test starts; whatever is still alive at the end is killed (by its own pid)."""
    procs: list[processes.ManagedProcess] = []
    yield procs
    for p in procs:
        p.kill()


# A child that ignores SIGTERM and says so by writing a ready file once its handler is in place.
STUBBORN = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").close()
time.sleep(60)
"""


def _stubborn(tmp_path, started) -> processes.ManagedProcess:
    ready = tmp_path / "ready"
    proc = processes.start(_script(tmp_path, STUBBORN) + [str(ready)], name="stubborn", log_path=tmp_path / "s.log")
    started.append(proc)
    return proc.wait_ready(ready.is_file, timeout=10, interval=0.02)


def test_start_waits_for_a_real_http_probe_then_stops(tmp_path, started):
    port = _free_port()
    pid_path = tmp_path / "run" / "http.pid"

    def probe():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as resp:
                return resp.status == 200, f"HTTP {resp.status}"
        except OSError as exc:
            return False, str(exc)

    proc = processes.start(
        [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        name="http",
        log_path=tmp_path / "logs" / "http.log",
        pid_path=pid_path,
    )
    started.append(proc)
    assert processes.read_pid_file(pid_path)[0] == proc.pid
    assert proc.wait_ready(probe, timeout=10) is proc
    assert probe()[0] and proc.alive()
    assert proc.stop(timeout=5) is False  # it honoured SIGTERM, nothing had to be killed
    assert not proc.alive() and proc.returncode is not None
    assert not pid_path.exists()


def test_stop_ends_the_whole_process_group(tmp_path, started):
    # the grandchild ignores SIGTERM: it outlives its parent's graceful exit unless the group is killed
    ready = tmp_path / "grandchild.pid"
    body = f"""
import subprocess, sys, time
g = subprocess.Popen([sys.executable, "-c", {STUBBORN!r}, {str(tmp_path / "g-ready")!r}])
while True:
    try:
        open({str(tmp_path / "g-ready")!r}).close()
        break
    except OSError:
        time.sleep(0.01)
open({str(ready)!r}, "w").write(str(g.pid))
time.sleep(60)
"""
    proc = processes.start(_script(tmp_path, body), name="parent", log_path=tmp_path / "p.log")
    started.append(proc)
    proc.wait_ready(lambda: ready.is_file() and ready.read_text() != "", timeout=10, interval=0.02)
    grandchild = int(ready.read_text())
    assert psutil.Process(grandchild).status() != psutil.STATUS_ZOMBIE
    proc.stop(timeout=3)
    assert not proc.alive()
    assert _gone(grandchild), "the grandchild survived stop()"


@pytest.mark.parametrize("content", ["", "\n", "garbage", "0", "-3 12.5", "12ab 1.0", "123 not-a-time"])
def test_empty_or_garbled_pid_file_means_not_running(tmp_path, content):
    pid_path = tmp_path / "x.pid"
    pid_path.write_text(content)
    assert processes.adopt(pid_path) is None
    assert not pid_path.exists(), "a pid file naming nothing should be removed"


def test_a_missing_pid_file_means_not_running(tmp_path):
    assert processes.read_pid_file(tmp_path / "none.pid") is None
    assert processes.adopt(tmp_path / "none.pid") is None


def test_a_recycled_pid_is_not_ours(tmp_path):
    # a live pid whose start time is not the one recorded: the pid was reused by another process
    pid_path = tmp_path / "reused.pid"
    pid_path.write_text(f"{os.getpid()} 0.001\n")  # nothing but init starts 1 ms after boot
    assert processes.adopt(pid_path) is None
    assert not pid_path.exists()


def test_adopt_finds_the_process_a_pid_file_names_and_can_stop_it(tmp_path, started):
    pid_path = tmp_path / "child.pid"
    proc = processes.start(
        [PY, "-c", "import time; time.sleep(60)"], name="sleeper", log_path=tmp_path / "c.log", pid_path=pid_path
    )
    started.append(proc)
    other = processes.adopt(pid_path, name="sleeper")
    assert other is not None and other.pid == proc.pid and other.popen is None and other.alive()
    assert processes.adopt(pid_path, match=lambda p: "no-such-thing" in " ".join(p.cmdline())) is None
    pid_path.write_text(f"{proc.pid}\n")  # an old-style pid file without a start time: match decides
    assert processes.adopt(pid_path, match=lambda p: "time.sleep(60)" in " ".join(p.cmdline())).pid == proc.pid
    other.stop(timeout=5)
    assert not proc.alive() and not pid_path.exists()


def test_a_child_that_exits_at_start_raises_with_its_log_tail(tmp_path, started):
    pid_path = tmp_path / "dies.pid"
    proc = processes.start(
        [PY, "-c", "import sys; print('boom: no config file', flush=True); sys.exit(3)"],
        name="dies",
        log_path=tmp_path / "dies.log",
        pid_path=pid_path,
    )
    started.append(proc)
    tail = r"(?s)dies exited while starting \(exit code 3\).*boom: no config"
    with pytest.raises(processes.ProcessError, match=tail):
        proc.wait_ready(lambda: (False, "no answer"), timeout=10)
    assert not pid_path.exists()


def test_an_answer_while_our_process_is_dead_is_not_ready(tmp_path, started):
    # something else answers the probe (another server on the port) but our process already exited
    proc = processes.start([PY, "-c", "raise SystemExit(1)"], name="lost", log_path=tmp_path / "l.log")
    started.append(proc)
    proc.popen.wait(timeout=10)
    with pytest.raises(processes.ProcessError, match="exited while starting"):
        proc.wait_ready(lambda: True, timeout=5)


def test_a_mute_child_times_out_and_is_stopped(tmp_path, started):
    proc = processes.start([PY, "-c", "import time; time.sleep(60)"], name="mute", log_path=tmp_path / "m.log")
    started.append(proc)
    with pytest.raises(processes.ProcessError, match=r"mute did not become ready within 0 s \(port closed\)"):
        proc.wait_ready(lambda: (False, "port closed"), timeout=0.3)
    assert not proc.alive()


def test_a_missing_executable_is_a_clear_error(tmp_path):
    with pytest.raises(processes.ProcessError, match="cannot start ghost: .*no-such-binary-here not found"):
        processes.start([str(tmp_path / "no-such-binary-here")], name="ghost", log_path=tmp_path / "g.log")


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout(tmp_path, started):
    proc = _stubborn(tmp_path, started)
    t0 = time.monotonic()
    assert proc.stop(timeout=0.5) is True
    assert time.monotonic() - t0 >= 0.5
    assert not proc.alive() and proc.returncode == -signal.SIGKILL


def test_a_stopped_child_is_reaped(tmp_path, started):
    proc = processes.start([PY, "-c", "import time; time.sleep(60)"], name="reap", log_path=tmp_path / "r.log")
    started.append(proc)
    proc.stop(timeout=5)
    assert proc.returncode == -signal.SIGTERM
    assert not psutil.pid_exists(proc.pid), "a stopped child must not stay a zombie"
    with pytest.raises(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)  # nothing left to reap


def test_a_child_that_exits_by_itself_is_not_alive_nor_a_zombie(tmp_path, started):
    proc = processes.start([PY, "-c", "pass"], name="brief", log_path=tmp_path / "b.log")
    started.append(proc)
    deadline = time.monotonic() + 10
    while proc.alive():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert proc.returncode == 0 and not psutil.pid_exists(proc.pid)


def test_kill_is_immediate(tmp_path, started):
    proc = _stubborn(tmp_path, started)
    t0 = time.monotonic()
    proc.kill()
    assert time.monotonic() - t0 < 1.0
    assert not proc.alive() and proc.returncode == -signal.SIGKILL


def test_a_paused_child_still_stops_gracefully(tmp_path, started):
    proc = processes.start([PY, "-c", "import time; time.sleep(60)"], name="paused", log_path=tmp_path / "z.log")
    started.append(proc)
    proc.signal(signal.SIGSTOP)
    assert proc.alive()
    t0 = time.monotonic()
    assert proc.stop(timeout=5) is False  # SIGTERM + SIGCONT, not a 5 s wait and a SIGKILL
    assert time.monotonic() - t0 < 2.0 and proc.returncode == -signal.SIGTERM


def test_stop_all_stops_several_and_reports_the_killed(tmp_path, started):
    meek = processes.start([PY, "-c", "import time; time.sleep(60)"], name="meek", log_path=tmp_path / "k.log")
    started.append(meek)
    stubborn = _stubborn(tmp_path, started)
    assert processes.stop_all([meek, stubborn], timeout=0.5) == {stubborn.pid}
    assert not meek.alive() and not stubborn.alive()


def test_log_tail_shows_only_this_runs_lines(tmp_path, started):
    log = tmp_path / "shared.log"
    log.write_text("an earlier run\n")
    proc = processes.start([PY, "-c", "print('line one'); print('line two')"], name="talk", log_path=log)
    started.append(proc)
    proc.popen.wait(timeout=10)
    assert proc.log_tail() == "line one\nline two"
    assert proc.log_tail(lines=1) == "line two"
