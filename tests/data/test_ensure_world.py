"""ensure_world: loads what matches, regenerates what does not, never leaves a partial world."""

from __future__ import annotations

import json

import pytest

from data_generators import ConfigError, WorldConfig, ensure_world, make_config
from data_generators import world as world_mod


def test_second_call_loads_without_regenerating(tmp_path):
    w1 = ensure_world("small", 3, data_dir=tmp_path, days=5)
    mtimes = {p: p.stat().st_mtime_ns for p in w1.paths.values()}
    w2 = ensure_world("small", 3, data_dir=tmp_path, days=5)
    assert w2.directory == w1.directory and w2._cache == {}
    assert {p: p.stat().st_mtime_ns for p in w2.paths.values()} == mtimes
    assert len(w2.events) == len(w1.events)


def test_default_world_lives_in_the_schema_folder(world, worlds_dir):
    assert world.directory == worlds_dir / "world" / "small-seed42"
    assert world.config == WorldConfig()


def test_other_knobs_get_their_own_folder(tmp_path):
    w = ensure_world("small", 42, data_dir=tmp_path, days=3, start="2026-03-02")
    assert w.directory.name.startswith("small-seed42-") and w.directory.name != "small-seed42"
    assert w.events["event_ts"].min() >= __import__("pandas").Timestamp("2026-03-02", tz="UTC")
    assert json.loads(w.paths["manifest"].read_text())["config"]["days"] == 3


def test_changed_manifest_regenerates(tmp_path):
    w = ensure_world("small", 5, data_dir=tmp_path, days=2)
    manifest = json.loads(w.paths["manifest"].read_text())
    manifest["config"]["generator_version"] = "0"
    w.paths["manifest"].write_text(json.dumps(manifest))
    again = ensure_world("small", 5, data_dir=tmp_path, days=2)
    assert again._cache, "a stale manifest must trigger generation"
    assert json.loads(again.paths["manifest"].read_text())["config"] == again.config.to_dict()


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failure_leaves_nothing_partial(tmp_path, monkeypatch, exc):
    real = world_mod.write_world

    def broken(tables, config, directory):
        real(tables, config, directory)
        (directory / "users.parquet").unlink()  # half-written state...
        raise exc  # ...then the failure

    monkeypatch.setattr(world_mod, "write_world", broken)
    with pytest.raises(type(exc)):
        ensure_world("small", 9, data_dir=tmp_path, days=2)
    root = tmp_path / "world"
    assert [p.name for p in root.iterdir() if not p.name.endswith(".lock")] == []


def test_failure_keeps_the_previous_world(tmp_path, monkeypatch):
    good = ensure_world("small", 9, data_dir=tmp_path, days=2)
    before = good.paths["manifest"].read_text()
    monkeypatch.setattr(world_mod, "write_world", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        ensure_world("small", 9, data_dir=tmp_path, days=2, force=True)
    assert good.paths["manifest"].read_text() == before


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"scale": "huge"}, "unknown scale"),
        ({"days": 0}, "at least 1 day"),
        ({"days": -2}, "at least 1 day"),
        ({"start": "2026-02-30"}, "YYYY-MM-DD"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "not after start"),
        ({"colour": "blue"}, "unknown world knob"),
        ({"seed": -1}, "non-negative"),
    ],
)
def test_bad_knobs_are_explained(kwargs, fragment, tmp_path):
    scale = kwargs.pop("scale", "small")
    seed = kwargs.pop("seed", 42)
    with pytest.raises(ConfigError, match=fragment):
        ensure_world(scale, seed, data_dir=tmp_path, **kwargs)
    assert not (tmp_path / "world").exists() or not any((tmp_path / "world").iterdir())


def test_end_is_exclusive():
    assert make_config("small", 1, start="2026-01-05", end="2026-01-12").days == 7
