"""Execute lab notebooks with papermill: the runner behind the notebook tests and `make notebooks`.

    from labkit.runner import run_notebook
    run = run_notebook("notebooks/00_stack_tour.ipynb")          # SCALE="small", SEED=42
    run.seconds, run.notebook                                     # wall time, executed notebook

Conventions it enforces:
- every notebook has a code cell tagged ``parameters`` that assigns at least ``SCALE`` and ``SEED``
  (papermill injects overrides after it; only values that differ from the cell's own are injected,
  so a default run leaves the notebook as its author wrote it);
- the kernel is this Python environment's ipykernel, whatever kernelspecs a machine has installed
  (a ``python3`` kernelspec from another environment would silently run other packages);
- the kernel's ``LAB_NOTEBOOK`` names the notebook, so ``labkit.results.record`` tags measurements;
- the kernel starts in the notebook's own folder, as it does in JupyterLab and under nbval.

A failing notebook raises :class:`NotebookError`, whose message names the notebook, the failing
cell (its position in the source notebook, as the learner sees it) and the exception.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from jupyter_core.utils import run_sync

from labkit.cli_support import EXIT_FAILED, CommandError, command
from labkit.cli_support import parser as cli_parser
from labkit.settings import REPO_ROOT, get_settings

DEFAULT_PARAMETERS: dict[str, Any] = {"SCALE": "small", "SEED": 42}
REQUIRED_PARAMETERS = ("SCALE", "SEED")
DEFAULT_CELL_TIMEOUT = 600  # seconds per cell; a lab cell is meant to take seconds
KERNEL_NAME = "python3"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(RuntimeError):
    """A notebook could not be run, or one of its cells raised.

    ``cell_index`` is 0-based in the source notebook (None when no cell ran); ``ename``/``evalue``
    are the exception's type name and message; ``output_path`` holds the executed notebook."""

    def __init__(
        self,
        notebook: Path | str,
        message: str,
        *,
        cell_index: int | None = None,
        exec_count: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
        traceback: list[str] | None = None,
        output_path: Path | None = None,
    ):
        self.notebook = Path(notebook)
        self.cell_index = cell_index
        self.exec_count = exec_count
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback or []
        self.output_path = output_path
        super().__init__(message)


@dataclass
class NotebookRun:
    path: Path
    notebook: nbformat.NotebookNode
    seconds: float
    output_path: Path | None


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


# -- the parameters cell ---------------------------------------------------------------------
def parameters_cell_index(nb: nbformat.NotebookNode, path: Path | str = "notebook") -> int:
    """Index of the code cell tagged ``parameters``; a clear error when missing or incomplete."""
    tagged = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "parameters" in c.get("metadata", {}).get("tags", [])
    ]
    where = _display(Path(path))
    if not tagged:
        raise NotebookError(
            path,
            (
                f"{where}: no code cell is tagged 'parameters'. Add one near the top with at least\n"
                f'    SCALE = "small"\n    SEED = 42\n'
                f"and give it the tag 'parameters' (JupyterLab: property inspector > Cell Tags), "
                f"so papermill can set the scale."
            ),
        )
    if len(tagged) > 1:
        raise NotebookError(path, f"{where}: cells {[i + 1 for i in tagged]} are all tagged 'parameters'; keep one.")
    missing = [name for name in REQUIRED_PARAMETERS if name not in notebook_parameters(nb.cells[tagged[0]].source)]
    if missing:
        raise NotebookError(
            path,
            (
                f"{where}: the 'parameters' cell (cell {tagged[0] + 1}) does not assign {', '.join(missing)}; "
                f'it must set at least SCALE (e.g. "small") and SEED (e.g. 42).'
            ),
        )
    return tagged[0]


