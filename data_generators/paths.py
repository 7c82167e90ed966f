"""Where worlds live on disk, and whether one there matches a config (light: no pandas)."""

from __future__ import annotations

import json
from pathlib import Path

from data_generators.config import WorldConfig

MANIFEST = "manifest.json"


def world_root(data_dir: Path | None = None) -> Path:
    """``<data_dir>/world`` (``data_dir`` defaults to ``get_settings().data_dir``)."""
    if data_dir is None:
        from labkit.settings import get_settings

        data_dir = get_settings().data_dir
    return Path(data_dir) / "world"


def world_dir(config: WorldConfig, data_dir: Path | None = None) -> Path:
    return world_root(data_dir) / config.config_id()


def manifest_matches(directory: Path, config: WorldConfig) -> bool:
    """True when ``directory`` holds a complete world generated from exactly this config."""
    try:
        manifest = json.loads((Path(directory) / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("config") != config.to_dict():
        return False
    return all((Path(directory) / fname).is_file() for fname in manifest.get("files", {}))
