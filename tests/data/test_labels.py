"""The label depends on past behaviour: point-in-time features beat chance on a later time
split, and leaked features look far too good. This is notebook 02's lesson."""

from __future__ import annotations

import pandas as pd
import pytest

from data_generators.features import leaky_user_features, point_in_time_join

FEATURES = ["purchases_1d", "purchases_7d", "purchases_30d", "purchase_amount_7d", "avg_purchase_value_30d",
            "views_1d", "clicks_1d", "add_to_cart_7d", "ctr_7d", "days_since_last_purchase"]  # fmt: skip


def design(df: pd.DataFrame) -> pd.DataFrame:
    x = df[FEATURES].astype(float)
    x["never_bought"] = x["days_since_last_purchase"].isna().astype(float)
    return x.fillna({"days_since_last_purchase": 60.0}).fillna(0.0)


def time_split_auc(df: pd.DataFrame) -> float:
    # scikit-learn is imported here, not at collection: it costs 3-5 s that make test-quick skips.
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cut = df["label_ts"].quantile(0.7)
    train, test = df[df["label_ts"] < cut], df[df["label_ts"] >= cut]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(design(train), train["label"])
    return roc_auc_score(test["label"], model.predict_proba(design(test))[:, 1])


def test_labels_match_the_events(world):
    lab, e = world.labels, world.events
    buys = e[e["event_type"] == "purchase"]
    for row in lab.sample(300, random_state=0).itertuples(index=False):
        mine = buys[(buys["user_id"] == row.user_id) & (buys["event_ts"] >= row.label_ts)
                    & (buys["event_ts"] < row.label_ts + pd.Timedelta(days=1))]  # fmt: skip
        assert row.label == int(len(mine) > 0)
    assert lab["label_ts"].dt.hour.between(6, 11).all()
    assert lab["label_ts"].max() + pd.Timedelta(days=1) <= pd.Timestamp(world.config.end, tz="UTC")
    assert 0.05 < lab["label"].mean() < 0.35


def test_point_in_time_join_uses_only_the_past(world):
    joined = point_in_time_join(world.labels, world.user_features)
    assert len(joined) == len(world.labels)
    assert (joined["event_timestamp"] <= joined["label_ts"]).all()
    assert (joined["label_ts"] - joined["event_timestamp"] < pd.Timedelta(days=1)).all()
    leaky = leaky_user_features(world.labels, world.user_features)
    assert (leaky["event_timestamp"] > leaky["label_ts"]).all()


@pytest.mark.slow  # imports scikit-learn and fits two models
def test_pit_features_beat_chance_and_leaked_ones_look_too_good(world):
    pit = time_split_auc(point_in_time_join(world.labels, world.user_features))
    leaked = time_split_auc(leaky_user_features(world.labels, world.user_features))
    print(f"ROC AUC point-in-time {pit:.3f}, leaked {leaked:.3f}")
    assert pit >= 0.65, f"point-in-time AUC {pit:.3f}: the label must depend on past behaviour"
    assert leaked > 0.9, f"leaked AUC {leaked:.3f}: the leak should look too good"
    assert leaked - pit > 0.1