def notebook_parameters(source: str) -> dict[str, Any]:
    """Names assigned at top level in a parameters cell; literal values evaluated, others as ``...``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    values: dict[str, Any] = {}
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        value = getattr(node, "value", None)
        for target in targets:
            if isinstance(target, ast.Name):
                try:
                    values[target.id] = ast.literal_eval(value) if value is not None else ...
                except ValueError:
                    values[target.id] = ...
    return values


# -- the kernel ------------------------------------------------------------------------------
def _kernel_manager(kernel_name: str, socket_dir: Path):
    """A KernelManager whose ``python3`` is this interpreter's ipykernel (not whatever kernelspec
    a user-level Jupyter install calls python3)."""
    import ipykernel.kernelspec

    # nbclient needs the async manager: with a blocking one, its output poller blocks the event
    # loop and per-cell timeouts never fire.
    from jupyter_client import AsyncKernelManager as KernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    class _ThisEnvKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, name):
            if name == KERNEL_NAME:
                return self.kernel_spec_class(
                    resource_dir=ipykernel.kernelspec.RESOURCES, **ipykernel.kernelspec.get_kernel_dict()
                )
            return super().get_kernel_spec(name)

    specs = _ThisEnvKernelSpecs()
    if os.name == "nt":
        return KernelManager(kernel_name=kernel_name, kernel_spec_manager=specs)
    # Unix sockets keep the kernel off TCP (and ipykernel's plain-TCP warning off the console);
    # they live in a private temp dir, else they litter the notebook's folder.
    return KernelManager(
        kernel_name=kernel_name, kernel_spec_manager=specs, transport="ipc", ip=str(socket_dir / "kernel")
    )


@contextmanager
def _environ(updates: Mapping[str, str]) -> Iterator[None]:
    """Environment for the kernel, which inherits ours when it starts; restored afterwards."""
    saved = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- running ---------------------------------------------------------------------------------
def _source_index(executed: nbformat.NotebookNode, source: nbformat.NotebookNode, index: int) -> int:
    """Map a cell index of the executed notebook (which may hold an injected-parameters cell)
    back to the source notebook, by cell id when the notebook has ids."""
    ids = [c.get("id") for c in source.cells]
    if index < len(executed.cells):
        cell_id = executed.cells[index].get("id")
        if cell_id and cell_id in ids:
            return ids.index(cell_id)
    injected = [
        i
        for i, c in enumerate(executed.cells[:index])
        if "injected-parameters" in c.get("metadata", {}).get("tags", [])
    ]
    return index - len(injected)


def _error_from_papermill(
    exc: Any, path: Path, source: nbformat.NotebookNode, executed: nbformat.NotebookNode, output_path: Path
) -> NotebookError:
    index = _source_index(executed, source, exc.cell_index)
    cell_src = source.cells[index].source if 0 <= index < len(source.cells) else exc.source
    first_line = next((ln for ln in cell_src.splitlines() if ln.strip()), "").strip()
    evalue = _ANSI.sub("", exc.evalue or "").strip()
    shown = evalue if len(evalue) <= 600 else evalue[:600] + " ..."
    where = f"cell {index + 1} of {len(source.cells)}"
    if exc.exec_count is not None:
        where += f" (In [{exc.exec_count}])"
    message = (
        f"{_display(path)}: {where} raised {exc.ename}: {shown}\n"
        f"  cell begins: {first_line[:120]}\n"
        f"  executed notebook (full traceback): {output_path}"
    )
    return NotebookError(
        path,
        message,
        cell_index=index,
        exec_count=exc.exec_count,
        ename=exc.ename,
        evalue=evalue,
        traceback=[_ANSI.sub("", t) for t in exc.traceback or []],
        output_path=output_path,
    )


def run_notebook(
    path: Path | str,
    output: Path | str | None = None,
    parameters: Mapping[str, Any] | None = None,
    *,
    timeout: float = DEFAULT_CELL_TIMEOUT,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    start_timeout: float = 60,
    log_output: bool = False,
) -> NotebookRun:
    """Execute ``path`` with papermill and return the executed notebook and its wall time.

    ``parameters`` default to ``{"SCALE": "small", "SEED": 42}``; ``timeout`` is per cell (seconds);
    ``cwd`` defaults to the notebook's folder; ``env`` adds variables for the kernel. ``output``
    (default: a file under the system temp dir) receives the executed notebook, also on failure.
    Raises :class:`NotebookError` naming the notebook, the failing cell and the exception.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    path = Path(path).resolve()
    if not path.is_file():
        raise NotebookError(path, f"{path}: no such notebook")
    source = nbformat.read(path, as_version=4)
    pindex = parameters_cell_index(source, path)
    defaults = notebook_parameters(source.cells[pindex].source)
    wanted = dict(DEFAULT_PARAMETERS if parameters is None else parameters)
    # Inject only what differs from the notebook's own values: a default run stays as authored.
    inject = {k: v for k, v in wanted.items() if defaults.get(k, object()) != v}

    if output is None:
        out_dir = Path(tempfile.gettempdir()) / "mlinfra-lab-runs"
        out_dir.mkdir(parents=True, exist_ok=True)
        output_path = out_dir / path.name
    else:
        output_path = Path(output).resolve()
        output_path.parent.mkdir(parents=True, exist_ok=True)

    kernel_env = {"LAB_NOTEBOOK": path.stem, **(env or {})}
    socket_dir = Path(tempfile.mkdtemp(prefix="lab-kernel-"))
    km = _kernel_manager(KERNEL_NAME, socket_dir)
    running: dict[str, Any] = {}  # the cell being executed, to name it when it times out
    started = time.perf_counter()
    stuck = False  # a kernel stuck in a timed-out cell cannot shut down politely
    kernel_log = socket_dir / "kernel.log"
    try:
        with _environ(kernel_env), kernel_log.open("wb") as log:
            # Started here rather than by nbclient so that the kernel's own console chatter
            # (e.g. "KeyboardInterrupt caught" at shutdown) goes to a log, quoted if the kernel dies.
            run_sync(km.start_kernel)(
                cwd=str(cwd or path.parent),
                stdout=log,
                stderr=log,
                extra_arguments=["--HistoryManager.hist_file=:memory:"],
            )
            executed = pm.execute_notebook(
                str(path),
                str(output_path),
                parameters=inject or None,
                kernel_name=KERNEL_NAME,
                language="python",
                km=km,
                cwd=str(cwd or path.parent),
                execution_timeout=timeout,
                start_timeout=start_timeout,
                progress_bar=False,
                log_output=log_output,
                request_save_on_cell_execute=False,
                on_cell_start=lambda cell, cell_index, **_: running.update(cell=cell),
            )
        seconds = time.perf_counter() - started
    except PapermillExecutionError as exc:
        executed = nbformat.read(output_path, as_version=4)
        # papermill put a banner cell (and an anchor) into the saved copy; drop them to map indices
        executed.cells = [
            c for c in executed.cells if "papermill-error-cell-tag" not in c.get("metadata", {}).get("tags", [])
        ]
        raise _error_from_papermill(exc, path, source, executed, output_path) from None
    except Exception as exc:  # kernel died, timeout in startup, bad notebook JSON...
        if type(exc).__name__ == "CellTimeoutError":
            stuck = True
            ids = [c.get("id") for c in source.cells]
            cell = running.get("cell") or {}
            index = ids.index(cell.get("id")) if cell.get("id") in ids else None
            where = f"cell {index + 1} of {len(source.cells)}" if index is not None else "a cell"
            first_line = next((ln.strip() for ln in cell.get("source", "").splitlines() if ln.strip()), "")
            raise NotebookError(
                path,
                f"{_display(path)}: {where} ran longer than {timeout:g} s and was stopped\n"
                f"  cell begins: {first_line[:120]}",
                cell_index=index,
                ename="CellTimeoutError",
                output_path=output_path,
            ) from None
        tail = kernel_log.read_text(errors="replace").strip().splitlines()[-8:] if kernel_log.exists() else []
        detail = "\n  kernel log: " + "\n  ".join(tail) if tail else ""
        raise NotebookError(
            path,
            f"{_display(path)}: could not be executed: {type(exc).__name__}: {str(exc).strip()[:400]}{detail}",
            output_path=output_path,
        ) from exc
    finally:
        # nbclient leaves a kernel it did not create running: stop it, or kernels pile up.
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=stuck)
        shutil.rmtree(socket_dir, ignore_errors=True)
    return NotebookRun(path=path, notebook=executed, seconds=seconds, output_path=output_path)


