"""The lab's Feast definitions: what a feature IS (entities, sources, views, services).

Feast reads this file in two ways, and both see the same objects:
  * ``feast -c feature_repo -f <LAB_HOME>/data/feast/feature_store.yaml apply`` imports it as a
    plain module (``python -m feature_repo apply`` runs exactly that for you);
  * ``feature_repo.lab_store.apply_definitions()`` calls :func:`build` with the current settings.

Conventions shown here (copy them when you add a feature):
  * names: ``<entity>_<what>_<window>`` for features (``purchases_7d``), ``<entity>_<topic>`` for
    views, ``<use_case>_v<N>`` for feature services; a change of MEANING gets a new name
    (``user_stats_v2``), never an in-place edit, so a model trained on v1 keeps getting v1;
  * every object has a description, an owner (a team address) and tags (``team``, ``tier``,
    ``version``, ``source``, ``update_frequency``);
  * TTL = how old a value may be and still be served; it is a data contract, chosen from how
    often the source is refreshed (daily snapshots here -> 2 days, i.e. one missed run is tolerated).

Only ``feast`` and ``labkit.settings`` are imported, so the Feast CLI (which imports this file
with ``feature_repo/`` as working directory) does not depend on the rest of the lab.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, RequestSource, ValueType
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
from feast.types import Bool, Float64, Int64, String

from labkit.settings import Settings, get_settings

OWNER = "ml-platform@mlinfra-lab.example"
# Daily snapshots: a value older than two days means the batch job missed more than one run.
SNAPSHOT_TTL = timedelta(days=2)


def offline_dir(settings: Settings) -> Path:
    """Where the offline store's Parquet files live for this stack (``<LAB_HOME>/data/feast/offline``)."""
    return settings.data_dir / "feast" / "offline"


def price_vs_user_average(inputs: dict[str, Any]) -> dict[str, Any]:
    """Request-time features: how the offered price compares with what this user usually pays.

    ``mode="python"``: Feast hands over one list per input column and expects one list per output.
    Python mode skips building a pandas DataFrame per request, which matters at 1-row latency.
    """
    ratios, discounts = [], []
    for offered, user_avg, list_price in zip(
        inputs["offered_price"], inputs["avg_purchase_value_30d"], inputs["price"], strict=True
    ):
        # A user who never bought has no average (None/NaN): say "unknown", do not invent a 0 or inf.
        ok_avg = user_avg is not None and user_avg == user_avg and user_avg > 0
        ratios.append(offered / user_avg if ok_avg and offered is not None else None)
        ok_price = list_price is not None and list_price == list_price and list_price > 0
        discounts.append(1.0 - offered / list_price if ok_price and offered is not None else None)
    return {"price_ratio_to_user_avg": ratios, "discount_vs_list_price": discounts}


@dataclass(frozen=True)
class Definitions:
    """Every Feast object of the lab, built for one stack's paths."""

    user: Entity
    product: Entity
    user_features_source: FileSource
    product_features_source: FileSource
    user_stats_push: PushSource
    user_stats: FeatureView
    product_features: FeatureView
    recommendation_request: RequestSource
    price_vs_user_avg: OnDemandFeatureView
    recommendation_v1: FeatureService

    def objects(self) -> list[Any]:
        """Everything ``store.apply`` needs, in dependency order."""
        return [getattr(self, name) for name in self.__dataclass_fields__]


