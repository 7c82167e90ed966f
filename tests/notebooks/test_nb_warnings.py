"""Deprecation warnings caused by the lab's own code are errors: in pytest (pyproject's
filterwarnings) and in a notebook's kernel (``labkit.notebook.setup``)."""

from __future__ import annotations

import warnings

import pytest
from nbfactory import make_notebook

from labkit.notebook import LAB_PACKAGES
from labkit.runner import NotebookError, run_notebook

CATEGORIES = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


@pytest.mark.parametrize("category", CATEGORIES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("package", LAB_PACKAGES)
def test_pytest_turns_lab_package_deprecations_into_errors(package, category):
    for module in (package, f"{package}.sub.module"):
        with pytest.raises(category):
            warnings.warn_explicit("old API", category, f"{module}.py", 1, module=module)


def test_pytest_leaves_third_party_deprecations_as_warnings():
    # a package whose name merely starts like a lab package is not one of them
    for module in ("pandas.core.frame", "labkit_extras", "streamingly"):
        with pytest.warns(DeprecationWarning):
            warnings.warn_explicit("old API", DeprecationWarning, f"{module}.py", 1, module=module)


@pytest.mark.slow
def test_setup_makes_a_notebooks_own_deprecation_an_error(tmp_path):
    nb = make_notebook(
        tmp_path / "strict.ipynb",
        "from labkit.notebook import setup\nsettings = setup('strict', plots=False)",
        # third-party code deprecating something stays a warning: the lab cannot fix it
        "import warnings\n"
        "warnings.warn_explicit('internal', DeprecationWarning, 'lib.py', 1, module='somelib.core')\n"
        "print('ok')",
        "import warnings\nwarnings.warn('this call is deprecated', DeprecationWarning)",
        "print('not reached')",
    )
    with pytest.raises(NotebookError) as info:
        run_notebook(nb, tmp_path / "out.ipynb")
    assert (info.value.cell_index, info.value.ename, info.value.evalue) == (
        3,
        "DeprecationWarning",
        "this call is deprecated",
    )


@pytest.mark.slow
def test_without_setup_a_deprecation_is_only_a_warning(tmp_path):
    # the control for the test above: it is setup() that makes the difference
    nb = make_notebook(
        tmp_path / "lenient.ipynb",
        "import warnings\nwarnings.warn('this call is deprecated', DeprecationWarning)\nprint('went on')",
    )
    run = run_notebook(nb, tmp_path / "out.ipynb")
    assert any("went on" in o.get("text", "") for o in run.notebook.cells[-1].outputs)
