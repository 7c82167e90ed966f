"""`labkit bench`: run the benchmark modules and write one report (Markdown + PNG plots).

A benchmark module is a file ``benchmarks/bench_<name>.py`` with::

    TITLE = "Round-trip latency of each service"

    def run(report, quick: bool = False) -> None:
        ...

``report`` is a :class:`Section` (its API is the whole contract; see benchmarks/README.md).
Every module runs in the same process, one after the other, so their numbers are measured on the
same machine in the same minutes: the report compares them side by side. A module that raises is
reported with its error and makes the exit code 1, and the others still run.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labkit import results
from labkit.cli_support import CommandError, command
from labkit.cli_support import parser as cli_parser
from labkit.settings import REPO_ROOT, Settings, get_settings

BENCH_DIR = REPO_ROOT / "benchmarks"
REPORT_NAME = "report.md"


# -- what a benchmark module receives -----------------------------------------------------
class Section:
    """One module's part of the report. Methods append to it in call order."""

    def __init__(self, name: str, title: str, settings: Settings, out_dir: Path, quick: bool):
        self.name = name
        self.title = title
        self.settings = settings
        self.out_dir = out_dir
        self.quick = quick
        self.parts: list[str] = []
        self.figures: list[Path] = []
        self.recorded: list[dict[str, Any]] = []

    def add_text(self, markdown: str) -> None:
        """A paragraph (or any Markdown) in this module's section."""
        self.parts.append(str(markdown).strip())

    def add_table(self, title: str, rows: list[dict[str, Any]]) -> None:
        """A Markdown table: one row per dict, columns in order of first appearance."""
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise TypeError(f"add_table({title!r}): rows must be a list of dicts, got {type(rows).__name__}")
        self.parts.append(f"**{title}**\n\n{markdown_table(rows)}")

    def add_figure(self, title: str, fig: Any) -> Path:
        """Save a matplotlib figure as PNG next to the report, link it, and close it."""
        import matplotlib.pyplot as plt

        path = self.out_dir / f"{self.name}-{len(self.figures) + 1:02d}-{_slug(title)}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(path)
        self.parts.append(f"**{title}**\n\n![{title}]({path.name})")
        return path

    def record(self, name: str, value: float, unit: str, **context: Any) -> dict[str, Any]:
        """Append a measurement to the results file (source="bench"), for the README and interview answers."""
        context.setdefault("benchmark", self.name)
        context.setdefault("quick", self.quick)
        row = results.record(name, value, unit, source="bench", settings=self.settings, **context)
        self.recorded.append(row)
        return row


@dataclass
class Outcome:
    name: str
    title: str
    path: Path
    seconds: float = 0.0
    error: str | None = None
    section: Section | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


# -- discovery and running ----------------------------------------------------------------
def discover(bench_dir: Path = BENCH_DIR) -> dict[str, Path]:
    """``{name: path}`` of every ``bench_<name>.py`` in ``bench_dir``, sorted by name."""
    return {p.stem.removeprefix("bench_"): p for p in sorted(bench_dir.glob("bench_*.py"))}


def _load(name: str, path: Path):
    module_name = f"labkit_bench_{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    title, run = getattr(module, "TITLE", None), getattr(module, "run", None)
    if not isinstance(title, str) or not title.strip():
        raise TypeError(f'{path.name} has no TITLE string: add TITLE = "..." at module level')
    if not callable(run):
        raise TypeError(f"{path.name} has no run(report, quick=False) function")
    return module


def run_one(name: str, path: Path, settings: Settings, out_dir: Path, quick: bool) -> Outcome:
    import matplotlib.pyplot as plt

    outcome = Outcome(name=name, title=name, path=path)
    start = time.perf_counter()
    try:
        module = _load(name, path)
        outcome.title = module.TITLE.strip()
        outcome.section = Section(name, outcome.title, settings, out_dir, quick)
        module.run(outcome.section, quick=quick)
    except (Exception, SystemExit) as exc:  # a benchmark must not take the others down with it
        outcome.error = "".join(traceback.format_exception(exc)).rstrip()
    finally:
        outcome.seconds = time.perf_counter() - start
        plt.close("all")  # figures a failing module left open
    return outcome


def machine_summary() -> dict[str, str]:
    info = {
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "cores": str(os.cpu_count()),
    }
    try:
        import psutil

        info["cores"] = f"{psutil.cpu_count(logical=True)} logical, {psutil.cpu_count(logical=False)} physical"
        info["memory"] = f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except Exception:
        pass
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(errors="replace"), re.M)
        if m:
            info["cpu"] = m.group(1).strip()
    return info


