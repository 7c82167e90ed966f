"""The world looks like e-commerce: a funnel, a heavy tail, daily and weekly cycles,
category affinity and price sensitivity."""

from __future__ import annotations

import numpy as np


def test_funnel_narrows(world):
    counts = world.events["event_type"].value_counts()
    assert counts["view"] > counts["click"] > counts["add_to_cart"] > counts["purchase"] > 0
    assert 0.2 < counts["click"] / counts["view"] < 0.5
    assert counts["purchase"] / counts["view"] < 0.1


def test_every_purchase_follows_a_cart_click_and_view_in_its_session():
    # without traps: in the trapped world a nulled or bad-batch view leaves its click orphaned
    from data_generators import generate_world

    e = generate_world("small", 42, days=7, traps=False)._cache["events"]
    steps = e.groupby(["session_id", "product_id", "event_type"]).size().unstack(fill_value=0)
    for later, earlier in [("click", "view"), ("add_to_cart", "click"), ("purchase", "add_to_cart")]:
        assert (steps[later] <= steps[earlier]).all(), f"a {later} without a {earlier}"


def test_activity_is_heavy_tailed(world):
    per_user = world.events.groupby("user_id").size().reindex(world.users["user_id"], fill_value=0)
    top10 = per_user.sort_values(ascending=False).head(len(per_user) // 10).sum() / per_user.sum()
    assert top10 > 0.3, f"top 10% of users make {top10:.0%} of events"
    assert per_user.mean() > 1.3 * per_user.median()


def test_daily_cycle_peaks_in_the_evening(world):
    hours = world.events["event_ts"].dt.hour.value_counts().sort_index()
    assert hours.loc[18:22].mean() > 3 * hours.loc[2:5].mean()
    assert hours.idxmax() in range(17, 23)


def test_weekends_are_busier_and_flatter(world):
    e = world.events
    per_day = e.groupby(e["event_ts"].dt.floor("D")).size()
    weekend = per_day[per_day.index.dayofweek >= 5].mean()
    weekday = per_day[per_day.index.dayofweek < 5].mean()
    assert weekend > 1.05 * weekday
    midday = e["event_ts"].dt.hour.between(10, 15)
    is_we = e["event_ts"].dt.dayofweek >= 5
    assert midday[is_we].mean() > midday[~is_we].mean() + 0.03


def test_users_prefer_their_categories(world):
    e = world.events[world.events["event_type"] == "view"]
    share = e.groupby(["user_id", "category"]).size().groupby(level=0).transform(lambda s: s / s.sum())
    active = e.groupby("user_id").size()
    top_share = share.groupby(level=0).max()[active[active >= 30].index]
    # with 8 categories a user without preferences would show ~0.2; ours concentrate
    assert top_share.median() > 0.4


def test_bargain_users_buy_cheaper_than_premium(world):
    e = world.events[world.events["event_type"] == "purchase"]
    seg = e["user_id"].map(world.users.set_index("user_id")["segment"])
    rel = e["price"] / e.groupby("category")["price"].transform("median")
    by_seg = rel.groupby(seg).mean()
    assert by_seg["bargain"] < by_seg["regular"] < by_seg["premium"]


def test_no_event_before_signup(world):
    e = world.events.merge(world.users[["user_id", "signup_ts"]], on="user_id")
    assert (e["event_ts"] >= e["signup_ts"]).all()
    assert np.isin(world.events["user_id"], world.users["user_id"]).all()
