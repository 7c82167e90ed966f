"""Tiny notebooks for the harness tests, written with nbformat into a temp dir."""

from __future__ import annotations

from pathlib import Path

import nbformat

PARAMS = 'SCALE = "small"\nSEED = 42'


def make_notebook(path: Path, *cells: str | tuple[str, str], params: str | None = PARAMS) -> Path:
    """Write a notebook: an optional ``parameters`` cell, then ``cells`` (code source, or
    ``("markdown", text)``)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if params is not None:
        p = nbformat.v4.new_code_cell(params)
        p.metadata["tags"] = ["parameters"]
        nb.cells.append(p)
    for cell in cells:
        if isinstance(cell, tuple):
            nb.cells.append(nbformat.v4.new_markdown_cell(cell[1]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(cell))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
