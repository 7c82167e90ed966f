"""A seeded synthetic e-commerce world for the whole lab (see SCHEMA.md, the contract).

    from data_generators import ensure_world
    world = ensure_world(scale="small", seed=42)   # loads from disk, or generates once
    world.events, world.user_features, world.labels, world.ground_truth ...

Heavy modules (pandas, pyarrow) load on first use, so `labdata --help` and argument errors
answer instantly.
"""

from data_generators.config import SCALES, ConfigError, Traps, WorldConfig, make_config

_LAZY = {"World", "ensure_world", "generate_world", "load_world", "world_dir"}

__all__ = ["SCALES", "ConfigError", "Traps", "WorldConfig", "make_config", *sorted(_LAZY)]


def __getattr__(name: str):
    if name in _LAZY:
        from data_generators import world

        return getattr(world, name)
    raise AttributeError(f"module 'data_generators' has no attribute {name!r}")
