"""User features computed with Spark, Tecton-style: daily tiles, then windows built from tiles.

A *tile* is one user's partial aggregates for one day (counts, sums, last purchase time).
A window feature for day D combines the tiles of days D-n+1 .. D: a 7-day sum adds seven tiles,
a 30-day mean divides the 30-day sum by the 30-day count (never an average of daily averages).
Every row describes a user *at the end of* ``feature_date`` (``event_timestamp`` = the next
midnight UTC) and uses only events strictly before that instant: point-in-time correct.

The same code computes one day or a whole backfill range in one pass.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# The longest window decides how much history the job reads.
WINDOW_DAYS = {"1d": 1, "7d": 7, "30d": 30}
LOOKBACK_DAYS = max(WINDOW_DAYS.values())
EVENT_TYPES = ("view", "click", "add_to_cart", "purchase")
MAX_VALID_PRICE = 100_000.0
FEATURE_INPUTS = (
    "user_id",
    "event_ts",
    "event_type",
    "amount",
    "category",
)  # a price at or above this is a data error, not a sale

# The feature table's columns, in order (matches data_generators/SCHEMA.md user_features,
# plus feature_date, the table's partition column).
FEATURE_COLUMNS = [
    "user_id",
    "event_timestamp",
    "created",
    "purchases_1d",
    "purchases_7d",
    "purchases_30d",
    "purchase_amount_7d",
    "avg_purchase_value_30d",
    "views_1d",
    "clicks_1d",
    "add_to_cart_7d",
    "ctr_7d",
    "days_since_last_purchase",
    "favourite_category_30d",
    "feature_date",
]


def clean_events(raw: DataFrame, max_valid_price: float = MAX_VALID_PRICE) -> DataFrame:
    """The raw lake as it arrived -> events fit for features (the contract in SCHEMA.md):
    one row per ``event_id``, known event types, and no row with a missing product or price or
    a price outside (0, max_valid_price). Late events stay, with their true ``event_ts``."""
    return (
        raw.where(F.col("user_id").isNotNull() & F.col("event_ts").isNotNull())
        .where(F.col("event_type").isin(*EVENT_TYPES))
        .where(F.col("product_id").isNotNull() & F.col("price").isNotNull())
        .where((F.col("price") > 0) & (F.col("price") < max_valid_price))
        .dropDuplicates(["event_id"])
        .select(*FEATURE_INPUTS)  # only what the windows need: a narrower cache, less to shuffle
    )


def daily_tiles(events: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Per (user, day) partial aggregates, and per (user, day, category) interest counts."""
    e = events.withColumn("day", F.to_date("event_ts"))
    is_type = {t: (F.col("event_type") == t) for t in EVENT_TYPES}
    tiles = e.groupBy("user_id", "day").agg(
        F.sum(is_type["purchase"].cast("long")).alias("purchases"),
        F.sum(is_type["view"].cast("long")).alias("views"),
        F.sum(is_type["click"].cast("long")).alias("clicks"),
        F.sum(is_type["add_to_cart"].cast("long")).alias("carts"),
        F.sum(F.when(is_type["purchase"], F.col("amount"))).alias("amount_sum"),
        F.count(F.when(is_type["purchase"], F.col("amount"))).alias("amount_n"),
        F.max(F.when(is_type["purchase"], F.col("event_ts"))).alias("last_purchase_ts"),
    )
    interest = (
        e.where((is_type["purchase"] | is_type["view"]) & F.col("category").isNotNull())
        .groupBy("user_id", "day", "category")
        .agg(
            F.sum(is_type["purchase"].cast("long")).alias("bought"), F.sum(is_type["view"].cast("long")).alias("viewed")
        )
    )
    return tiles, interest