def build(settings: Settings | None = None) -> Definitions:
    """Build the lab's Feast objects with Parquet paths under ``settings``' data dir."""
    settings = settings or get_settings()
    offline = offline_dir(settings)

    # --- entities: the keys features hang off. value_type is stated, not inferred (Feast will
    # require it), and join_keys is the column name used in entity rows and in the Parquet files.
    user = Entity(
        name="user",
        join_keys=["user_id"],
        value_type=ValueType.INT64,
        description="A shopper, identified by the shop's numeric user id.",
        owner=OWNER,
        tags={"team": "ml-platform", "pii": "false"},
    )
    product = Entity(
        name="product",
        join_keys=["product_id"],
        value_type=ValueType.INT64,
        description="A catalogue item, identified by its numeric product id.",
        owner=OWNER,
        tags={"team": "ml-platform"},
    )

    # --- batch sources: daily snapshots written by the batch feature job (data_generators here).
    user_features_source = FileSource(
        name="user_features_daily",
        # Local Parquet, read by the duckdb offline store (see feature_store.yaml).
        path=str(offline / "user_features.parquet"),
        # The time the values were true: a snapshot at midnight summarises the day before.
        timestamp_field="event_timestamp",
        # When the row was written: breaks ties if a snapshot is recomputed (latest write wins).
        created_timestamp_column="created",
        description="Daily per-user behaviour snapshot, computed from events strictly before event_timestamp.",
        owner=OWNER,
        tags={"source": "batch", "update_frequency": "daily"},
    )
    product_features_source = FileSource(
        name="product_features_daily",
        path=str(offline / "product_features.parquet"),
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
        description="Daily per-product catalogue and engagement snapshot.",
        owner=OWNER,
        tags={"source": "batch", "update_frequency": "daily"},
    )

    # --- push source: a stream processor (or an API) pushes fresh values straight into the online
    # store with store.push(); batch_source is where the same columns live offline.
    user_stats_push = PushSource(
        name="user_stats_push",
        batch_source=user_features_source,
        description="Fresh user statistics pushed by the streaming job between two daily snapshots.",
        owner=OWNER,
        tags={"source": "stream"},
    )

    # --- feature views: a named, typed group of features over one source, with a TTL.
    user_stats = FeatureView(
        name="user_stats",
        entities=[user],
        ttl=SNAPSHOT_TTL,
        schema=[
            Field(name="purchases_1d", dtype=Int64, description="Purchases in the last 24 h."),
            Field(name="purchases_7d", dtype=Int64, description="Purchases in the last 7 days."),
            Field(name="purchases_30d", dtype=Int64, description="Purchases in the last 30 days."),
            Field(name="purchase_amount_7d", dtype=Float64, description="Sum spent in the last 7 days."),
            Field(
                name="avg_purchase_value_30d",
                dtype=Float64,
                description="Mean purchase amount over 30 days; null if the user bought nothing.",
            ),
            Field(name="views_1d", dtype=Int64, description="Product views in the last 24 h."),
            Field(name="clicks_1d", dtype=Int64, description="Clicks in the last 24 h."),
            Field(name="add_to_cart_7d", dtype=Int64, description="Add-to-cart events in the last 7 days."),
            Field(name="ctr_7d", dtype=Float64, description="Clicks / views over 7 days; null without views."),
            Field(name="days_since_last_purchase", dtype=Float64, description="Null if the user never bought."),
            Field(name="favourite_category_30d", dtype=String, description="Most purchased or viewed category."),
        ],
        # Reading from the push source lets store.push() write here; offline reads use its batch source.
        source=user_stats_push,
        online=True,
        description="Per-user purchase and engagement statistics (daily batch, stream-refreshed).",
        owner=OWNER,
        tags={"team": "ml-platform", "tier": "gold", "version": "1", "update_frequency": "daily"},
    )
    product_features = FeatureView(
        name="product_features",
        entities=[product],
        ttl=SNAPSHOT_TTL,
        schema=[
            Field(name="views_1d", dtype=Int64, description="Views of the product in the last 24 h."),
            Field(name="purchases_7d", dtype=Int64, description="Purchases of the product in the last 7 days."),
            Field(name="conversion_rate_7d", dtype=Float64, description="Purchases / views over 7 days."),
            Field(name="price", dtype=Float64, description="List price as known on that day."),
            Field(name="rating", dtype=Float64, description="Average rating, 1..5."),
            Field(name="num_reviews", dtype=Int64, description="Number of reviews."),
            Field(name="in_stock", dtype=Bool, description="Whether the product can be bought."),
        ],
        source=product_features_source,
        online=True,
        description="Per-product catalogue facts and engagement (daily batch).",
        owner=OWNER,
        tags={"team": "ml-platform", "tier": "gold", "version": "1", "update_frequency": "daily"},
    )

    # --- request data: values only the caller knows at request time (the price it is about to show).
    recommendation_request = RequestSource(
        name="recommendation_request",
        schema=[Field(name="offered_price", dtype=Float64, description="Price shown to the user now.")],
        description="Per-request context sent by the recommendation service.",
        owner=OWNER,
    )

    # --- on-demand view: computed at read time from stored features + request data.
    # Feast re-labels the function's module as __main__ (so dill ships its code by value); restore
    # it first so a second build() in the same process can still read the source.
    price_vs_user_average.__module__ = __name__
    price_vs_user_avg = on_demand_feature_view(
        name="price_vs_user_avg",
        # Project the sources to the columns the function reads: retrieval then fetches only those
        # (and the offline join does not pull product_features.views_1d next to user_stats.views_1d).
        sources=[user_stats[["avg_purchase_value_30d"]], product_features[["price"]], recommendation_request],
        # No per-field description here: Feast 0.67 checks the declared schema against fields it
        # infers by running the function, and an inferred field has an empty description, so a
        # described field "does not match". The view's description documents both outputs instead.
        schema=[
            Field(name="price_ratio_to_user_avg", dtype=Float64),
            Field(name="discount_vs_list_price", dtype=Float64),
        ],
        mode="python",
        description=(
            "How expensive the offer is for this user: price_ratio_to_user_avg = offered_price / "
            "the user's 30-day average purchase value (null if no purchases); discount_vs_list_price "
            "= 1 - offered_price / list price (positive = a discount)."
        ),
        owner=OWNER,
        tags={"team": "ml-platform", "version": "1"},
    )(price_vs_user_average)

    # --- feature service: the exact feature list one model version consumes. Models pin a service,
    # never a loose list of features, so training and serving ask for the same thing.
    recommendation_v1 = FeatureService(
        name="recommendation_v1",
        features=[
            user_stats[
                [
                    "purchases_7d",
                    "purchases_30d",
                    "avg_purchase_value_30d",
                    "ctr_7d",
                    "days_since_last_purchase",
                    "views_1d",
                ]
            ],
            # Projection: product_features also has views_1d/purchases_7d; pick what the model uses
            # so no two features of the service share a name.
            product_features[["price", "rating", "conversion_rate_7d", "in_stock"]],
            price_vs_user_avg,
        ],
        description="Features of the purchase-propensity recommender, model version 1.",
        owner=OWNER,
        tags={"model": "recommender", "version": "1", "stage": "production"},
    )

    return Definitions(
        user=user,
        product=product,
        user_features_source=user_features_source,
        product_features_source=product_features_source,
        user_stats_push=user_stats_push,
        user_stats=user_stats,
        product_features=product_features,
        recommendation_request=recommendation_request,
        price_vs_user_avg=price_vs_user_avg,
        recommendation_v1=recommendation_v1,
    )


# Module-level names: what `feast apply` (the CLI) discovers when it imports this file.
_defs = build()
user = _defs.user
product = _defs.product
user_stats = _defs.user_stats
product_features = _defs.product_features
user_stats_push = _defs.user_stats_push
price_vs_user_avg = _defs.price_vs_user_avg
recommendation_v1 = _defs.recommendation_v1
