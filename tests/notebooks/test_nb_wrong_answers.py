"""Every plausible wrong answer in ``wrong_answers.py`` fails its exercise's checks with the message
that teaches the fix (see that module for how to add one)."""

from __future__ import annotations

import re

import nbformat
import pytest
from wrong_answers import WRONG_ANSWERS, WrongAnswer

from labkit.labs import SOLUTIONS_DIR
from labkit.runner import NotebookError, run_notebook

REGION = re.compile(r"(### BEGIN SOLUTION\n)(.*?)(\n[ \t]*### END SOLUTION)", re.S)


def with_wrong_answer(wrong: WrongAnswer) -> nbformat.NotebookNode:
    """The solution notebook with region ``wrong.region`` replaced by the wrong answer."""
    nb = nbformat.read(SOLUTIONS_DIR / f"{wrong.exercise}.ipynb", 4)
    seen = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for m in REGION.finditer(cell.source):
            seen += 1
            if seen == wrong.region:
                cell.source = cell.source[: m.start(2)] + wrong.code.strip("\n") + cell.source[m.end(2) :]
                return nb
    raise AssertionError(f"{wrong.exercise} has {seen} solution region(s), not {wrong.region}")


def test_every_wrong_answer_names_a_real_exercise_region():
    for wrong in WRONG_ANSWERS:
        assert wrong.code.strip() and wrong.expect, wrong
        with_wrong_answer(wrong)


@pytest.mark.notebook
@pytest.mark.parametrize("wrong", WRONG_ANSWERS, ids=[f"{w.exercise}-{w.region}" for w in WRONG_ANSWERS])
def test_a_plausible_wrong_answer_fails_with_a_message_that_teaches(wrong, tmp_path, lab_settings):
    path = tmp_path / f"{wrong.exercise}.ipynb"
    nbformat.write(with_wrong_answer(wrong), path)
    with pytest.raises(NotebookError) as info:
        run_notebook(path, tmp_path / f"{wrong.exercise}-out.ipynb", timeout=300, cwd=SOLUTIONS_DIR)
    err = info.value
    assert err.ename == "AssertionError", f"{wrong.why}: failed for another reason:\n{err}"
    assert wrong.expect in str(err), f"{wrong.why}: the check did not say {wrong.expect!r}:\n{err}"
