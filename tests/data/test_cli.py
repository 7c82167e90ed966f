"""`labdata`: argument errors are one line, exit 2, and write nothing; generate/info work."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

FREE_OFFSET = "3700"  # a port offset where no stack runs (for "unreachable stack" errors)


def run(args, home, offset=FREE_OFFSET, timeout=120):
    env = {**os.environ, "LAB_HOME": str(home), "LAB_PORT_OFFSET": offset}
    for var in ("LAB_KAFKA_BOOTSTRAP", "LAB_REDIS_URL", "LAB_S3_ENDPOINT"):
        env.pop(var, None)
    return subprocess.run([sys.executable, "-m", "data_generators", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)  # fmt: skip


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["generate", "--scale", "huge"], "unknown scale"),
        (["generate", "--days", "0"], "at least 1 day"),
        (["generate", "--days", "-5"], "at least 1 day"),
        (["generate", "--days", "many"], "not a whole number"),
        (["generate", "--start", "05/01/2026"], "YYYY-MM-DD"),
        (["generate", "--start", "2026-02-01", "--end", "2026-01-01"], "not after start"),
        (["generate", "--to", "local,gcs"], "--to"),
        (["generate", "--if-missing", "--force"], "pick one"),
        (["generate", "--to", "local,s3"], "labkit up"),
        (["generate", "--to", "delta"], "labkit up"),
        (["replay", "--topic", "t"], "labkit up"),
        (["replay"], "--topic"),
        (["replay", "--topic", "t", "--rate", "-1"], "--rate"),
        (["replay", "--topic", "t", "--speedup", "0"], "--speedup"),
        (["replay", "--topic", "t", "--rate", "5", "--speedup", "2"], "pick one"),
        (["nonsense"], "invalid choice"),
        ([], "give a command"),
        (["generate", "--end", "2025-12-01"], "not after start"),
    ],
)
def test_bad_arguments_one_line_exit_2_nothing_written(tmp_path, args, fragment):
    home = tmp_path / "home"
    done = run(args, home)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip() and "Warning" not in line
             and not line.startswith("  ")]  # fmt: skip
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("labdata: error:") and fragment in lines[0], lines[0]
    assert not (home / "data").exists(), "an error must not leave files behind"


def test_generate_then_if_missing_is_a_no_op(tmp_path):
    home = tmp_path / "home"
    first = run(["generate", "--scale", "small", "--days", "3", "--quiet"], home)
    assert first.returncode == 0, first.stderr
    assert "generated world small-seed42-" in first.stdout
    worlds = list((home / "data" / "world").glob("small-seed42-*/manifest.json"))
    assert len(worlds) == 1
    mtime = worlds[0].stat().st_mtime_ns
    again = run(["generate", "--scale", "small", "--days", "3", "--if-missing"], home)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert worlds[0].stat().st_mtime_ns == mtime
    info = run(["info"], home)
    assert info.returncode == 0 and worlds[0].parent.name in info.stdout
