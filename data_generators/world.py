"""Generate, store and load the synthetic world.

``ensure_world()`` is the one call notebooks and tests make: it loads the world from
``<data_dir>/world/<config_id>/`` when its ``manifest.json`` matches the config, and otherwise
generates it into a temporary folder beside it and renames that folder into place, so a
crash or Ctrl-C never leaves a half-written world behind. A file lock keeps two processes from
generating the same world at once.

Files are deterministic: fixed row order, fixed Arrow schemas, fixed Parquet options, and no
wall-clock time anywhere, so the same config gives the same bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from data_generators.config import ConfigError, WorldConfig, make_config
from data_generators.features import compute_product_features, compute_user_features
from data_generators.labels import make_labels
from data_generators.paths import manifest_matches, world_dir, world_root  # noqa: F401  (re-exported)
from data_generators.simulate import simulate_events, simulate_products, simulate_users, streams
from data_generators.traps import inject_traps

TS = pa.timestamp("us", tz="UTC")
EVENT_FIELDS = [
    ("event_id", pa.string()), ("user_id", pa.int64()), ("product_id", pa.int64()),
    ("session_id", pa.string()), ("event_type", pa.string()), ("event_ts", TS), ("ingest_ts", TS),
    ("category", pa.string()), ("price", pa.float64()), ("quantity", pa.int64()), ("amount", pa.float64()),
    ("device", pa.string()),
]  # fmt: skip
SCHEMAS: dict[str, pa.Schema] = {
    "users": pa.schema([("user_id", pa.int64()), ("signup_ts", TS), ("segment", pa.string()),
                        ("country", pa.string()), ("preferred_device", pa.string())]),
    "products": pa.schema([("product_id", pa.int64()), ("category", pa.string()), ("brand", pa.string()),
                           ("price", pa.float64()), ("rating", pa.float64()), ("num_reviews", pa.int64()),
                           ("in_stock", pa.bool_()), ("base_price", pa.float64())]),
    "events": pa.schema(EVENT_FIELDS),
    "raw_events": pa.schema(EVENT_FIELDS),
    "user_features": pa.schema([
        ("user_id", pa.int64()), ("event_timestamp", TS), ("created", TS),
        ("purchases_1d", pa.int64()), ("purchases_7d", pa.int64()), ("purchases_30d", pa.int64()),
        ("purchase_amount_7d", pa.float64()), ("avg_purchase_value_30d", pa.float64()),
        ("views_1d", pa.int64()), ("clicks_1d", pa.int64()), ("add_to_cart_7d", pa.int64()),
        ("ctr_7d", pa.float64()), ("days_since_last_purchase", pa.float64()),
        ("favourite_category_30d", pa.string())]),
    "product_features": pa.schema([
        ("product_id", pa.int64()), ("event_timestamp", TS), ("created", TS),
        ("views_1d", pa.int64()), ("purchases_7d", pa.int64()), ("conversion_rate_7d", pa.float64()),
        ("price", pa.float64()), ("rating", pa.float64()), ("num_reviews", pa.int64()), ("in_stock", pa.bool_())]),
    "labels": pa.schema([("user_id", pa.int64()), ("label_ts", TS), ("label", pa.int64())]),
}  # fmt: skip
# Columns that may hold nulls (everything else is checked non-null before writing).
NULLABLE = {
    "raw_events": {"product_id", "price"},
    "user_features": {"avg_purchase_value_30d", "ctr_7d", "days_since_last_purchase", "favourite_category_30d"},
    "product_features": {"conversion_rate_7d"},
}
TABLES = list(SCHEMAS)
FILES = {**{t: f"{t}.parquet" for t in TABLES}, "malformed": "malformed.jsonl",
         "ground_truth": "ground_truth.json", "manifest": "manifest.json"}  # fmt: skip
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True,
                       row_group_size=1_000_000, data_page_version="1.0")  # fmt: skip


@dataclass
class World:
    """A generated world. Tables load lazily from Parquet the first time they are used."""

    config: WorldConfig
    directory: Path | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def paths(self) -> dict[str, Path]:
        if self.directory is None:
            return {}
        return {name: self.directory / fname for name, fname in FILES.items()}

    def _table(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            if self.directory is None:
                raise RuntimeError(f"table {name!r} is not in memory and the world has no directory")
            self._cache[name] = read_table(self.directory / FILES[name], name)
        return self._cache[name]

    users = property(lambda self: self._table("users"))
    products = property(lambda self: self._table("products"))
    events = property(lambda self: self._table("events"))
    raw_events = property(lambda self: self._table("raw_events"))
    user_features = property(lambda self: self._table("user_features"))
    product_features = property(lambda self: self._table("product_features"))
    labels = property(lambda self: self._table("labels"))

    @property
    def malformed(self) -> list[bytes]:
        if "malformed" not in self._cache:
            self._cache["malformed"] = self.paths["malformed"].read_bytes().splitlines()
        return self._cache["malformed"]

    @property
    def ground_truth(self) -> dict:
        if "ground_truth" not in self._cache:
            self._cache["ground_truth"] = json.loads(self.paths["ground_truth"].read_text())
        return self._cache["ground_truth"]

    @property
    def manifest(self) -> dict:
        return json.loads(self.paths["manifest"].read_text())

    def __repr__(self) -> str:
        return f"World({self.config.config_id()}, {self.directory})"


# -- Parquet I/O -------------------------------------------------------------------------------
def to_arrow(df: pd.DataFrame, name: str) -> pa.Table:
    schema = SCHEMAS[name]
    missing = [f.name for f in schema if f.name not in df.columns]
    if missing:
        raise ValueError(f"table {name} lacks columns {missing}")
    table = pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
    for f in schema:
        if f.name not in NULLABLE.get(name, set()) and table.column(f.name).null_count:
            raise ValueError(f"table {name}: column {f.name} has {table.column(f.name).null_count} nulls")
    return table


def write_table(df: pd.DataFrame, path: Path, name: str) -> None:
    pq.write_table(to_arrow(df, name), path, **PARQUET_OPTIONS)


def read_table(path: Path, name: str) -> pd.DataFrame:
    df = pq.read_table(path).to_pandas()
    for col, typ in zip(SCHEMAS[name].names, SCHEMAS[name].types, strict=True):
        if pa.types.is_timestamp(typ) and col in df:
            df[col] = df[col].astype("datetime64[ns, UTC]")
    return df


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- generation --------------------------------------------------------------------------------
STAGES = ("traps", "features", "labels", "write")


def _progress(config: WorldConfig, enabled: bool):
    """One bar for the whole generation: a step per simulated day, then one per stage."""
    from tqdm.auto import tqdm

    return tqdm(total=config.days + len(STAGES), desc=f"{config.config_id()}: simulating", unit="step",
                disable=not enabled, leave=False)  # fmt: skip


def _stage(bar, name: str) -> None:
    if bar is not None:
        bar.set_description_str(name)
        bar.update(1)


def build_world(config: WorldConfig, progress: bool = False, bar=None) -> tuple[dict[str, Any], dict]:
    """Everything in memory: (tables and extras, timings in seconds)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    rng_users, rng_products, rng_sessions, rng_events, rng_traps, rng_labels = streams(config.seed, 6)
    users, u_latent = simulate_users(config, rng_users)
    products, p_latent = simulate_products(config, rng_products)
    own_bar = bar is None and progress
    if own_bar:
        bar = _progress(config, True)
    true_events = simulate_events(config, u_latent, p_latent, rng_sessions, rng_events, progress=bar)
    timings["simulate"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    if bar is not None:
        bar.set_description_str("traps")
    events, raw_events, malformed, truth = inject_traps(config, true_events, rng_traps)
    del true_events
    timings["traps"] = time.perf_counter() - t1
    _stage(bar, "features")

    # the catalogue as it stands at the end of the window (the daily history is in product_features)
    from data_generators.simulate import CATEGORIES, price_multiplier

    cat_idx = pd.Categorical(products["category"], categories=CATEGORIES).codes.astype("int64")
    products["base_price"] = products["price"]
    last_day = np.full(len(products), config.days - 1)
    products["price"] = np.round(products["base_price"] * price_multiplier(config, cat_idx, last_day), 2)
    purchases = np.bincount(events.loc[events["event_type"] == "purchase", "product_id"].to_numpy() - 1,
                            minlength=len(products))  # fmt: skip
    products["num_reviews"] = products["num_reviews"] + purchases // 4

    t2 = time.perf_counter()
    user_features = compute_user_features(events, users, config)
    product_features = compute_product_features(events, products, config)
    timings["features"] = time.perf_counter() - t2
    _stage(bar, "labels")
    t3 = time.perf_counter()
    labels = make_labels(events, users, config, rng_labels)
    timings["labels"] = time.perf_counter() - t3
    _stage(bar, "writing")
    timings["total"] = time.perf_counter() - t0
    if own_bar:
        bar.close()
    tables = {
        "users": users, "products": products, "events": events, "raw_events": raw_events,
        "user_features": user_features, "product_features": product_features, "labels": labels,
        "malformed": malformed, "ground_truth": truth,
    }  # fmt: skip
    return tables, timings


def write_world(tables: dict[str, Any], config: WorldConfig, directory: Path) -> dict:
    """Write every file into ``directory`` (which must exist); returns the manifest."""
    directory = Path(directory)
    for name in TABLES:
        write_table(tables[name], directory / FILES[name], name)
    (directory / FILES["malformed"]).write_bytes(b"".join(r + b"\n" for r in tables["malformed"]))
    (directory / FILES["ground_truth"]).write_text(json.dumps(tables["ground_truth"], indent=1, sort_keys=True) + "\n")
    manifest = {
        "config": config.to_dict(),
        "config_id": config.config_id(),
        # derived from the data, never the wall clock: the end of the simulated window
        "created": pd.Timestamp(config.end, tz="UTC").isoformat(),
        "rows": {name: int(len(tables[name])) for name in TABLES} | {"malformed": len(tables["malformed"])},
        "files": {FILES[n]: _sha256(directory / FILES[n]) for n in [*TABLES, "malformed", "ground_truth"]},
        "pyarrow": pa.__version__,
    }
    (directory / FILES["manifest"]).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def generate_world(scale: str | WorldConfig = "small", seed: int = 42, *, out_dir: Path | None = None,
                   progress: bool = False, **knobs) -> World:  # fmt: skip
    """Generate a world in memory (and write it to ``out_dir`` if given, non-atomically).

    Most callers want :func:`ensure_world`, which caches on disk and writes atomically.
    """
    config = scale if isinstance(scale, WorldConfig) else make_config(scale, seed, **knobs)
    with _progress(config, progress) as bar:
        tables, timings = build_world(config, bar=bar)
        world = World(config=config, directory=None)
        if out_dir is not None:
            out_dir = Path(out_dir)
            out_dir.mkdir(parents=True, exist_ok=True)
            write_world(tables, config, out_dir)
            world.directory = out_dir
        _stage(bar, "done")
    world._cache.update(tables)
    world._cache["timings"] = timings
    return world


@contextlib.contextmanager
def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_world(scale: str | WorldConfig = "small", seed: int = 42, *, data_dir: Path | None = None,
                 force: bool = False, progress: bool | None = None, **knobs) -> World:  # fmt: skip
    """Load the world for this config from disk, or generate it atomically if missing/different.

    ``knobs``: ``start`` (date or "YYYY-MM-DD"), ``days``, ``end`` (exclusive), ``traps``
    (a :class:`Traps`, a dict, or False) and per-trap flags (``duplicates=False``...).
    ``data_dir`` defaults to ``get_settings().data_dir``; ``force`` regenerates anyway.
    ``progress``: a tqdm bar while generating; by default only for medium and large.
    """
    config = scale if isinstance(scale, WorldConfig) else make_config(scale, seed, **knobs)
    if progress is None:
        progress = config.scale != "small"
    target = world_dir(config, data_dir)
    with _lock(target.parent / f".{target.name}.lock"):
        if not force and manifest_matches(target, config):
            return World(config=config, directory=target)
        tmp = target.parent / f".tmp-{target.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            with _progress(config, progress) as bar:
                tables, timings = build_world(config, bar=bar)
                t_write = time.perf_counter()
                write_world(tables, config, tmp)
                timings["write"] = time.perf_counter() - t_write
                _stage(bar, "done")
            if target.exists():
                old = target.parent / f".old-{target.name}-{os.getpid()}"
                target.rename(old)
                tmp.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    world = World(config=config, directory=target)
    world._cache.update({k: v for k, v in tables.items()})
    world._cache["timings"] = timings
    return world


def load_world(directory: Path) -> World:
    """Open a world folder written by :func:`ensure_world` (reads its manifest)."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / FILES["manifest"]).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{directory} holds no world (no manifest.json): run `labdata generate` first") from None
    return World(config=WorldConfig.from_dict(manifest["config"]), directory=directory)
