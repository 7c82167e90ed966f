"""Exercises: the labs/ generator, and the three proofs every exercise owes (CONTRIBUTING.md):
labs/ is in sync with solutions/, every solution passes its checks, every unmodified lab fails
at its first check. Parametrised over the files found, so new exercises are picked up.
"""

from __future__ import annotations

import time

import nbformat
import pytest
from nbfactory import make_notebook

from labkit import labs
from labkit.labs import LABS_DIR, SOLUTIONS_DIR, LabError, exercise_cells, generate_lab, lab_text, render, sync
from labkit.runner import NotebookError, run_notebook

SOLUTIONS = sorted(SOLUTIONS_DIR.glob("*.ipynb"))
ids = [p.stem for p in SOLUTIONS]

EXERCISE = '''def double(x):
    """Twice x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION'''


def _solution(tmp_path, *cells, name="01a_demo.ipynb"):
    return make_notebook(tmp_path / "solutions" / name, *cells)


# -- the generator ----------------------------------------------------------------------------
def test_solution_regions_become_numbered_todos_at_their_indentation(tmp_path):
    path = _solution(
        tmp_path,
        EXERCISE,
        "assert double(2) == 4",
        "### BEGIN SOLUTION\ny = 3\n### END SOLUTION\nprint(y)",
        ("markdown", "Why does it work?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION"),
    )
    lab = generate_lab(nbformat.read(path, 4), path.name)
    assert lab.cells[1].source == (
        'def double(x):\n    """Twice x."""\n'
        "    # TODO: write your code here (replace the line below), then run the check cell that follows.\n"
        '    raise NotImplementedError("Exercise 1 is not done yet")'
    )
    assert lab.cells[2].source == "assert double(2) == 4"  # checks stay as written
    assert lab.cells[3].source.splitlines()[1:] == [
        'raise NotImplementedError("Exercise 2 is not done yet")',
        "print(y)",
    ]
    assert lab.cells[4].source == "Why does it work?\n_Your answer here._"
    assert "return 2 * x" not in render(lab) and "Because." not in render(lab)
    assert lab.metadata["mlinfra_lab"]["generated_from"] == "solutions/01a_demo.ipynb"
    assert "BEGIN SOLUTION" in nbformat.read(path, 4).cells[1].source  # the solution is untouched


def test_outputs_and_run_metadata_are_dropped_and_generation_is_deterministic(tmp_path):
    path = _solution(tmp_path, EXERCISE, "print(double(2))")
    nb = nbformat.read(path, 4)
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="4\n")]
    nb.cells[2].execution_count = 3
    nb.cells[2].metadata["papermill"] = {"duration": 0.1}
    nb.cells[2].metadata["execution"] = {"iopub.status.busy": "2026-11-26T17:00:00Z"}
    nb.metadata["papermill"] = {"duration": 1.0}
    first = render(generate_lab(nb, path.name))
    lab = nbformat.reads(first, 4)
    assert lab.cells[2].outputs == [] and lab.cells[2].execution_count is None
    assert lab.cells[2].metadata == {} and "papermill" not in lab.metadata
    assert render(generate_lab(nb, path.name)) == first  # same input, same bytes
    nbformat.write(nb, path)
    assert lab_text(path) == first and first.endswith("\n")


@pytest.mark.parametrize(
    "source, problem",
    [
        ("x = 1", "no code cell holds a '### BEGIN SOLUTION'"),
        ("### BEGIN SOLUTION\nx = 1", "cell 2 has 1 '### BEGIN SOLUTION' but 0 '### END SOLUTION'"),
    ],
)
def test_malformed_solutions_are_refused_with_the_cell_named(tmp_path, source, problem):
    path = _solution(tmp_path, source)
    with pytest.raises(LabError, match=problem):
        generate_lab(nbformat.read(path, 4), path.name)


