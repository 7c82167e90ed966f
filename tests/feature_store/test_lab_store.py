"""Per-stack configuration: every path and endpoint from the settings, nothing hard-coded."""

from __future__ import annotations

import types

import pytest
import yaml

from feature_repo import lab_store
from labkit.settings import load_settings


def settings_for(tmp_path, **env):
    return load_settings({"LAB_HOME": str(tmp_path / "home"), "LAB_PORT_OFFSET": "25000", **env})


def test_yaml_points_at_this_stack(tmp_path):
    s = settings_for(tmp_path)
    cfg = yaml.safe_load(lab_store.feature_store_yaml(s))
    assert cfg["registry"]["path"] == str(s.data_dir / "feast" / "registry.db")
    assert cfg["online_store"] == {"type": "redis", "connection_string": f"127.0.0.1:{6379 + 25000},db=0"}
    assert cfg["offline_store"]["type"] == "duckdb" and cfg["entity_key_serialization_version"] == 3


def test_yaml_is_rewritten_only_when_it_changes(tmp_path):
    s = settings_for(tmp_path)
    p = lab_store.write_feature_store_yaml(s)
    mtime = p.stat().st_mtime_ns
    assert lab_store.write_feature_store_yaml(s).stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "url, expected",
    [
        ("redis://10.0.0.5:7000/3", "10.0.0.5:7000,db=3"),
        ("redis://:s3cret@cache:6380/0", "cache:6380,db=0,password=s3cret"),
        ("rediss://cache.example:6390", "cache.example:6390,db=0,ssl=true"),
    ],
)
def test_redis_connection_string_from_url(tmp_path, url, expected):
    assert lab_store.redis_connection_string(settings_for(tmp_path, LAB_REDIS_URL=url)) == expected


def test_non_redis_url_is_refused_with_the_expected_form(tmp_path):
    with pytest.raises(ValueError, match="redis://host:port/db"):
        lab_store.redis_connection_string(settings_for(tmp_path, LAB_REDIS_URL="http://x:1"))


def test_link_world_points_and_repoints_offline_files(tmp_path):
    s = settings_for(tmp_path)
    files = {}
    for seed in (1, 2):
        d = tmp_path / f"world{seed}"
        d.mkdir()
        paths = {n: d / f"{n}.parquet" for n in lab_store.OFFLINE_FILES}
        for p in paths.values():
            p.write_bytes(b"x")
        files[seed] = types.SimpleNamespace(paths=paths)
    links = lab_store.link_world(files[1], s)
    assert links["user_features"].resolve() == files[1].paths["user_features"].resolve()
    links = lab_store.link_world(files[2], s)
    assert links["user_features"].resolve() == files[2].paths["user_features"].resolve()
    with pytest.raises(ValueError, match="no 'product_features'"):
        lab_store.link_world(types.SimpleNamespace(paths={"user_features": files[1].paths["user_features"]}), s)


@pytest.mark.slow  # importing Feast alone takes 5-9 s on two cores
def test_definitions_follow_the_settings(tmp_path):
    from feature_repo.definitions import build

    s = settings_for(tmp_path)
    defs = build(s)
    assert defs.user_features_source.path == str(s.data_dir / "feast" / "offline" / "user_features.parquet")
    assert [e.join_key for e in (defs.user, defs.product)] == ["user_id", "product_id"]
    assert {p.name for p in defs.recommendation_v1.feature_view_projections} == {
        "user_stats",
        "product_features",
        "price_vs_user_avg",
    }
    for fv in (defs.user_stats, defs.product_features):
        assert fv.description and fv.owner and fv.ttl and fv.tags.get("version")


@pytest.mark.slow  # importing Feast alone takes 5-9 s on two cores
def test_on_demand_function_handles_missing_values():
    from feature_repo.definitions import price_vs_user_average

    out = price_vs_user_average(
        {
            "offered_price": [10.0, 10.0, 10.0],
            "avg_purchase_value_30d": [20.0, None, float("nan")],
            "price": [12.5, 0.0, 10.0],
        }
    )
    assert out["price_ratio_to_user_avg"] == [0.5, None, None]
    assert out["discount_vs_list_price"] == [pytest.approx(0.2), None, 0.0]