# -- `labkit run-notebooks` ------------------------------------------------------------------
# where name prefixes are looked up (labs/ only by explicit path: an unmodified lab is meant to fail)
FOLDERS = ("notebooks", "solutions", "interview_prep")


def _resolve(selectors: list[str], folders: list[str]) -> list[Path]:
    """Paths, globs, or prefixes such as ``03`` / ``00a_stack`` looked up in the lab's folders."""
    found: list[Path] = []
    for sel in selectors:
        p = Path(sel)
        if p.is_file():
            found.append(p.resolve())
            continue
        matches = sorted(REPO_ROOT.glob(sel)) if any(ch in sel for ch in "*?[") else []
        if not matches:
            matches = sorted(q for f in folders for q in (REPO_ROOT / f).glob(f"{sel}*.ipynb"))
        if not matches:
            raise ValueError(f"no notebook matches {sel!r} (looked in {', '.join(f + '/' for f in folders)})")
        found.extend(m.resolve() for m in matches)
    return list(dict.fromkeys(found))


def strip_run_metadata(path: Path) -> None:
    """Drop papermill's run bookkeeping (timestamps, absolute paths) from a notebook whose outputs
    are committed, so a re-run changes only what the notebook shows."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        for key in ("papermill", "execution"):
            cell.metadata.pop(key, None)
    nbformat.write(nb, path)


@command("labkit run-notebooks")
def cmd_run_notebooks(argv: list[str]) -> int:
    parser = cli_parser(
        "labkit run-notebooks", "Execute notebooks with papermill at a given scale; print and record their run times."
    )
    parser.add_argument(
        "notebooks",
        nargs="*",
        help="paths, globs or name prefixes (e.g. 03, 00a_stack); default: every notebooks/*.ipynb",
    )
    parser.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--inplace",
        action="store_true",
        help="write outputs back into the notebooks (refreshes committed reference outputs)",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=None,
        help="where executed copies go without --inplace (default: <LAB_HOME>/runs)",
    )
    parser.add_argument("--timeout", type=float, default=DEFAULT_CELL_TIMEOUT, help="seconds per cell")
    parser.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failing notebook")
    args = parser.parse_args(argv)

    try:
        paths = (
            _resolve(args.notebooks, list(FOLDERS))
            if args.notebooks
            else sorted((REPO_ROOT / "notebooks").glob("*.ipynb"))
        )
    except ValueError as exc:  # a name that matches no notebook, or several
        raise CommandError(str(exc)) from None
    if not paths:
        raise CommandError("no notebooks found in notebooks/", EXIT_FAILED)
    if args.inplace:
        kept_clean = [p for p in paths if p.parent.name in ("solutions", "labs")]
        if kept_clean:
            raise CommandError(
                f"--inplace would commit outputs into {_display(kept_clean[0])}; "
                "solutions/ and labs/ are kept without outputs. Run them without --inplace."
            )
    from labkit.results import record

    out_dir = args.output_dir or get_settings().home / "runs"
    rows: list[tuple[str, float, str]] = []
    for path in paths:
        name = _display(path)
        print(f"running {name} ...", flush=True)
        # --inplace copies the result over the notebook only when it ran clean: a failed run
        # must not leave papermill's error banner in a committed notebook.
        output = out_dir / path.name
        try:
            run = run_notebook(path, output, {"SCALE": args.scale, "SEED": args.seed}, timeout=args.timeout)
            seconds, status = run.seconds, "ok"
            if args.inplace:
                strip_run_metadata(output)
                shutil.copyfile(output, path)
        except NotebookError as exc:
            seconds, status = float("nan"), "FAILED"
            print(str(exc), file=sys.stderr)
        if status == "ok":
            record("notebook.runtime_s", seconds, "s", source="run-notebooks", notebook=path.stem, scale=args.scale)
        rows.append((name, seconds, status))
        if status != "ok" and args.exitfirst:
            break

    width = max(len(r[0]) for r in rows)
    print(f"\n{'notebook':<{width}}  {'seconds':>8}  status")
    for name, seconds, status in rows:
        print(f"{name:<{width}}  {seconds:>8.1f}  {status}")
    failed = [r for r in rows if r[2] != "ok"]
    print(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed, scale={args.scale}")
    return 1 if failed else 0
