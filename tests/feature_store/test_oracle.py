"""The hand-built point-in-time join: the semantics Feast is checked against."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from feature_repo import oracle

DAY = pd.Timestamp("2026-01-06", tz="UTC")
US = pd.Timedelta(microseconds=1)


def join(snapshots, rows, ttl=timedelta(days=2)):
    entity = pd.DataFrame(rows, columns=["user_id", "event_timestamp"])
    return oracle.point_in_time_join(entity, snapshots, key="user_id", feature_columns=["purchases_7d", "cat"], ttl=ttl)


def test_exact_timestamp_is_included_and_one_microsecond_before_is_not(snapshots):
    out = join(snapshots, [(1, DAY + pd.Timedelta(days=1)), (1, DAY + pd.Timedelta(days=1) - US)])
    assert out.purchases_7d.tolist() == [11, 10]


def test_ttl_boundary_is_inclusive_and_expires_one_microsecond_later(snapshots):
    last = DAY + pd.Timedelta(days=1)  # user 2's last snapshot
    out = join(snapshots, [(2, last + pd.Timedelta(days=2)), (2, last + pd.Timedelta(days=2) + US)])
    assert out.purchases_7d.iloc[0] == 21
    assert np.isnan(out.purchases_7d.iloc[1])


def test_no_ttl_means_values_never_expire(snapshots):
    out = join(snapshots, [(2, DAY + pd.Timedelta(days=300))], ttl=None)
    assert out.purchases_7d.tolist() == [21]


def test_before_first_snapshot_and_unknown_key_get_nulls_and_rows_keep_their_order(snapshots):
    out = join(snapshots, [(1, DAY + pd.Timedelta(days=3)), (1, DAY - US), (99, DAY + pd.Timedelta(days=1))])
    assert out.user_id.tolist() == [1, 1, 99]
    assert out.purchases_7d.iloc[0] == 13 and out.purchases_7d.iloc[1:].isna().all()


def test_recomputed_snapshot_latest_created_wins(snapshots):
    again = snapshots[(snapshots.user_id == 1) & (snapshots.event_timestamp == DAY)].copy()
    again["purchases_7d"] = 999
    again["created"] = again["created"] + pd.Timedelta(hours=1)
    out = join(pd.concat([again, snapshots]), [(1, DAY + pd.Timedelta(hours=3))])
    assert out.purchases_7d.tolist() == [999]


def test_same_day_join_sees_the_rest_of_the_day(snapshots):
    # 08:00 on day D must not see the snapshot stamped 00:00 of D+1; the naive join does.
    t = DAY + pd.Timedelta(days=1, hours=8)
    entity = pd.DataFrame({"user_id": [1], "event_timestamp": [t]})
    leaky = oracle.same_day_join(entity, snapshots, key="user_id", feature_columns=["purchases_7d"])
    right = oracle.point_in_time_join(entity, snapshots, key="user_id", feature_columns=["purchases_7d"], ttl=None)
    assert leaky.purchases_7d.tolist() == [12] and right.purchases_7d.tolist() == [11]


def test_mismatches_finds_changed_values_and_treats_nan_as_equal():
    a = pd.DataFrame({"id": [1, 2, 3], "x": [1.0, np.nan, 3.0], "s": ["a", None, "c"]})
    b = pd.DataFrame({"id": [3, 2, 1], "x": [3.5, np.nan, 1.0], "s": ["c", None, "a"]})
    diff = oracle.mismatches(a, b, row_key="id", columns=["x", "s"])
    assert diff.index.tolist() == [3]


def test_mismatches_refuses_dropped_rows():
    a = pd.DataFrame({"id": [1, 2], "x": [1.0, 2.0]})
    with pytest.raises(AssertionError, match="1 row"):
        oracle.mismatches(a, a.iloc[:1], row_key="id", columns=["x"])


def test_bad_input_names_the_problem(snapshots):
    with pytest.raises(ValueError, match="lacks column"):
        oracle.point_in_time_join(
            pd.DataFrame({"user_id": [1]}), snapshots, key="user_id", feature_columns=["purchases_7d"], ttl=None
        )
    with pytest.raises(ValueError, match="null"):
        oracle.point_in_time_join(
            pd.DataFrame({"user_id": [1], "event_timestamp": [pd.NaT]}),
            snapshots,
            key="user_id",
            feature_columns=["purchases_7d"],
            ttl=None,
        )


def test_boundary_rows_cover_every_case(snapshots):
    rows = oracle.boundary_rows(snapshots, key="user_id", ttl=timedelta(days=2), n_keys=2)
    assert len(rows) == 10 and rows["case"].nunique() == 5
    out = oracle.point_in_time_join(
        rows, snapshots, key="user_id", feature_columns=["purchases_7d"], ttl=timedelta(days=2)
    )
    expired = rows["case"].isin(["last snapshot + ttl + 1 µs", "before the first snapshot"])
    assert out.loc[expired, "purchases_7d"].isna().all() and out.loc[~expired, "purchases_7d"].notna().all()
