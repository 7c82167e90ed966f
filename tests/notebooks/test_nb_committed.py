"""The committed reference notebooks read as one real run of the final code on the lab's own stack:
every code cell executed, one synthetic world, and nothing in the outputs from another stack (ports,
LAB_HOMEs, temp dirs) or another machine's checkout. `make notebooks` refreshes them in one run."""

from __future__ import annotations

import json
import re

import pytest

from labkit.settings import DEFAULT_PORTS, REPO_ROOT

NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
LAB_PORTS = set(DEFAULT_PORTS.values())


def _outputs_text(nb: dict) -> str:
    return json.dumps([c.get("outputs", []) for c in nb["cells"] if c["cell_type"] == "code"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_code_cell_was_executed(path):
    nb = json.loads(path.read_text())
    unrun = [i + 1 for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and c.get("execution_count") is None]
    assert not unrun, f"{path.name}: code cells {unrun} were never executed; refresh with `make notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_outputs_show_only_the_lab_stack_and_no_machine_paths(path):
    text = _outputs_text(json.loads(path.read_text()))
    ports = {int(p) for p in re.findall(r"(?:127\.0\.0\.1|localhost):(\d{4,5})", text)}
    assert ports <= LAB_PORTS, f"{path.name}: outputs show ports of another stack: {sorted(ports - LAB_PORTS)}"
    foreign = sorted(set(re.findall(r"(/tmp/[\w./-]+|\.lab-[a-z]+|pytest-of-\w+)", text)))
    assert not foreign, f"{path.name}: outputs show another stack's files: {foreign[:3]}"
    machine = sorted(set(re.findall(re.escape(str(REPO_ROOT)) + r"[\w./-]*|[\w./-]*site-packages[\w./-]*", text)))
    assert not machine, (
        f"{path.name}: outputs show this machine's paths {machine[:3]}; print them with labkit.notebook.display_path"
    )


def test_one_synthetic_world_across_the_notebooks():
    seen: dict[str, set[str]] = {}
    for path in NOTEBOOKS:
        for digest in re.findall(r"raw_events=([0-9a-f]{12,})", _outputs_text(json.loads(path.read_text()))):
            seen.setdefault(digest, set()).add(path.stem)
    assert len(seen) <= 1, f"the notebooks ran on different worlds: {seen}; refresh them in one run (`make notebooks`)"
