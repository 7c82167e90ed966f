"""The first embedded broker (tansu) and its workarounds are gone: only docs/stack.md's history note names it."""

from __future__ import annotations

import subprocess

from labkit.settings import REPO_ROOT


def test_only_the_history_note_names_the_old_broker():
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    allowed = {
        "docs/stack.md",
        "tests/unit/test_no_tansu.py",
        "tests/interview/test_questions.py",
    }  # the last two forbid it
    hits = [
        f
        for f in files
        if f not in allowed
        and (REPO_ROOT / f).is_file()
        and "tansu" in (REPO_ROOT / f).read_text(errors="ignore").lower()
    ]
    assert not hits, f"files still mention tansu (its workarounds should be gone): {hits}"
