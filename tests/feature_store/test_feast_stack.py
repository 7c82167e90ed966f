"""The lab's Feast project against a real Redis and the real synthetic world (test stack)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from feature_repo import latency, oracle

pytestmark = pytest.mark.stack

FEATURES = [
    "purchases_1d",
    "purchases_7d",
    "purchases_30d",
    "avg_purchase_value_30d",
    "ctr_7d",
    "days_since_last_purchase",
    "favourite_category_30d",
]


def test_apply_registers_every_object(feast_store):
    assert {fv.name for fv in feast_store.list_feature_views()} >= {"user_stats", "product_features"}
    assert "price_vs_user_avg" in {v.name for v in feast_store.list_on_demand_feature_views()}
    assert "recommendation_v1" in {s.name for s in feast_store.list_feature_services()}
    assert "user_stats_push" in {d.name for d in feast_store.list_data_sources()}


def test_historical_features_match_the_oracle_on_every_row_and_edge(feast_store, small_world):
    from feature_repo.definitions import SNAPSHOT_TTL  # imports Feast: not at collection (make test-quick)

    entity = small_world.labels.rename(columns={"label_ts": "event_timestamp"})
    entity = pd.concat(
        [
            entity[["user_id", "event_timestamp"]],
            oracle.boundary_rows(small_world.user_features, key="user_id", ttl=SNAPSHOT_TTL, n_keys=5)[
                ["user_id", "event_timestamp"]
            ],
        ],
        ignore_index=True,
    )
    entity["row_id"] = np.arange(len(entity))
    got = feast_store.get_historical_features(entity_df=entity, features=[f"user_stats:{f}" for f in FEATURES]).to_df()
    want = oracle.point_in_time_join(
        entity, small_world.user_features, key="user_id", feature_columns=FEATURES, ttl=SNAPSHOT_TTL
    )
    assert len(got) == len(entity)
    diff = oracle.mismatches(want, got, row_key="row_id", columns=FEATURES)
    assert diff.empty, diff.head()
    assert want[FEATURES[0]].isna().sum() >= 10  # the edges past the TTL really are nulls


def test_file_offline_store_still_drops_rows_outside_the_ttl(lab_settings, small_world):
    # Notebook 02 teaches this trap; if Feast fixes it, this fails and the lesson must change.
    from feature_repo.definitions import SNAPSHOT_TTL
    from feature_repo.lab_store import file_offline_store

    edges = oracle.boundary_rows(small_world.user_features, key="user_id", ttl=SNAPSHOT_TTL, n_keys=2)
    edges["row_id"] = np.arange(len(edges))
    got = (
        file_offline_store(lab_settings)
        .get_historical_features(entity_df=edges, features=["user_stats:purchases_7d"])
        .to_df()
    )
    assert len(got) < len(edges)


@pytest.fixture(scope="module")
def materialized(feast_store, lab_settings, small_world):
    from feature_repo import reset_online_state

    reset_online_state(feast_store, lab_settings)
    T = small_world.user_features.event_timestamp.min() + pd.Timedelta(days=10)
    start = (T - pd.Timedelta(days=5)).to_pydatetime()
    feast_store.materialize(start_date=start, end_date=(T - pd.Timedelta(days=2)).to_pydatetime())
    feast_store.materialize_incremental(end_date=T.to_pydatetime())
    return T


def test_online_after_materialize_equals_offline_at_T(feast_store, small_world, materialized):
    T = materialized
    users = sorted(small_world.user_features.loc[small_world.user_features.event_timestamp <= T, "user_id"].unique())
    off = feast_store.get_historical_features(
        entity_df=pd.DataFrame({"user_id": users, "event_timestamp": T}), features=[f"user_stats:{f}" for f in FEATURES]
    ).to_df()
    on = feast_store.get_online_features(
        features=[f"user_stats:{f}" for f in FEATURES], entity_rows=[{"user_id": int(u)} for u in users]
    ).to_df()
    assert oracle.mismatches(off, on, row_key="user_id", columns=FEATURES).empty
    assert all(fv.most_recent_end_time == T for fv in feast_store.list_feature_views())


def test_feature_service_with_request_data_and_raw_redis_layout(feast_store, lab_settings, small_world, materialized):
    from labkit.clients import redis_client

    users = small_world.user_features.loc[small_world.user_features.event_timestamp == materialized, "user_id"][:5]
    rows = [{"user_id": int(u), "product_id": int(i + 1), "offered_price": 30.0} for i, u in enumerate(users)]
    df = feast_store.get_online_features(
        features=feast_store.get_feature_service("recommendation_v1"), entity_rows=rows
    ).to_df()
    assert np.allclose(df.price_ratio_to_user_avg.astype(float), 30.0 / df.avg_purchase_value_30d, equal_nan=True)
    # The raw reader fetches Feast's own hash fields: one non-empty value per feature and key.
    plan = [
        (
            latency.redis_keys(feast_store.config.project, "user_id", [r["user_id"] for r in rows]),
            latency.redis_fields("user_stats", ["purchases_7d"]),
        )
    ]
    raw = latency.raw_redis_reader(redis_client(lab_settings), plan)()
    assert len(raw) == 5 and all(r[0] is not None and r[1] is not None for r in raw)


def test_push_is_served_immediately(feast_store, small_world, materialized):
    from feast.data_source import PushMode

    row = small_world.user_features[small_world.user_features.event_timestamp == materialized].iloc[[0]].copy()
    row["purchases_7d"] = 777
    row["event_timestamp"] = row["created"] = materialized + pd.Timedelta(hours=1)
    feast_store.push("user_stats_push", row, to=PushMode.ONLINE)
    got = feast_store.get_online_features(
        features=["user_stats:purchases_7d"], entity_rows=[{"user_id": int(row.user_id.iloc[0])}]
    ).to_dict()
    assert got["purchases_7d"] == [777]


@pytest.mark.slow
def test_feast_serve_answers_like_the_sdk_and_stops(feast_store, lab_settings, small_world, materialized):
    import httpx

    rows = [
        {"user_id": 1, "product_id": 2, "offered_price": 12.0},
        {"user_id": 3, "product_id": 4, "offered_price": 50.0},
    ]
    sdk = feast_store.get_online_features(
        features=feast_store.get_feature_service("recommendation_v1"), entity_rows=rows
    ).to_dict()
    server = latency.FeastServer(lab_settings)
    with server:
        pid = server.pid
        body = {"feature_service": "recommendation_v1", "entities": latency.rows_to_columns(rows)}
        http = latency.response_to_columns(
            httpx.post(server.url + "/get-online-features", json=body, timeout=60).json()
        )
    assert {k: http[k] for k in sdk} == sdk
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