def _spread(tiles: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    """Copy each tile to every feature day whose 30-day window contains it (age 0..29)."""
    # only the feature days inside [start, end]: one copy per tile for a daily run, not thirty
    first = F.greatest(F.col("day"), F.lit(start))
    last = F.least(F.date_add(F.col("day"), LOOKBACK_DAYS - 1), F.lit(end))
    return (
        tiles.where(F.col("day").between(F.lit(start - dt.timedelta(days=LOOKBACK_DAYS - 1)), F.lit(end)))
        .withColumn("feature_day", F.explode(F.sequence(first, last)))
        .withColumn("age", F.datediff(F.col("feature_day"), F.col("day")))
    )


def window_features(events: DataFrame, start: dt.date, end: dt.date | None = None) -> DataFrame:
    """Features for every user with activity in the lookback, for each day in [start, end]."""
    end = end or start
    if end < start:
        raise ValueError(f"end {end} is before start {start}: give a range with start <= end")
    tiles, interest = daily_tiles(events)
    t = _spread(tiles, start, end)

    def within(days: int, col: str):
        return F.sum(F.when(F.col("age") < days, F.col(col)).otherwise(F.lit(0)))

    agg = t.groupBy("user_id", "feature_day").agg(
        within(1, "purchases").alias("purchases_1d"),
        within(7, "purchases").alias("purchases_7d"),
        within(30, "purchases").alias("purchases_30d"),
        F.sum(F.when(F.col("age") < 7, F.col("amount_sum"))).alias("_amount_7d"),
        F.sum(F.col("amount_sum")).alias("_amount_30d"),
        F.sum(F.col("amount_n")).alias("_amount_n_30d"),
        within(1, "views").alias("views_1d"),
        within(1, "clicks").alias("clicks_1d"),
        within(7, "carts").alias("add_to_cart_7d"),
        within(7, "views").alias("_views_7d"),
        within(7, "clicks").alias("_clicks_7d"),
        F.max("last_purchase_ts").alias("_last_purchase_ts"),
    )
    snapshot = F.to_timestamp(F.date_add(F.col("feature_day"), 1))
    feats = (
        agg.withColumn("event_timestamp", snapshot)
        .withColumn("purchase_amount_7d", F.coalesce(F.col("_amount_7d"), F.lit(0.0)))
        # a mean over 30 days = 30-day sum / 30-day count; NaN (not 0) when there was no purchase
        .withColumn(
            "avg_purchase_value_30d",
            F.when(F.col("_amount_n_30d") > 0, F.col("_amount_30d") / F.col("_amount_n_30d")).otherwise(
                F.lit(float("nan"))
            ),
        )
        .withColumn(
            "ctr_7d",
            F.when(F.col("_views_7d") > 0, F.col("_clicks_7d") / F.col("_views_7d")).otherwise(F.lit(float("nan"))),
        )
        .withColumn(
            "days_since_last_purchase",
            F.when(
                F.col("_last_purchase_ts").isNotNull(),
                (F.unix_micros(F.col("event_timestamp")) - F.unix_micros(F.col("_last_purchase_ts"))) / F.lit(86_400e6),
            ).otherwise(F.lit(float("nan"))),
        )
    )
    # favourite category over 30 days: most purchased; ties (and no purchase) by most viewed;
    # remaining ties by category name
    order = [F.desc("bought"), F.desc("viewed"), F.asc("category")]
    fav = (
        _spread(interest, start, end)
        .groupBy("user_id", "feature_day", "category")
        .agg(F.sum("bought").alias("bought"), F.sum("viewed").alias("viewed"))
        .withColumn("rank", F.row_number().over(Window.partitionBy("user_id", "feature_day").orderBy(*order)))
        .where(F.col("rank") == 1)
        .select("user_id", "feature_day", F.col("category").alias("favourite_category_30d"))
    )
    out = (
        feats.join(fav, ["user_id", "feature_day"], "left")
        .withColumn("created", F.current_timestamp())
        .withColumn("feature_date", F.date_format(F.col("feature_day"), "yyyy-MM-dd"))
    )
    return out.select(*FEATURE_COLUMNS)


def compute_features(raw: DataFrame, start: dt.date, end: dt.date | None = None):
    """The job's core: raw events -> clean -> windows for [start, end], collected as Arrow.

    The cleaned events are cached because two aggregations (tiles, category counts) scan them."""
    events = clean_events(raw).persist()
    try:
        return window_features(events, start, end).toArrow()
    finally:
        events.unpersist()


def history_range(start: dt.date, end: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The event days [first, last] a job for feature days [start, end] must read."""
    end = end or start
    return start - dt.timedelta(days=LOOKBACK_DAYS - 1), end
