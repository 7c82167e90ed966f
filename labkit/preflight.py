"""`labkit preflight`: the smoke test an instructor (or a learner) runs before the day.

Four steps, each printed as one pass/fail line with its time:

1. prerequisites: the checks of `labkit doctor` (Java, binaries, ports, disk, memory...);
2. the stack answers: Kafka, Redis and S3 each answer their real protocol;
3. notebooks/00_stack_tour.ipynb runs at small scale;
4. the first exercise's solution (solutions/00a_*.ipynb) runs and passes its checks.

The notebooks run through :func:`labkit.runner.run_notebook` into ``LAB_HOME/runs/preflight/``. When
the stack does not answer, the notebook steps are skipped (and the preflight fails). Exit code 0
when every step passed, 1 otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labkit.cli_support import command, parser
from labkit.settings import REPO_ROOT, Settings, get_settings

BUDGET_S = 120.0  # what the instructor guide promises on a 2-core laptop with the world generated
TOUR = REPO_ROOT / "notebooks" / "00_stack_tour.ipynb"
PARAMETERS = {"SCALE": "small", "SEED": 42}


@dataclass
class Step:
    name: str
    ok: bool | None  # None: skipped
    seconds: float
    detail: str


def _timed(name: str, check: Callable[[], tuple[bool, str]]) -> Step:
    t0 = time.monotonic()
    try:
        ok, detail = check()
    except Exception as exc:  # a step that crashes is a failed step, with its reason
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Step(name, ok, time.monotonic() - t0, detail)


def check_prerequisites(s: Settings) -> tuple[bool, str]:
    from labkit.stack import doctor

    checks = doctor.run_checks(s)
    problems = [c for c in checks if not c.ok and not c.warn_only]
    if problems:
        c = problems[0]
        more = f" (+{len(problems) - 1} more: `labkit doctor`)" if len(problems) > 1 else ""
        return False, f"{c.name}: {c.detail}; fix: {c.fix}{more}"
    notes = sum(1 for c in checks if not c.ok)
    return True, f"{len(checks)} checks" + (f", {notes} note(s): `labkit doctor`" if notes else "")


def check_stack(s: Settings) -> tuple[bool, str]:
    from labkit.stack import probes

    dead = []
    for name, probe in probes.PROBES.items():
        ok, detail = probe(s)
        if not ok:
            dead.append(f"{name}: {detail}")
    if dead:
        return False, "; ".join(dead) + ". Fix: `labkit up`, then `labkit status`"
    return True, f"{', '.join(probes.PROBES)} answer"


def run_notebook_step(path: Path | None, s: Settings) -> tuple[bool, str]:
    from labkit.runner import NotebookError, run_notebook

    if path is None:
        return False, "no solutions/00a_*.ipynb: the preflight runs the first exercise's solution"
    out = s.home / "runs" / "preflight" / path.name
    try:
        run = run_notebook(path, out, PARAMETERS, timeout=120)
    except NotebookError as exc:
        return False, str(exc).splitlines()[0]
    return True, f"kernel {run.seconds:.1f} s, output {out}"


def preflight_notebooks() -> list[tuple[str, Path | None]]:
    """(label, path) of the reference notebook and the exercise solution the preflight runs."""
    solution = next(iter(sorted((REPO_ROOT / "solutions").glob("00a_*.ipynb"))), None)
    label = str(solution.relative_to(REPO_ROOT)) if solution else "solutions/00a_*.ipynb"
    return [(str(TOUR.relative_to(REPO_ROOT)), TOUR), (label, solution)]


def run_preflight(s: Settings, say: Callable[[str], None] = print) -> list[Step]:
    steps: list[Step] = []

    def do(name: str, check: Callable[[], tuple[bool, str]]) -> Step:
        step = _timed(name, check)
        steps.append(step)
        say(_line(step))
        return step

    do("prerequisites (labkit doctor)", lambda: check_prerequisites(s))
    stack = do("stack answers (Kafka, Redis, S3)", lambda: check_stack(s))
    for label, path in preflight_notebooks():
        if stack.ok:
            do(label, lambda path=path: run_notebook_step(path, s))
        else:
            steps.append(Step(label, None, 0.0, "skipped: the stack does not answer"))
            say(_line(steps[-1]))
    return steps


def _line(step: Step) -> str:
    status = "ok" if step.ok else "skip" if step.ok is None else "FAIL"
    return f"{status:<4}  {step.name:<42} {step.seconds:6.1f} s  {step.detail}"


@command("labkit preflight")
def cmd_preflight(argv: list[str]) -> int:
    parser(
        "labkit preflight",
        "Smoke test before a workshop: doctor's prerequisites, the stack answers, notebook 00 and "
        f"exercise 00a run at small scale (into LAB_HOME/runs/preflight). Meant to finish within {BUDGET_S:.0f} s.",
    ).parse_args(argv)
    s = get_settings()
    print(f"labkit preflight: LAB_HOME={s.home}, port offset {s.port_offset}\n")
    t0 = time.monotonic()
    steps = run_preflight(s)
    total = time.monotonic() - t0
    passed = all(step.ok for step in steps)
    budget = "" if total <= BUDGET_S else f" (over the {BUDGET_S:.0f} s budget: a busy or slow machine)"
    if passed:
        print(f"\npreflight passed in {total:.1f} s{budget}")
        return 0
    print(f"\npreflight FAILED in {total:.1f} s{budget}: fix the first FAIL line, then run `labkit preflight` again")
    return 1
