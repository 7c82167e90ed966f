"""The papermill runner: parameters-cell convention, kernel, environment, and readable errors.

These run tiny notebooks in a temp dir; they start a kernel but need no stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import nbformat
import pytest
from nbfactory import make_notebook

from labkit.runner import NotebookError, notebook_parameters, parameters_cell_index, run_notebook


def test_missing_parameters_cell_is_named_with_the_fix(tmp_path):
    nb = make_notebook(tmp_path / "no_params.ipynb", "x = 1", params=None)
    with pytest.raises(NotebookError) as info:
        run_notebook(nb)
    message = str(info.value)
    assert "no_params.ipynb" in message
    assert "tagged 'parameters'" in message and 'SCALE = "small"' in message


def test_parameters_cell_without_seed_is_rejected(tmp_path):
    nb = make_notebook(tmp_path / "half.ipynb", "x = 1", params='SCALE = "small"')
    with pytest.raises(NotebookError, match=r"half.ipynb: the 'parameters' cell \(cell 1\) does not assign SEED"):
        run_notebook(nb)


def test_parameters_are_read_from_the_tagged_cell():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1")])
    p = nbformat.v4.new_code_cell('SCALE: str = "medium"\nSEED = 7\nN = len("abc")')
    p.metadata["tags"] = ["parameters"]
    nb.cells.append(p)
    assert parameters_cell_index(nb) == 1
    assert notebook_parameters(p.source) == {"SCALE": "medium", "SEED": 7, "N": ...}


@pytest.mark.slow
def test_run_uses_this_python_the_notebook_folder_and_names_the_notebook(tmp_path):
    nb = make_notebook(
        tmp_path / "where.ipynb",
        "import json, os, sys\n"
        "print(json.dumps({'exe': sys.executable, 'cwd': os.getcwd(), 'nb': os.environ.get('LAB_NOTEBOOK'),"
        " 'scale': SCALE, 'seed': SEED, 'extra': os.environ.get('HARNESS_EXTRA')}))",
    )
    run = run_notebook(
        nb, tmp_path / "out" / "where.ipynb", {"SCALE": "medium", "SEED": 42}, env={"HARNESS_EXTRA": "yes"}
    )
    seen = json.loads(run.notebook.cells[-1].outputs[0]["text"])
    assert seen == {
        "exe": sys.executable,
        "cwd": str(tmp_path),
        "nb": "where",
        "scale": "medium",
        "seed": 42,
        "extra": "yes",
    }
    assert "HARNESS_EXTRA" not in os.environ  # the kernel's extra env does not leak into ours
    assert run.seconds > 0 and (tmp_path / "out" / "where.ipynb").is_file()
    # only SCALE differed from the notebook's own values, so only SCALE was injected
    injected = [c for c in run.notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "medium" in injected[0].source and "SEED" not in injected[0].source


@pytest.mark.slow
def test_default_run_injects_nothing(tmp_path):
    nb = make_notebook(tmp_path / "plain.ipynb", "y = SEED + 1")
    run = run_notebook(nb, tmp_path / "plain-out.ipynb")
    assert [c.source for c in run.notebook.cells] == [c.source for c in nbformat.read(nb, 4).cells]


@pytest.mark.slow
def test_failing_cell_error_names_notebook_cell_and_exception(tmp_path):
    nb = make_notebook(
        tmp_path / "broken.ipynb",
        ("markdown", "# a title"),
        "total = 1 + 1",
        "assert total == 3, 'total should be 3 after the fix'",
        "print('never reached')",
    )
    # SCALE differs, so papermill injects a cell: the error must still count the learner's cells
    with pytest.raises(NotebookError) as info:
        run_notebook(nb, tmp_path / "broken-out.ipynb", {"SCALE": "medium", "SEED": 42})
    err = info.value
    assert err.cell_index == 3 and err.ename == "AssertionError"
    first_line = str(err).splitlines()[0]
    assert first_line == f"{nb}: cell 4 of 5 (In [4]) raised AssertionError: total should be 3 after the fix"
    assert "cell begins: assert total == 3" in str(err)
    assert len(str(err).splitlines()) <= 4, "the message should be short; the traceback lives in the output notebook"
    assert err.output_path.is_file()
    assert any("total should be 3" in line for line in err.traceback)


@pytest.mark.slow
def test_cell_timeout_is_reported(tmp_path):
    nb = make_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(30)")
    with pytest.raises(
        NotebookError, match=r"slow.ipynb: cell 2 of 2 ran longer than 2 s and was stopped\n  cell begins: import time"
    ):
        run_notebook(nb, tmp_path / "slow-out.ipynb", timeout=2)


@pytest.mark.slow
def test_run_notebooks_cli_prints_a_table_records_times_and_fails_on_a_broken_notebook(tmp_path):
    good = make_notebook(tmp_path / "nbs" / "good.ipynb", "print('fine')")
    bad = make_notebook(tmp_path / "nbs" / "bad.ipynb", "1 / 0")
    home = tmp_path / "home"
    env = {**os.environ, "LAB_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "run-notebooks", str(good), str(bad), "--output-dir", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "bad.ipynb: cell 2 of 2 (In [2]) raised ZeroDivisionError: division by zero" in done.stderr
    table = done.stdout[done.stdout.index("notebook ") :]
    assert "good.ipynb" in table and "ok" in table and "FAILED" in table
    assert "1 passed, 1 failed" in done.stdout
    rows = [json.loads(line) for line in (home / "results.jsonl").read_text().splitlines()]
    assert [(r["name"], r["context"]["notebook"], r["unit"]) for r in rows] == [("notebook.runtime_s", "good", "s")]
    assert rows[0]["value"] > 0
    assert (tmp_path / "out" / "good.ipynb").is_file()


@pytest.mark.slow
def test_run_notebooks_refuses_to_commit_outputs_into_solutions():
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "run-notebooks", "--inplace", "00a"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "kept without outputs" in done.stderr


@pytest.mark.slow
def test_inplace_refreshes_outputs_without_run_bookkeeping_and_never_on_failure(tmp_path):
    good = make_notebook(tmp_path / "nbs" / "good.ipynb", "print(6 * 7)")
    bad = make_notebook(tmp_path / "nbs" / "bad.ipynb", "raise RuntimeError('boom')")
    bad_before = bad.read_bytes()
    env = {**os.environ, "LAB_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "run-notebooks", "--inplace", str(good), str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    nb = nbformat.read(good, 4)
    assert nb.cells[-1].outputs[0]["text"] == "42\n"
    assert "papermill" not in nb.metadata and all("papermill" not in c.metadata for c in nb.cells)
    assert bad.read_bytes() == bad_before  # a failed run leaves the committed notebook alone


@pytest.mark.slow
def test_a_dying_kernel_is_reported_with_its_log(tmp_path):
    nb = make_notebook(
        tmp_path / "dies.ipynb",
        # ipykernel forwards fd-level stderr from a thread: give it a moment before dying
        "import os, sys, time\nsys.__stderr__.write('last words before exit\\n'); sys.__stderr__.flush()\n"
        "time.sleep(1.5)\nos._exit(3)",
    )
    with pytest.raises(NotebookError) as info:
        run_notebook(nb, tmp_path / "dies-out.ipynb", timeout=60)
    message = str(info.value)
    assert "dies.ipynb" in message and "last words before exit" in message, message
