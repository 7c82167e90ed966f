"""Same seed, same bytes; small scale generates fast."""

from __future__ import annotations

import hashlib
import time

from data_generators import generate_world


def _hashes(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_same_seed_same_bytes(tmp_path):
    generate_world("small", 42, out_dir=tmp_path / "a")
    generate_world("small", 42, out_dir=tmp_path / "b")
    a, b = _hashes(tmp_path / "a"), _hashes(tmp_path / "b")
    assert len(a) == 10, sorted(a)
    assert a == b, {k for k in a if a[k] != b.get(k)}


def test_other_seed_other_world(tmp_path):
    w1 = generate_world("small", 1, days=7)
    w2 = generate_world("small", 2, days=7)
    assert not w1._cache["events"]["user_id"].head(1000).equals(w2._cache["events"]["user_id"].head(1000))


def test_manifest_has_no_wall_clock(world):
    import json

    manifest = json.loads(world.paths["manifest"].read_text())
    assert manifest["created"] == "2026-02-02T00:00:00+00:00"  # the end of the window, not "now"
    assert set(manifest["files"]) == {p.name for p in world.paths.values()} - {"manifest.json"}


def test_small_generates_well_under_budget():
    t0 = time.perf_counter()
    w = generate_world("small", 7)
    elapsed = time.perf_counter() - t0
    # the budget is 5 s on a laptop; 15 s is a sanity bound for a busy CI machine
    assert elapsed < 15, f"small world took {elapsed:.1f} s"
    assert 40_000 < len(w._cache["events"]) < 120_000
