"""user_features / product_features are point-in-time correct: each snapshot equals a
brute-force recomputation from the events strictly before its event_timestamp."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_generators.features import compute_user_features

DAY = pd.Timedelta(days=1)


def brute_user(events: pd.DataFrame, user_id: int, ts: pd.Timestamp) -> dict:
    e = events[(events["user_id"] == user_id) & (events["event_ts"] < ts)]

    def window(days, kind):
        w = e[(e["event_ts"] >= ts - days * DAY) & (e["event_type"] == kind)]
        return w

    b30, b7 = window(30, "purchase"), window(7, "purchase")
    v7, c7 = window(7, "view"), window(7, "click")
    buys = e[e["event_type"] == "purchase"]
    pc = window(30, "purchase")["category"].value_counts()
    vc = window(30, "view")["category"].value_counts()
    fav = None
    if len(pc) or len(vc):
        score = pd.DataFrame({"p": pc, "v": vc}).fillna(0).sort_index()
        fav = score.sort_values(["p", "v"], ascending=False, kind="stable").index[0]
    return {
        "purchases_1d": len(window(1, "purchase")),
        "purchases_7d": len(b7),
        "purchases_30d": len(b30),
        "purchase_amount_7d": round(b7["amount"].sum(), 2),
        "avg_purchase_value_30d": b30["amount"].sum() / len(b30) if len(b30) else np.nan,
        "views_1d": len(window(1, "view")),
        "clicks_1d": len(window(1, "click")),
        "add_to_cart_7d": len(window(7, "add_to_cart")),
        "ctr_7d": len(c7) / len(v7) if len(v7) else np.nan,
        "days_since_last_purchase": (ts - buys["event_ts"].max()) / DAY if len(buys) else np.nan,
        "favourite_category_30d": fav,
    }


def test_snapshot_grid(world):
    uf = world.user_features
    assert uf["event_timestamp"].dt.hour.eq(0).all() and uf["event_timestamp"].dt.minute.eq(0).all()
    first = pd.Timestamp(world.config.start, tz="UTC") + DAY
    assert uf["event_timestamp"].min() == first
    assert uf["event_timestamp"].max() == pd.Timestamp(world.config.end, tz="UTC")
    assert not uf.duplicated(["user_id", "event_timestamp"]).any()
    assert (uf["created"] > uf["event_timestamp"]).all()
    # a row for every user signed up before the snapshot, and only those
    signup = uf["user_id"].map(world.users.set_index("user_id")["signup_ts"])
    assert (signup < uf["event_timestamp"]).all()
    per_day = uf.groupby("event_timestamp").size()
    expected = [(world.users["signup_ts"] < t).sum() for t in per_day.index]
    assert per_day.tolist() == expected


def test_user_features_match_brute_force(world):
    uf = world.user_features
    rng = np.random.default_rng(0)
    active = uf[uf["purchases_30d"] > 0]
    sample = pd.concat([uf.iloc[rng.choice(len(uf), 120, replace=False)],
                        active.iloc[rng.choice(len(active), 120, replace=False)]])  # fmt: skip
    for row in sample.itertuples(index=False):
        want = brute_user(world.events, row.user_id, row.event_timestamp)
        for col, value in want.items():
            got = getattr(row, col)
            if isinstance(value, str) or value is None:
                assert got == value, (row.user_id, row.event_timestamp, col, got, value)
            else:
                assert got == pytest.approx(value, rel=1e-6, abs=1e-6, nan_ok=True), (
                    row.user_id,
                    row.event_timestamp,
                    col,
                )


def test_an_event_at_the_snapshot_time_does_not_count(world):
    """Add a purchase exactly AT one snapshot's event_timestamp: that snapshot must not change,
    the next one must."""
    uf = world.user_features
    row = uf[uf["event_timestamp"] == uf["event_timestamp"].iloc[len(uf) // 2]].iloc[0]
    ts = row["event_timestamp"]
    fake = world.events.iloc[[0]].copy()
    fake["user_id"], fake["event_ts"], fake["event_type"] = row["user_id"], ts, "purchase"
    fake["quantity"], fake["amount"], fake["event_id"] = 1, 99.0, "fake"
    events = pd.concat([world.events, fake], ignore_index=True).sort_values("event_ts", kind="stable")
    after = compute_user_features(events, world.users, world.config).set_index(["user_id", "event_timestamp"])
    before = uf.set_index(["user_id", "event_timestamp"])
    key, nxt = (row["user_id"], ts), (row["user_id"], ts + DAY)
    pd.testing.assert_series_equal(after.loc[key], before.loc[key])
    assert after.loc[nxt, "purchases_1d"] == before.loc[nxt, "purchases_1d"] + 1
    assert after.loc[nxt, "days_since_last_purchase"] == 1.0


def test_product_features_match_brute_force(world):
    pf, e = world.product_features, world.events
    rng = np.random.default_rng(1)
    for row in pf.iloc[rng.choice(len(pf), 150, replace=False)].itertuples(index=False):
        mine = e[(e["product_id"] == row.product_id) & (e["event_ts"] < row.event_timestamp)]
        d1 = mine[mine["event_ts"] >= row.event_timestamp - DAY]
        d7 = mine[mine["event_ts"] >= row.event_timestamp - 7 * DAY]
        views7, buys7 = (d7["event_type"] == "view").sum(), (d7["event_type"] == "purchase").sum()
        assert row.views_1d == (d1["event_type"] == "view").sum()
        assert row.purchases_7d == buys7
        assert row.conversion_rate_7d == pytest.approx(buys7 / views7 if views7 else np.nan, nan_ok=True)
        # the price the snapshot reports is the price events of that day carried
        day_prices = e[(e["product_id"] == row.product_id) & (e["event_ts"] >= row.event_timestamp - DAY)
                       & (e["event_ts"] < row.event_timestamp)]["price"].unique()  # fmt: skip
        assert set(day_prices) <= {row.price}
    last = pf[pf["event_timestamp"] == pf["event_timestamp"].max()].set_index("product_id")
    catalogue = world.products.set_index("product_id")
    assert (last["price"] == catalogue["price"]).all() and (last["num_reviews"] == catalogue["num_reviews"]).all()