def test_labs_command_writes_checks_keeps_learner_edits_and_removes_only_generated_orphans(tmp_path, capsys):
    sol_dir, lab_dir = tmp_path / "solutions", tmp_path / "labs"
    solution = _solution(tmp_path, EXERCISE, "assert double(2) == 4")
    lab = lab_dir / "01a_demo.ipynb"

    def run(*extra):
        code = labs.cmd_labs(["--solutions", str(sol_dir), "--labs", str(lab_dir), *extra])
        out, err = capsys.readouterr()
        return code, out, err

    code, _, err = run("--check")
    assert code == 1 and "01a_demo.ipynb: missing" in err and "make labs" in err
    assert run()[0] == 0 and lab.is_file()
    assert run("--check")[0] == 0

    # the solution changes, the lab is untouched: the lab is stale and is simply regenerated
    solution.write_text(solution.read_text().replace("double(2) == 4", "double(3) == 6"))
    code, _, err = run("--check")
    assert code == 1 and "01a_demo.ipynb: out of date\n" in err
    assert run()[0] == 0 and "double(3) == 6" in lab.read_text()

    # a learner solved the exercise in labs/: never overwritten without --force
    learner = lab.read_text().replace('raise NotImplementedError(\\"Exercise 1 is not done yet\\")', "return x + x")
    assert learner != lab.read_text()
    lab.write_text(learner)
    code, _, err = run("--check")
    assert code == 1 and "01a_demo.ipynb: out of date (and holds edits made by hand)" in err
    code, _, err = run()
    assert code == 1 and "it holds your edits" in err and lab.read_text() == learner
    assert run("--force")[0] == 0 and "return x + x" not in lab.read_text()

    make_notebook(lab_dir / "my_notes.ipynb", "x = 1")  # a learner's own notebook: not generated
    solution.rename(sol_dir / "01b_renamed.ipynb")
    code, _, err = run("--check")
    assert code == 1 and "01a_demo.ipynb: has no solution any more" in err and "my_notes" not in err
    code, out, _ = run()
    assert code == 0 and "removed" in out
    assert sorted(p.name for p in lab_dir.iterdir()) == ["01b_renamed.ipynb", "my_notes.ipynb"]

    (sol_dir / "01c_broken.ipynb").write_text(
        nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")]))
    )
    code, _, err = run()
    assert code == 2 and "01c_broken.ipynb: cell 1 has 1 '### BEGIN SOLUTION' but 0" in err
    assert not (lab_dir / "01c_broken.ipynb").exists()


# -- the repository's exercises -------------------------------------------------------------------
def test_there_is_at_least_one_exercise():
    assert SOLUTIONS, f"no solution notebooks in {SOLUTIONS_DIR}"


def test_labs_are_in_sync_with_solutions():
    t0 = time.perf_counter()
    report = sync(SOLUTIONS_DIR, LABS_DIR, write=False)
    elapsed = time.perf_counter() - t0
    problems = (
        [f"{p.name}: out of date" for p in report.stale]
        + [f"{p.name}: missing" for p in report.missing]
        + [f"{p.name}: its solution is gone" for p in report.orphans]
    )
    assert report.in_sync, "labs/ differs from what solutions/ generates: " + "; ".join(problems) + ". Run `make labs`."
    assert elapsed < 60, f"the sync check took {elapsed:.1f} s"


@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_solution_is_committed_without_outputs(solution):
    nb = nbformat.read(solution, 4)
    with_outputs = [i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not with_outputs, f"{solution.name}: cells {with_outputs} have outputs; solutions are committed without them"


@pytest.mark.notebook
@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_solution_passes_its_checks(solution, tmp_path, lab_settings):
    run = run_notebook(solution, tmp_path / solution.name, timeout=300)
    print(f"{solution.name}: {run.seconds:.1f} s")
    # a sanity bound, not the budget: the 90 s budget is for an unloaded 2-core machine
    assert run.seconds < 180, f"{solution.name} took {run.seconds:.0f} s at small scale (budget: 90 s)"


@pytest.mark.notebook
@pytest.mark.parametrize("solution", SOLUTIONS, ids=ids)
def test_unmodified_lab_fails_at_its_first_check(solution, tmp_path, lab_settings):
    lab = LABS_DIR / solution.name
    assert lab.is_file(), f"{lab.name} is missing from labs/: run `make labs`"
    first = exercise_cells(nbformat.read(solution, 4))[0].cell_index
    cells = nbformat.read(lab, 4).cells
    first_check = next(i for i in range(first + 1, len(cells)) if cells[i].cell_type == "code")
    with pytest.raises(NotebookError) as info:
        run_notebook(lab, tmp_path / lab.name, timeout=300)
    err = info.value
    assert err.cell_index in (first, first_check), (
        f"{lab.name} should fail at its first exercise (cell {first + 1}) or the check after it "
        f"(cell {first_check + 1}), but failed elsewhere:\n{err}"
    )
    assert err.ename in ("NotImplementedError", "AssertionError"), f"{lab.name} failed for another reason:\n{err}"
    if err.ename == "NotImplementedError":
        assert err.evalue.startswith("Exercise 1 "), f"the first failure should be exercise 1's TODO:\n{err}"


def test_generator_uses_nbgrader_preprocessors():
    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    solutions, output = labs._preprocessors()
    assert isinstance(solutions, ClearSolutions) and isinstance(output, ClearOutput)
