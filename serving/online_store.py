"""What the serving notebooks need before they start the API: a world, Feast applied, and the
online store filled (materialized once per stack; later runs find it there)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from labkit.settings import Settings, get_settings


def world_window(world) -> tuple[datetime, datetime]:
    """[start, end] of the world's feature snapshots, as UTC datetimes (end = last snapshot)."""
    start = datetime.combine(world.config.start, time(0), tzinfo=UTC)
    return start, start + timedelta(days=world.config.days + 1)


def world_fingerprint(world) -> str:
    """A short hash of the world's feature files (from its manifest), to tell worlds apart."""
    import hashlib
    import json

    manifest = Path(world.paths["user_features"]).parent / "manifest.json"
    doc = json.loads(manifest.read_text()) if manifest.is_file() else {}
    files = doc.get("files", {})
    key = json.dumps(
        [
            files.get("user_features.parquet"),
            files.get("product_features.parquet"),
            str(world.config.scale),
            int(world.config.seed),
        ]
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def prepare_online_store(scale: str = "small", seed: int = 42, settings: Settings | None = None, force: bool = False):
    """Apply the lab's Feast definitions and materialize the world's snapshots into Redis.

    Redis keeps its data across restarts, so materialization is skipped when the online store
    already holds THIS world (a marker key records which world was materialized last: serving a
    store filled from another seed or an older generator is exactly the skew notebook 14
    measures). ``force=True`` always materializes. Returns (store, world).
    """
    from data_generators import ensure_world
    from feature_repo import setup_feature_store

    s = settings or get_settings()
    world = ensure_world(scale=scale, seed=seed)
    store = setup_feature_store(scale=scale, seed=seed, settings=s)
    from labkit.clients import redis_client

    r = redis_client(s)
    marker, fingerprint = "serving:materialized_world", world_fingerprint(world)
    current = r.get(marker)
    if force or current is None or current.decode() != fingerprint or not _online_rows_present(store, world):
        # Feast's Redis store keeps a row only if its event timestamp is NEWER than the stored one:
        # a regenerated world has the same timestamps, so its values would be silently skipped.
        # Drop this project's online rows first, then materialize.
        suffix = store.project.encode()
        stale = [k for k in r.scan_iter(count=2000) if k.endswith(suffix)]
        for i in range(0, len(stale), 500):
            r.delete(*stale[i : i + 500])
        start, end = world_window(world)
        store.materialize(start, end, feature_views=["user_stats", "product_features"])
        r.set(marker, fingerprint)
    return store, world


def _online_rows_present(store, world) -> bool:
    """Does the online store still hold this world's rows? Other notebooks and tests share the
    stack and may have emptied it (``reset_online_state``) after the marker was written: check
    the newest user and product of the world actually answer, not just the marker."""
    user = int(world.user_features.sort_values("event_timestamp").user_id.iloc[-1])
    product = int(world.product_features.sort_values("event_timestamp").product_id.iloc[-1])
    got = store.get_online_features(
        features=["user_stats:purchases_30d", "product_features:price"],
        entity_rows=[{"user_id": user, "product_id": product}],
    ).to_dict()
    return got["purchases_30d"][0] is not None and got["price"][0] is not None
