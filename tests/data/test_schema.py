"""The files match the contract in data_generators/SCHEMA.md: tables, columns, dtypes, UTC."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

SCHEMA_MD = Path(__file__).resolve().parents[2] / "data_generators" / "SCHEMA.md"
TABLE_SECTIONS = {  # heading prefixes in SCHEMA.md
    "users": "## users\n",
    "products": "## products\n",
    "events": "## events (clean) and raw_events",
    "user_features": "## user_features",
    "product_features": "## product_features",
}
PANDAS_KIND = {"int64": "i", "float64": "f", "string": "O", "bool": "b", "timestamp": "M"}


def schema_columns(table: str) -> dict[str, str]:
    """Column -> declared type ("" when SCHEMA.md leaves it open), from the markdown table
    under the table's heading."""
    text = "\n" + SCHEMA_MD.read_text()
    start = text.index("\n" + TABLE_SECTIONS[table])
    section = text[start + 1 :].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] == "column" or set(cells[0]) <= {"-", " "}:
            continue
        declared = cells[1].split()[0] if cells[1] else ""
        for col in [c.strip() for c in cells[0].split(",")]:
            out[col] = "" if "/" in declared else declared
    return out


def test_schema_md_parses():
    cols = schema_columns("user_features")
    assert {"user_id", "event_timestamp", "created", "purchases_30d", "favourite_category_30d"} <= set(cols)
    assert schema_columns("events")["event_ts"] == "timestamp"


@pytest.mark.parametrize("table", list(TABLE_SECTIONS))
def test_columns_and_dtypes_match_schema_md(world, table):
    frames = [getattr(world, table)] + ([world.raw_events] if table == "events" else [])
    for df in frames:
        for col, declared in schema_columns(table).items():
            assert col in df.columns, f"{table}: column {col} of SCHEMA.md is missing"
            if table in ("user_features", "product_features") and col in ("user_id", "product_id"):
                declared = "int64"
            if col in ("event_timestamp", "created"):
                declared = "timestamp"
            kind = PANDAS_KIND.get(declared)
            if kind is None:
                continue
            dtype = df[col].dtype
            if kind == "M":
                assert isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC", f"{table}.{col}: {dtype}"
            elif kind == "i":
                assert dtype.kind == "i" or str(dtype) == "Int64", f"{table}.{col}: {dtype}, want int64"
            else:
                assert dtype.kind == kind, f"{table}.{col}: {dtype}, want {declared}"


def test_parquet_types_are_utc_microseconds(world):
    for name, path in world.paths.items():
        if path.suffix != ".parquet":
            continue
        for field in pq.read_schema(path):
            if pa.types.is_timestamp(field.type):
                assert field.type == pa.timestamp("us", tz="UTC"), f"{name}.{field.name}: {field.type}"


def test_all_files_of_schema_md_exist(world):
    listed = re.findall(r"`([a-z_]+\.(?:parquet|jsonl|json))`", SCHEMA_MD.read_text().split("## users")[0])
    assert len(listed) >= 10
    for fname in listed:
        assert (world.paths["manifest"].parent / fname).is_file(), fname


def test_value_domains(world):
    u, p, e = world.users, world.products, world.events
    assert u["user_id"].tolist() == list(range(1, len(u) + 1))
    assert set(u["segment"]) == {"bargain", "regular", "premium"}
    assert set(u["preferred_device"]) == {"mobile", "desktop", "tablet"}
    assert u["country"].str.fullmatch(r"[A-Z]{2}").all()
    assert (u["signup_ts"] < pd.Timestamp(world.config.end, tz="UTC")).all()
    assert p["product_id"].tolist() == list(range(1, len(p) + 1))
    assert (p["price"] > 0).all() and p["rating"].between(1, 5).all() and (p["num_reviews"] >= 0).all()
    assert set(e["event_type"]) == {"view", "click", "add_to_cart", "purchase"}
    assert e["event_id"].is_unique
    assert e["event_ts"].is_monotonic_increasing
    assert world.raw_events["ingest_ts"].is_monotonic_increasing
    assert (e["ingest_ts"] >= e["event_ts"]).all()
    buys = e["event_type"] == "purchase"
    assert (e.loc[buys, "amount"] - (e.loc[buys, "price"] * e.loc[buys, "quantity"]).round(2)).abs().max() < 1e-9
    assert (e.loc[~buys, "amount"] == 0).all()
    assert (e.loc[e["event_type"].isin(["view", "click"]), "quantity"] == 0).all()
    assert (e.loc[e["event_type"].isin(["add_to_cart", "purchase"]), "quantity"] >= 1).all()
    # denormalised category matches the catalogue
    cat = e["product_id"].map(p.set_index("product_id")["category"])
    assert (cat == e["category"]).all()
    lab = world.labels
    assert set(lab["label"].unique()) <= {0, 1} and lab["label_ts"].is_monotonic_increasing


def test_in_memory_world_equals_files(worlds_dir):
    """What ensure_world returns right after generating equals what a later load reads."""
    from data_generators import ensure_world

    fresh = ensure_world("small", 42, data_dir=worlds_dir, days=7, force=True)
    loaded = ensure_world("small", 42, data_dir=worlds_dir, days=7)
    assert loaded._cache == {}  # really from disk
    for t in ["users", "products", "events", "raw_events", "user_features", "product_features", "labels"]:
        pd.testing.assert_frame_equal(fresh._cache[t], getattr(loaded, t), obj=t)
    assert fresh._cache["malformed"] == loaded.malformed
    assert fresh._cache["ground_truth"] == loaded.ground_truth