def render(outcomes: list[Outcome], settings: Settings, quick: bool, started: datetime) -> str:
    lines = [
        "# mlinfra-lab benchmarks",
        "",
        f"Measured {started.strftime('%Y-%m-%d %H:%M UTC')}"
        f"{' (quick run: few samples, for a smoke test, not for conclusions)' if quick else ''}. "
        "All benchmarks ran in one process, one after the other, on the machine and stack below; "
        "on a shared machine, compare ratios between rows rather than absolute numbers.",
        "",
    ]
    machine = machine_summary()
    stack_rows = [
        {"what": "stack", "value": results.stack_of(settings)},
        {"what": "Kafka", "value": settings.kafka_bootstrap},
        {"what": "Redis", "value": settings.redis_url},
        {"what": "S3", "value": settings.s3_endpoint},
    ]
    lines += ["| machine | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in machine.items()] + [""]
    lines += [markdown_table(stack_rows), ""]
    lines += [
        "## Summary",
        "",
        markdown_table(
            [
                {
                    "benchmark": o.name,
                    "title": o.title,
                    "result": "ok" if o.ok else "FAILED",
                    "seconds": round(o.seconds, 1),
                }
                for o in outcomes
            ]
        ),
        "",
    ]
    for o in outcomes:
        lines += [f"## {o.title}", "", f"`benchmarks/{o.path.name}` · {o.seconds:.1f} s", ""]
        if o.section:
            for part in o.section.parts:
                lines += [part, ""]
        if not o.ok:
            lines += ["**This benchmark failed:**", "", "```text", o.error, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def run_benchmarks(
    paths: dict[str, Path], settings: Settings, out_dir: Path, quick: bool = False, say=print
) -> tuple[Path, list[Outcome]]:
    """Run ``paths`` (name -> file) in order; write ``out_dir/report.md`` after each one."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in paths:  # drop the previous run's plots of the modules about to run
        for old in out_dir.glob(f"{name}-*.png"):
            old.unlink()
    started = datetime.now(UTC)
    report_path = out_dir / REPORT_NAME
    outcomes: list[Outcome] = []
    for name, path in paths.items():
        say(f"bench: {name} ...")
        outcome = run_one(name, path, settings, out_dir, quick)
        outcomes.append(outcome)
        say(f"bench: {name} {'ok' if outcome.ok else 'FAILED'} ({outcome.seconds:.1f} s)")
        if not outcome.ok:
            say(outcome.error.splitlines()[-1])
        tmp = report_path.with_suffix(".md.tmp")
        tmp.write_text(render(outcomes, settings, quick, started))
        tmp.replace(report_path)
    return report_path, outcomes


@command("labkit bench")
def cmd_bench(argv: list[str], settings: Settings | None = None, bench_dir: Path | None = None) -> int:
    parser = cli_parser("labkit bench", "Run the benchmarks and write the report.")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (name as in bench_NAME.py; repeat for several)",
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run (few samples): checks that everything works")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--out", type=Path, help="report directory (default: LAB_HOME/bench)")
    args = parser.parse_args(argv)

    settings = settings or get_settings()
    found = discover(bench_dir or BENCH_DIR)
    if not found:
        raise CommandError(f"no bench_*.py in {bench_dir or BENCH_DIR}")
    if args.list:
        for name, path in found.items():
            print(f"{name:<28} {path}")
        return 0
    selected = found
    if args.only:
        wanted = [n.removesuffix(".py").removeprefix("bench_") for n in args.only]
        unknown = [n for n in wanted if n not in found]
        if unknown:
            raise CommandError(f"no benchmark named {', '.join(unknown)}; choose from: {', '.join(found)}")
        selected = {n: found[n] for n in wanted}

    report_path, outcomes = run_benchmarks(selected, settings, args.out or settings.home / "bench", args.quick)
    failed = [o.name for o in outcomes if not o.ok]
    print(f"report: {report_path}")
    if failed:
        print(
            f"labkit bench: {len(failed)} benchmark(s) failed: {', '.join(failed)} (errors are in the report)",
            file=sys.stderr,
        )
        return 1
    return 0


# -- small helpers ------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "figure"


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        text = "" if value is None else str(value)
    elif isinstance(value, float):
        text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"
    else:
        text = str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_(no rows)_"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    out += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(out)
