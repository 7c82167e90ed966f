"""Injected transient failures, to prove that orchestrators retry a step and the run succeeds.

``inject_transient_failure("compute", day, times=1)`` leaves a marker file under LAB_HOME; the
next ``times`` attempts of that step for that day raise :class:`TransientFailure`, then the
marker is gone and the step works. A file (not a variable) because Airflow retries a task in
a fresh process.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from labkit.settings import Settings, get_settings


class TransientFailure(RuntimeError):
    """A failure that goes away on retry (a flaky network, a busy object store...)."""


def _marker(step: str, day: dt.date, settings: Settings | None) -> Path:
    return (settings or get_settings()).home / "pipelines" / "faults" / f"{step}-{day.isoformat()}"


def inject_transient_failure(step: str, day: dt.date, times: int = 1, settings: Settings | None = None) -> Path:
    if times < 1:
        raise ValueError(f"times={times}: inject at least one failure")
    m = _marker(step, day, settings)
    m.parent.mkdir(parents=True, exist_ok=True)
    m.write_text(str(times))
    return m


def clear_faults(settings: Settings | None = None) -> None:
    d = (settings or get_settings()).home / "pipelines" / "faults"
    for f in d.glob("*") if d.exists() else []:
        f.unlink()


def maybe_fail(step: str, day: dt.date, settings: Settings | None = None) -> None:
    m = _marker(step, day, settings)
    if not m.exists():
        return
    left = int(m.read_text() or "1") - 1
    if left > 0:
        m.write_text(str(left))
    else:
        m.unlink()
    raise TransientFailure(f"injected transient failure in step {step!r} for {day} ({left} more to come)")
