"""Generate the exercise notebooks in ``labs/`` from their solutions in ``solutions/``.

A solution notebook marks the code a learner must write::

    def put_object(s3, bucket, key, body):
        ### BEGIN SOLUTION
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        ### END SOLUTION

and the lab gets, at the same indentation::

    def put_object(s3, bucket, key, body):
        # TODO: write your code here (replace the line below), then run the check cell that follows.
        raise NotImplementedError("Exercise 1 is not done yet")

The work is done by nbgrader's own ``ClearSolutions`` and ``ClearOutput`` preprocessors, run through
nbconvert without the nbgrader app or its database. Two additions where nbgrader cannot serve:
``ClearSolutions`` has one fixed stub per language, so :class:`NumberedClearSolutions` puts the
exercise number (the position of the solution cell) into it; and papermill/JupyterLab bookkeeping
(run timings, widget state) is dropped so that generation is deterministic: same solutions, same bytes.
Markdown cells may hold written-answer regions between the same markers; they become a prompt.

Learners work in ``labs/``: a lab whose cells differ from what the generator wrote (a fingerprint in
its metadata tells) is never overwritten or removed unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from labkit.cli_support import CommandError, command, parser
from labkit.settings import REPO_ROOT

SOLUTIONS_DIR = REPO_ROOT / "solutions"
LABS_DIR = REPO_ROOT / "labs"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
EXERCISE = "{exercise}"  # placeholder in the stub, replaced by the exercise number
CODE_STUB = (
    "# TODO: write your code here (replace the line below), then run the check cell that follows.\n"
    f'raise NotImplementedError("Exercise {EXERCISE} is not done yet")'
)
TEXT_STUB = "_Your answer here._"
GENERATED_KEY = "mlinfra_lab"  # notebook metadata that marks a generated lab
# Cell metadata written by runs, not by authors (papermill timings, JupyterLab view state).
RUN_METADATA = {"collapsed", "scrolled", "execution", "papermill", "jupyter"}
NOTEBOOK_RUN_METADATA = ("papermill", "widgets", "celltoolbar")


class LabError(ValueError):
    """A solution notebook that cannot become a lab (no markers, unbalanced markers...)."""


def _preprocessors():
    # nbgrader's import pulls in its app stack (~3 s), so import on first use only.
    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    class NumberedClearSolutions(ClearSolutions):
        """ClearSolutions whose stub names the exercise: "Exercise 2 is not done yet"."""

        def preprocess(self, nb, resources):
            self._exercise = 0
            return super().preprocess(nb, resources)

        def _replace_solution_region(self, cell, language):
            replaced = super()._replace_solution_region(cell, language)
            if replaced and cell.cell_type == "code":
                self._exercise += 1
                cell.source = cell.source.replace(EXERCISE, str(self._exercise))
            return replaced

    clear_solutions = NumberedClearSolutions(
        code_stub={"python": CODE_STUB},
        text_stub=TEXT_STUB,
        begin_solution_delimeter=BEGIN,
        end_solution_delimeter=END,
        # The lab marks regions by their delimiters only, not by nbgrader cell metadata.
        enforce_metadata=False,
    )
    clear_output = ClearOutput(remove_metadata_fields=RUN_METADATA)
    return clear_solutions, clear_output


@dataclass
class Exercise:
    cell_index: int  # 0-based position of the solution cell
    number: int


def exercise_cells(nb: nbformat.NotebookNode) -> list[Exercise]:
    """Code cells that hold a solution region, in order (numbered from 1, as in the lab's stubs)."""
    cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and BEGIN in c.source]
    return [Exercise(i, n) for n, i in enumerate(cells, start=1)]


def _validate(nb: nbformat.NotebookNode, name: str) -> None:
    if not exercise_cells(nb):
        raise LabError(
            f"{name}: no code cell holds a '{BEGIN}' ... '{END}' region, so the lab would be "
            f"identical to the solution. Put the learner's part of the code between those lines."
        )
    for i, cell in enumerate(nb.cells, start=1):
        begins = sum(BEGIN in ln for ln in cell.source.splitlines())
        ends = sum(END in ln for ln in cell.source.splitlines())
        if begins != ends:
            raise LabError(
                f"{name}: cell {i} has {begins} '{BEGIN}' but {ends} '{END}' lines; every "
                f"region needs both markers, each on its own line."
            )


