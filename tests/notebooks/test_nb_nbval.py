"""nbval as this project configures it (the options in pyproject.toml's addopts), on tiny notebooks:
lax mode compares only cells marked ``# NBVAL_CHECK_OUTPUT``, ``# NBVAL_IGNORE_OUTPUT`` is honoured,
a cell that raises fails, the per-cell timeout stops a hung cell, the kernel is this environment's
Python, and it sees the environment a conftest exported before the notebook's first cell
(which is how the root conftest hands it the test stack).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest

from labkit.settings import REPO_ROOT

ADDOPTS = shlex.split(
    tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["addopts"]
)
NBVAL_OPTS = [opt for opt in ADDOPTS if opt.startswith("--nbval")]

# Mimics the root conftest: export the stack's env in pytest_runtest_setup, before nbval's kernel starts.
CONFTEST = """
import os
def pytest_runtest_setup(item):
    os.environ["HARNESS_STACK_MARK"] = "exported-by-conftest"
"""


def test_project_runs_notebooks_with_nbval_lax_in_this_env():
    assert "--nbval-lax" in NBVAL_OPTS and "--nbval-current-env" in NBVAL_OPTS
    assert any(o.startswith("--nbval-cell-timeout") for o in NBVAL_OPTS)
    testpaths = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["testpaths"]
    assert "notebooks" in testpaths


def _cell(source: str, output: str | None = None):
    cell = nbformat.v4.new_code_cell(source)
    if output is not None:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
        cell.execution_count = 1
    return cell


def _run_nbval(tmp_path: Path, cells, *extra: str) -> dict[str, str]:
    """Run pytest+nbval on one notebook in a clean dir; return {cell test name: outcome}."""
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "some-other-kernel", "display_name": "other", "language": "python"}
    nbformat.write(nb, tmp_path / "probe.ipynb")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(CONFTEST)
    env = {k: v for k, v in os.environ.items() if k != "HARNESS_STACK_MARK"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={tmp_path / 'r.xml'}",
            *NBVAL_OPTS,
            *extra,
            "probe.ipynb",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    outcomes = {}
    for case in ET.parse(tmp_path / "r.xml").iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[case.get("name")] = (
            "failed" if failed else ("skipped" if case.find("skipped") is not None else "passed")
        )
    assert outcomes, done.stdout + done.stderr
    return outcomes


@pytest.mark.slow
def test_lax_mode_markers_errors_kernel_and_environment(tmp_path):
    outcomes = _run_nbval(
        tmp_path,
        [
            _cell("print(1 + 1)", output="3\n"),  # unmarked: output not compared in lax mode
            _cell("# NBVAL_CHECK_OUTPUT\nprint(2 + 2)", output="4\n"),  # marked, matching
            _cell("# NBVAL_CHECK_OUTPUT\nprint(2 + 3)", output="6\n"),  # marked, different: must fail
            _cell("# NBVAL_IGNORE_OUTPUT\nimport time\nprint(time.time())", output="123\n"),
            _cell("# NBVAL_IGNORE_OUTPUT\nraise ValueError('ignoring output does not ignore errors')"),
            _cell("# NBVAL_CHECK_OUTPUT\nimport sys\nprint(sys.executable)", output=sys.executable + "\n"),
            _cell(
                "# NBVAL_CHECK_OUTPUT\nimport os\nprint(os.environ.get('HARNESS_STACK_MARK'))",
                output="exported-by-conftest\n",
            ),
        ],
    )
    by_cell = {int(re.search(r"Cell (\d+)", name).group(1)): outcome for name, outcome in outcomes.items()}
    assert by_cell == {0: "passed", 1: "passed", 2: "failed", 3: "passed", 4: "failed", 5: "passed", 6: "passed"}, (
        outcomes
    )


@pytest.mark.slow
def test_a_hung_cell_is_stopped_by_the_cell_timeout(tmp_path):
    outcomes = _run_nbval(
        tmp_path, [_cell("import time\ntime.sleep(60)"), _cell("print('after')")], "--nbval-cell-timeout=3"
    )
    assert list(outcomes.values())[0] == "failed", outcomes


@pytest.mark.slow
def test_reference_notebooks_are_collected_by_nbval():
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "notebooks"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    collected = {line.split("::")[0] for line in done.stdout.splitlines() if ".ipynb::" in line}
    expected = {f"notebooks/{p.name}" for p in (REPO_ROOT / "notebooks").glob("*.ipynb")}
    assert expected and expected <= collected, done.stdout[-2000:] + done.stderr[-2000:]
