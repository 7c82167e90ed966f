"""One way to run a background process: start it, wait until it answers, stop it by its own pid.

Every server and helper process of the lab (the embedded Kafka, Redis and S3, JupyterLab, the
feature API, the stream processor, ``feast serve``) goes through this module:

    proc = processes.start(argv, name="kafka", log_path=..., pid_path=...)
    proc.wait_ready(lambda: probe(...), timeout=30)       # a real protocol probe, not a sleep
    ...
    proc.stop()                                           # TERM the process group, then KILL

    proc = processes.adopt(pid_path)                      # the same process, from another process

What it guarantees:
- a pid file holds ``<pid> <start time>``; :func:`adopt` trusts it only while a process with that
  pid *and* that start time runs, so a recycled pid is never mistaken for ours (and an empty or
  garbled pid file means "not running", never "pid 0");
- each process leads its own process group (``start_new_session``), so ``stop`` ends it together
  with its children (gunicorn workers, a JVM's helpers), and Ctrl+C in the caller's terminal does
  not reach it;
- a child that exited is reaped (no zombie that looks alive), and a zombie counts as exited.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

# (ok, detail) from a readiness probe; a bare bool is accepted too.
Probe = Callable[[], "tuple[bool, str] | bool"]

# Popen objects of the children this Python process started, by pid, so that they get reaped.
_CHILDREN: dict[int, subprocess.Popen] = {}


class ProcessError(RuntimeError):
    """A process that did not start, exited while starting, or did not become ready."""


def _start_time(pid: int) -> float | None:
    """When ``pid`` started, as a value that identifies this very process.

    On Linux: seconds from boot (``/proc/<pid>/stat``), which a wall-clock step cannot shift.
    psutil's ``create_time`` adds the boot time read from /proc/stat at each call, and that moves
    whenever the clock is set (NTP, a laptop or WSL resuming): a pid file written before the step
    would then name "someone else" and its still-running server would be orphaned.
    Elsewhere: psutil's ``create_time``.
    """
    if sys.platform.startswith("linux"):
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
            return int(stat[stat.rindex(b")") + 2 :].split()[19]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _same_start(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) < 0.05


@dataclass
class ManagedProcess:
    """A process started by :func:`start` (here or in another Python process, see :func:`adopt`)."""

    name: str
    pid: int
    started_at: float | None  # see _start_time: tells our process from a recycled pid
    log_path: Path | None = None
    pid_path: Path | None = None
    argv: list[str] = field(default_factory=list)
    log_offset: int = 0  # where this run's lines start in a shared log file
    popen: subprocess.Popen | None = field(default=None, repr=False)

    # -- state ---------------------------------------------------------------------------
    def alive(self) -> bool:
        """True while this very process runs (not a zombie, not a recycled pid)."""
        if self.popen is not None and self.popen.poll() is not None:
            return False
        try:
            proc = psutil.Process(self.pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                if self.popen is None:
                    _reap(self.pid)
                return False
            return self.started_at is None or _same_start(_start_time(self.pid), self.started_at)
        except psutil.Error:
            return False

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines this run wrote to its log (not earlier runs')."""
        if self.log_path is None:
            return "(no log)"
        try:
            with self.log_path.open("rb") as fh:
                fh.seek(self.log_offset)
                text = fh.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(log is empty)"

    # -- readiness -----------------------------------------------------------------------
    def wait_ready(
        self, probe: Probe, timeout: float, interval: float = 0.1, what: str | None = None
    ) -> ManagedProcess:
        """Call ``probe`` until it answers; raise :class:`ProcessError` with the log's tail if the
        process exits first or ``timeout`` passes (and stop a process that stayed mute)."""
        what = what or self.name
        deadline = time.monotonic() + timeout
        detail = "not probed yet"
        while True:
            answer = probe()
            ok, detail = answer if isinstance(answer, tuple) else (bool(answer), "no answer")
            alive = self.alive()  # after the probe: an answer from another process on our port is not ours
            if ok and alive:
                return self
            if not alive:
                code = self.returncode
                self._forget()
                raise ProcessError(
                    f"{what} exited while starting (exit code {code if code is not None else '?'}); "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            if time.monotonic() >= deadline:
                self.stop(timeout=5)
                raise ProcessError(
                    f"{what} did not become ready within {timeout:.0f} s ({detail}); "
                    f"last lines of {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(interval)

    # -- signals -------------------------------------------------------------------------
    def signal(self, sig: int) -> None:
        """Send ``sig`` to this process only (e.g. SIGSTOP/SIGCONT to freeze and resume it)."""
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout: float = 10.0) -> bool:
        """SIGTERM the process group, wait up to ``timeout``, then SIGKILL it.

        Returns True when it had to kill. The pid file is removed if it still names this process.
        """
        return bool(stop_all([self], timeout))

    def kill(self) -> None:
        """SIGKILL the process group at once: the crash nobody gets to clean up after."""
        if self.alive():
            _signal_group(self.pid, signal.SIGKILL)
            _wait_gone([self], 10.0)
        self._forget()

    def _forget(self) -> None:
        if self.popen is not None:
            try:
                self.popen.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        _CHILDREN.pop(self.pid, None)
        if self.pid_path is not None:
            held = read_pid_file(self.pid_path)
            if held is not None and held[0] == self.pid:
                self.pid_path.unlink(missing_ok=True)


# -- pid files -----------------------------------------------------------------------------
def read_pid_file(path: Path) -> tuple[int, float | None] | None:
    """``(pid, start time)`` from a pid file, or None when it is missing, empty or garbled."""
    try:
        parts = path.read_text().split()
    except OSError:
        return None
    try:
        pid = int(parts[0])
        started = float(parts[1]) if len(parts) > 1 else None
    except (IndexError, ValueError):
        return None
    return (pid, started) if pid > 0 else None


def adopt(
    pid_path: Path,
    *,
    name: str | None = None,
    log_path: Path | None = None,
    match: Callable[[psutil.Process], bool] | None = None,
    keep_stale: bool = False,
) -> ManagedProcess | None:
    """The process a pid file names, if that very process still runs; else None.

    ``match`` adds a check on the live process (e.g. its command line), for pid files written
    before start times were recorded. A pid file that names nothing alive is removed, unless
    ``keep_stale`` (``labkit status`` keeps it to say which process died; the next start overwrites it).
    """
    held = read_pid_file(pid_path)
    if held is None:
        if not keep_stale:
            pid_path.unlink(missing_ok=True)
        return None
    pid, started = held
    proc = ManagedProcess(name or pid_path.stem, pid, started, log_path, pid_path)
    ok = proc.alive()
    if ok and match is not None:
        try:
            ok = match(psutil.Process(pid))
        except psutil.Error:
            ok = False
    if ok and started is None:
        proc.started_at = _start_time(pid)
    if not ok and not keep_stale:
        pid_path.unlink(missing_ok=True)
    return proc if ok else None


# -- start and stop ------------------------------------------------------------------------
def start(
    argv: Sequence[str],
    *,
    name: str,
    log_path: Path,
    pid_path: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | str | None = None,
    header: bool = True,
    die_with_parent: bool = False,
) -> ManagedProcess:
    """Start ``argv`` in its own process group, output appended to ``log_path``.

    ``env`` is added to this process's environment. The pid file (if given) is written at once.
    A missing executable raises :class:`ProcessError` naming it.
    ``die_with_parent``: on Linux the kernel SIGTERMs the process when this one dies, even by
    SIGKILL (a notebook kernel killed mid-run); for helpers that must not outlive their caller.
    Strictly it is the calling *thread* whose exit sends the signal: start such helpers from the
    main thread.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if pid_path is not None:
        pid_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        if header:
            log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} start {name}: {' '.join(map(str, argv))}\n".encode())
            log.flush()  # the header must land before the child's first line
        offset = log.tell()
        try:
            popen = subprocess.Popen(
                [str(a) for a in argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=None if cwd is None else str(cwd),
                env={**os.environ, **(env or {})},
                start_new_session=True,
                preexec_fn=_parent_death_signal() if die_with_parent else None,
            )
        except FileNotFoundError as exc:
            raise ProcessError(f"cannot start {name}: {exc.filename or argv[0]} not found") from None
        except PermissionError as exc:
            raise ProcessError(f"cannot start {name}: {exc.filename or argv[0]} is not executable") from None
    _CHILDREN[popen.pid] = popen
    proc = ManagedProcess(
        name, popen.pid, _start_time(popen.pid), log_path, pid_path, [str(a) for a in argv], offset, popen
    )
    if pid_path is not None:
        started = f" {proc.started_at:.3f}" if proc.started_at is not None else ""
        pid_path.write_text(f"{popen.pid}{started}\n")
    return proc


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGTERM the child when its parent dies (None elsewhere).

    prctl is looked up here, in the parent: loading a library between fork and exec can deadlock.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def set_signal() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl: nobody would send the signal
            os.kill(os.getpid(), signal.SIGTERM)

    return set_signal


def _signal_group(pid: int, sig: int) -> None:
    """Signal the process group that ``pid`` leads; fall back to the pid alone."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _reap(pid: int) -> None:
    child = _CHILDREN.get(pid)
    if child is not None:
        child.poll()
        return
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _wait_gone(procs: list[ManagedProcess], timeout: float) -> list[ManagedProcess]:
    deadline = time.monotonic() + timeout
    left = list(procs)
    while left:
        left = [p for p in left if p.alive()]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return left


def stop_all(procs: list[ManagedProcess], timeout: float = 10.0) -> set[int]:
    """Stop several processes at once (TERM all, wait, KILL the rest). Returns the pids killed."""
    live = [p for p in procs if p.alive()]
    for p in live:
        _signal_group(p.pid, signal.SIGTERM)
        _signal_group(p.pid, signal.SIGCONT)  # a paused (SIGSTOP) process must run to act on the TERM
    stubborn = _wait_gone(live, timeout)
    for p in stubborn:
        _signal_group(p.pid, signal.SIGKILL)
    _wait_gone(stubborn, 5.0)
    for p in live:
        # the leader is gone; end any child it left behind in its group (e.g. a gunicorn worker)
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for p in procs:
        p._forget()
    return {p.pid for p in stubborn}
