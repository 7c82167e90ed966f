"""`labkit bench`: the framework with fake benchmark modules, then the real round-trip benchmark."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from labkit import bench
from labkit.settings import REPO_ROOT, load_settings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

GOOD = """
from __future__ import annotations
from dataclasses import dataclass

TITLE = "A fake benchmark that works"


@dataclass
class Sample:  # a dataclass in a benchmark module needs the module registered while it loads
    ms: float


def run(report, quick=False):
    import matplotlib.pyplot as plt
    report.add_text("Some *markdown* about the quick={}".format(quick))
    rows = [{"op": "a|b", "p50 ms": 0.123456, "n": 3}, {"op": "c", "p50 ms": 1234.5, "extra": True}]
    report.add_table("Numbers", rows)
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2])
    report.add_figure("A line: going somewhere", fig)
    report.record("fake.p50_ms", Sample(0.123456).ms, "ms", batch=10)
"""

FAILING = """
TITLE = "A fake benchmark that breaks"

def run(report, quick=False):
    report.add_text("started")
    raise RuntimeError("the fake service is down")
"""

EXITING = """
TITLE = "Calls sys.exit"

def run(report, quick=False):
    import sys
    sys.exit(3)
"""

NO_TITLE = """
def run(report, quick=False):
    pass
"""


def write_benchmarks(directory: Path, **modules: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        (directory / f"bench_{name}.py").write_text(textwrap.dedent(source))
    return directory


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_ENV_FILE", str(tmp_path / "absent.env"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return load_settings({"LAB_HOME": str(tmp_path / "home")})


def results_rows(settings) -> list[dict]:
    path = settings.results_file
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_report_figure_and_results_are_written(tmp_path, settings, capsys):
    bench_dir = write_benchmarks(tmp_path / "b", good=GOOD)
    code = bench.cmd_bench(["--quick"], settings=settings, bench_dir=bench_dir)
    assert code == 0, capsys.readouterr().err

    out = settings.home / "bench"
    report = (out / "report.md").read_text()
    assert report.startswith("# mlinfra-lab benchmarks")
    for expected in (
        "quick run",
        "cores",
        "memory",
        "| stack |",
        settings.kafka_bootstrap,
        "## A fake benchmark that works",
        "Some *markdown* about the quick=True",
        "| op | p50 ms | n | extra |",
        "| a\\|b | 0.123 | 3 |  |",
        "| c | 1234 |  | True |",
    ):
        assert expected in report, expected

    pngs = sorted(out.glob("*.png"))
    assert [p.name for p in pngs] == ["good-01-a-line-going-somewhere.png"]
    assert pngs[0].read_bytes()[:8] == PNG_MAGIC and pngs[0].stat().st_size > 1000
    assert f"]({pngs[0].name})" in report

    (row,) = results_rows(settings)
    assert (row["name"], row["value"], row["unit"], row["source"]) == ("fake.p50_ms", 0.123456, "ms", "bench")
    assert row["context"] == {"batch": 10, "benchmark": "good", "quick": True}


def test_a_failing_module_is_reported_and_the_others_still_run(tmp_path, settings, capsys):
    bench_dir = write_benchmarks(tmp_path / "b", a_fails=FAILING, b_exits=EXITING, c_untitled=NO_TITLE, d_good=GOOD)
    code = bench.cmd_bench([], settings=settings, bench_dir=bench_dir)
    assert code == 1
    err = capsys.readouterr().err
    assert "3 benchmark(s) failed: a_fails, b_exits, c_untitled" in err

    report = (settings.home / "bench" / "report.md").read_text()
    assert "| a_fails | A fake benchmark that breaks | FAILED |" in report
    assert "RuntimeError: the fake service is down" in report
    assert "started" in report  # what the module wrote before failing stays in the report
    assert "SystemExit: 3" in report
    assert "has no TITLE string" in report
    assert "| d_good | A fake benchmark that works | ok |" in report
    assert (settings.home / "bench" / "d_good-01-a-line-going-somewhere.png").is_file()


def test_only_list_and_bad_arguments(tmp_path, settings, capsys):
    bench_dir = write_benchmarks(tmp_path / "b", one=GOOD, two=FAILING)
    assert bench.cmd_bench(["--only", "one"], settings=settings, bench_dir=bench_dir) == 0
    report = (settings.home / "bench" / "report.md").read_text()
    assert "A fake benchmark that works" in report and "breaks" not in report
    # The file name works too, and a second run replaces the first run's plots.
    assert (
        bench.cmd_bench(
            ["--only", "bench_one.py", "--out", str(tmp_path / "o")], settings=settings, bench_dir=bench_dir
        )
        == 0
    )
    assert len(list((tmp_path / "o").glob("one-*.png"))) == 1

    capsys.readouterr()
    assert bench.cmd_bench(["--only", "three"], settings=settings, bench_dir=bench_dir) == 2
    assert "no benchmark named three; choose from: one, two" in capsys.readouterr().err
    assert bench.cmd_bench(["--list"], settings=settings, bench_dir=bench_dir) == 0
    assert "one" in capsys.readouterr().out
    assert bench.cmd_bench([], settings=settings, bench_dir=tmp_path / "empty") == 2


def test_add_table_rejects_rows_that_are_not_dicts(tmp_path, settings):
    section = bench.Section("x", "X", settings, tmp_path, quick=True)
    with pytest.raises(TypeError, match="list of dicts"):
        section.add_table("bad", [("a", 1)])
    assert bench.markdown_table([]) == "_(no rows)_"


def test_the_lab_ships_the_roundtrip_benchmark():
    assert "stack_roundtrip" in bench.discover(REPO_ROOT / "benchmarks")


@pytest.mark.stack
def test_stack_roundtrip_quick_against_the_test_stack(lab_settings, tmp_path):
    path = REPO_ROOT / "benchmarks" / "bench_stack_roundtrip.py"
    report_path, (outcome,) = bench.run_benchmarks(
        {"stack_roundtrip": path}, lab_settings, tmp_path, quick=True, say=lambda *_: None
    )
    assert outcome.ok, outcome.error
    report = report_path.read_text()
    operations = [
        "Redis SET",
        "Redis GET",
        "Kafka produce, acks=all",
        "Kafka produce→consume",
        "Kafka produce→consume, fetch wait 500 ms",
        "S3 PUT 1 KiB",
        "S3 GET 1 KiB",
    ]
    for op in operations:
        assert f"| {op} |" in report, op
    assert [p.name for p in tmp_path.glob("*.png")] == [outcome.section.figures[0].name]

    recorded = {r["name"]: r for r in outcome.section.recorded}
    assert len(recorded) == 2 * len(operations)
    for name, row in recorded.items():
        # generous sanity bounds only: timings belong in the report, not in pass/fail
        assert 0 < row["value"] < 5000, (name, row["value"])
        assert row["source"] == "bench"
    assert recorded["roundtrip.redis_get.p50_ms"]["value"] <= recorded["roundtrip.redis_get.p99_ms"]["value"]