def generate_lab(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The lab notebook for ``solution`` (a new notebook; ``solution`` is left untouched)."""
    _validate(solution, name)
    nb = copy.deepcopy(solution)
    clear_solutions, clear_output = _preprocessors()
    resources: dict = {}
    try:
        nb, resources = clear_solutions.preprocess(nb, resources)
    except RuntimeError as exc:  # nbgrader's own complaints (nested regions, missing END)
        raise LabError(f"{name}: {exc}") from None
    nb, resources = clear_output.preprocess(nb, resources)
    for key in NOTEBOOK_RUN_METADATA:
        nb.metadata.pop(key, None)
    nb.metadata[GENERATED_KEY] = {
        "generated_from": f"solutions/{name}",
        "note": "Generated by `make labs` from the solution notebook; edit the solution, not this file.",
        # lets `labkit labs` tell a learner's edits from a stale lab, and keep the edits
        "cells_sha256": cells_digest(nb),
    }
    return nb


def cells_digest(nb: nbformat.NotebookNode) -> str:
    """A fingerprint of the cells' types and sources (not outputs: running a lab is not editing it)."""
    payload = json.dumps([[c.cell_type, c.source] for c in nb.cells], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def hand_edited(path: Path) -> bool:
    """True when the lab's code or text differs from what the generator wrote (a learner's work),
    or when the file was not written by the generator at all."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return True
    meta = nb.metadata.get(GENERATED_KEY)
    if not isinstance(meta, dict):
        return True
    return "cells_sha256" in meta and meta["cells_sha256"] != cells_digest(nb)


def render(nb: nbformat.NotebookNode) -> str:
    """The exact text written to disk (nbformat's layout, sorted keys, final newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def lab_text(solution_path: Path) -> str:
    solution = nbformat.read(solution_path, as_version=4)
    return render(generate_lab(solution, solution_path.name))


@dataclass
class SyncReport:
    stale: list[Path]  # labs whose content differs from what their solution generates
    missing: list[Path]  # labs that do not exist yet
    orphans: list[Path]  # generated labs whose solution is gone
    edited: list[Path] = None  # stale labs that hold a learner's edits (kept unless forced)

    def __post_init__(self):
        self.edited = self.edited or []

    @property
    def in_sync(self) -> bool:
        return not (self.stale or self.missing or self.orphans)


def _is_generated(path: Path) -> bool:
    try:
        return GENERATED_KEY in nbformat.read(path, as_version=4).metadata
    except Exception:
        return False


def sync(
    solutions_dir: Path = SOLUTIONS_DIR, labs_dir: Path = LABS_DIR, *, write: bool, force: bool = False
) -> SyncReport:
    """Compare (``write=False``) or bring (``write=True``) ``labs_dir`` in line with ``solutions_dir``.

    A lab a learner has edited is never overwritten or removed unless ``force``; it is listed in
    ``report.edited`` (as well as in ``stale``/``orphans``)."""
    solutions = sorted(solutions_dir.glob("*.ipynb"))
    report = SyncReport([], [], [])
    texts = {sol: lab_text(sol) for sol in solutions}  # all first: one bad solution writes nothing
    for sol, text in texts.items():
        target = labs_dir / sol.name
        if not target.exists():
            report.missing.append(target)
        elif target.read_text(encoding="utf-8") != text:
            report.stale.append(target)
            if hand_edited(target):
                report.edited.append(target)
                if not force:
                    continue
        else:
            continue
        if write:
            labs_dir.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    names = {s.name for s in solutions}
    # Only notebooks this generator wrote count as orphans; a learner's own notebook stays.
    report.orphans = [p for p in sorted(labs_dir.glob("*.ipynb")) if p.name not in names and _is_generated(p)]
    if write:
        for p in report.orphans:
            if hand_edited(p):
                report.edited.append(p)
                if not force:
                    continue
            p.unlink()
    return report


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


@command("labkit labs")
def cmd_labs(argv: list[str]) -> int:
    cli = parser("labkit labs", "Generate labs/ from solutions/ (solution regions replaced by a TODO that raises).")
    cli.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 and name the labs that are out of sync"
    )
    cli.add_argument(
        "--force", action="store_true", help="also overwrite labs you have edited (your work in them is lost)"
    )
    cli.add_argument("--solutions", type=Path, default=SOLUTIONS_DIR, help=argparse.SUPPRESS)
    cli.add_argument("--labs", type=Path, default=LABS_DIR, help=argparse.SUPPRESS)
    args = cli.parse_args(argv)
    if not args.solutions.is_dir():
        raise CommandError(f"no solutions folder at {args.solutions}")
    report = sync(args.solutions, args.labs, write=not args.check, force=args.force)  # LabError: @command
    if args.check:
        if report.in_sync:
            print(f"labs/ is in sync with solutions/ ({len(list(args.solutions.glob('*.ipynb')))} notebooks)")
            return 0
        for label, paths in (
            ("out of date", report.stale),
            ("missing", report.missing),
            ("has no solution any more", report.orphans),
        ):
            for p in paths:
                note = " (and holds edits made by hand)" if p in report.edited else ""
                print(f"  {_rel(p)}: {label}{note}", file=sys.stderr)
        print("labs/ is out of sync with solutions/: run `make labs` (never edit labs/ by hand).", file=sys.stderr)
        return 1
    kept = [] if args.force else report.edited
    changed = [p for p in report.stale + report.missing if p not in kept]
    for p in changed:
        print(f"wrote {_rel(p)}")
    for p in report.orphans:
        if p not in kept:
            print(f"removed {_rel(p)} (its solution is gone)")
    if not changed and not report.orphans:
        print("labs/ already up to date")
    for p in kept:
        print(
            f"kept {_rel(p)}: it holds your edits, so it was not regenerated. Copy your work elsewhere, "
            f"then run `labkit labs --force` to regenerate it.",
            file=sys.stderr,
        )
    return 1 if kept else 0
