"""The first embedded broker and its workarounds are gone: only docs/stack.md's history note names it.

The name is read from that note, so this test (and nothing else) needs no copy of it.
"""

from __future__ import annotations

import re
import subprocess

from labkit.settings import REPO_ROOT

HISTORY = REPO_ROOT / "docs" / "stack.md"


def old_broker_name() -> str:
    m = re.search(r"\*\*History\.\*\* The first embedded broker was (\w+)", HISTORY.read_text())
    assert m, "docs/stack.md lost its history note about the first embedded broker"
    return m.group(1).lower()


def test_only_the_history_note_names_the_old_broker():
    name = old_broker_name()
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    hits = [
        f
        for f in files
        if f != "docs/stack.md"
        and (REPO_ROOT / f).is_file()
        and name in (REPO_ROOT / f).read_text(errors="ignore").lower()
    ]
    assert not hits, f"files still mention {name} (its workarounds should be gone): {hits}"
