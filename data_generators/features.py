"""The canonical daily feature snapshots: the offline truth every other pipeline compares against.

Window semantics (the contract; the Spark job and the stream processor must match it):

* One snapshot per entity per day ``D`` of the window, stamped
  ``event_timestamp = D + 1 day`` (00:00 UTC of the next day), i.e. the end of day ``D``.
* A snapshot uses only events with ``event_ts < event_timestamp`` (strictly before).
* ``Nd`` windows are half-open: events with ``event_timestamp - N days <= event_ts < event_timestamp``.
  ``1d`` is therefore exactly calendar day ``D``; ``7d`` is days ``D-6 .. D``. Windows longer than
  the data so far simply cover what exists (a ``30d`` window on day 3 covers 3 days).
* ``created`` = ``event_timestamp`` + 10 minutes: the daily job "writes" after the day closes.
  It is derived from the data, so the output is deterministic.
* Values are not rounded (``purchase_amount_7d`` excepted: money, 2 decimals), so compare
  another pipeline's output with a tolerance (``pytest.approx``, ``np.isclose``); ratios are NaN
  when their denominator is 0, ``days_since_last_purchase`` is NaN before the first purchase.
* ``user_features`` has a row for every user who signed up before ``event_timestamp``;
  ``product_features`` has a row for every product on every day.

Everything is vectorised: per-(entity, day) counts via ``np.bincount``, then rolling windows as
differences of cumulative sums along the day axis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_generators.config import WorldConfig
from data_generators.simulate import CATEGORIES, DAY_MS, to_ms, ts_ms

CREATED_DELAY = pd.Timedelta(minutes=10)
TYPE_CODES = {"view": 0, "click": 1, "add_to_cart": 2, "purchase": 3}

USER_FEATURE_COLUMNS = [
    "user_id", "event_timestamp", "created",
    "purchases_1d", "purchases_7d", "purchases_30d", "purchase_amount_7d", "avg_purchase_value_30d",
    "views_1d", "clicks_1d", "add_to_cart_7d", "ctr_7d", "days_since_last_purchase", "favourite_category_30d",
]  # fmt: skip
PRODUCT_FEATURE_COLUMNS = [
    "product_id", "event_timestamp", "created", "views_1d", "purchases_7d", "conversion_rate_7d",
    "price", "rating", "num_reviews", "in_stock",
]  # fmt: skip


def rolling(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over the last ``window`` days (inclusive of the current one) along axis 1."""
    cs = np.cumsum(x, axis=1)
    out = cs.copy()
    if window < x.shape[1]:
        out[:, window:] = cs[:, window:] - cs[:, :-window]
    return out


def _day_index(events: pd.DataFrame, start_ms: int) -> np.ndarray:
    ms = ts_ms(events["event_ts"])
    return (ms - start_ms) // DAY_MS


def _grid(n_entities: int, days: int, entity_idx: np.ndarray, day_idx: np.ndarray, weights=None) -> np.ndarray:
    flat = np.bincount(entity_idx * days + day_idx, weights=weights, minlength=n_entities * days)
    return flat.reshape(n_entities, days)


def _snapshot_times(config: WorldConfig) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(config.start, tz="UTC") + pd.Timedelta(days=1), periods=config.days, freq="D")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def compute_user_features(events: pd.DataFrame, users: pd.DataFrame, config: WorldConfig) -> pd.DataFrame:
    """Daily point-in-time user features from the clean events (see the module docstring)."""
    days, n_users = config.days, len(users)
    start_ms = to_ms(config.start)
    ev = events[(events["event_ts"] >= pd.Timestamp(config.start, tz="UTC"))
                & (events["event_ts"] < pd.Timestamp(config.end, tz="UTC"))]  # fmt: skip
    d = _day_index(ev, start_ms)
    u = ev["user_id"].to_numpy() - 1
    t = ev["event_type"].map(TYPE_CODES).to_numpy()
    cat = pd.Categorical(ev["category"], categories=CATEGORIES).codes.astype("int64")
    buy, view, click, cart = (t == 3), (t == 0), (t == 1), (t == 2)

    P = _grid(n_users, days, u[buy], d[buy])
    A = _grid(n_users, days, u[buy], d[buy], ev["amount"].to_numpy()[buy])
    V = _grid(n_users, days, u[view], d[view])
    C = _grid(n_users, days, u[click], d[click])
    K = _grid(n_users, days, u[cart], d[cart])
    P7, P30, A7, A30 = rolling(P, 7), rolling(P, 30), rolling(A, 7), rolling(A, 30)
    V7, C7, K7 = rolling(V, 7), rolling(C, 7), rolling(K, 7)

    # last purchase time up to each day's end: per-day max, then a running max over days
    last = np.full(n_users * days, -np.inf)
    buy_ms = ts_ms(ev["event_ts"])[buy].astype("float64")
    np.maximum.at(last, u[buy] * days + d[buy], buy_ms)
    last = np.maximum.accumulate(last.reshape(n_users, days), axis=1)
    snap_ms = start_ms + (np.arange(days) + 1) * DAY_MS
    with np.errstate(invalid="ignore"):
        since = np.where(np.isfinite(last), (snap_ms[None, :] - last) / DAY_MS, np.nan)

    # favourite category over 30 days: most purchased; ties (and no purchases) by most viewed;
    # remaining ties by category name; null when the user neither bought nor viewed anything
    n_cat = len(CATEGORIES)
    PC = np.bincount((u[buy] * days + d[buy]) * n_cat + cat[buy], minlength=n_users * days * n_cat)
    VC = np.bincount((u[view] * days + d[view]) * n_cat + cat[view], minlength=n_users * days * n_cat)
    PC30 = rolling(PC.reshape(n_users, days, n_cat), 30)
    VC30 = rolling(VC.reshape(n_users, days, n_cat), 30)
    score = PC30 * (int(VC30.max(initial=0)) + 1) + VC30
    fav_idx = score.argmax(axis=2)
    fav = np.array(CATEGORIES, dtype=object)[fav_idx]
    fav[score.max(axis=2) == 0] = None

    event_timestamp = _snapshot_times(config)
    signup = users["signup_ts"].to_numpy()
    present = signup[:, None] < event_timestamp.to_numpy()[None, :]
    # rows ordered by (event_timestamp, user_id): transpose to day-major before flattening
    mask = present.T.ravel()

    def flat(a):
        return a.T.ravel()[mask]

    out = pd.DataFrame(
        {
            "user_id": np.tile(users["user_id"].to_numpy(), days)[mask],
            "event_timestamp": np.repeat(event_timestamp, n_users)[mask],
            "purchases_1d": flat(P).astype("int64"),
            "purchases_7d": flat(P7).astype("int64"),
            "purchases_30d": flat(P30).astype("int64"),
            "purchase_amount_7d": np.round(flat(A7), 2),
            "avg_purchase_value_30d": flat(_ratio(A30, P30)),
            "views_1d": flat(V).astype("int64"),
            "clicks_1d": flat(C).astype("int64"),
            "add_to_cart_7d": flat(K7).astype("int64"),
            "ctr_7d": flat(_ratio(C7, V7)),
            "days_since_last_purchase": flat(since),
            "favourite_category_30d": flat(fav),
        }
    )
    out.insert(2, "created", out["event_timestamp"] + CREATED_DELAY)
    return out[USER_FEATURE_COLUMNS].reset_index(drop=True)


def compute_product_features(events: pd.DataFrame, products: pd.DataFrame, config: WorldConfig) -> pd.DataFrame:
    """Daily point-in-time product features (see the module docstring).

    ``price`` is the price in effect on day D (the drift shows here); ``num_reviews`` grows by
    one review per four purchases; ``rating`` and ``in_stock`` are constant over the window.
    """
    from data_generators.simulate import price_multiplier

    days, n = config.days, len(products)
    start_ms = to_ms(config.start)
    ev = events[(events["event_ts"] >= pd.Timestamp(config.start, tz="UTC"))
                & (events["event_ts"] < pd.Timestamp(config.end, tz="UTC"))]  # fmt: skip
    d = _day_index(ev, start_ms)
    p = ev["product_id"].to_numpy() - 1
    t = ev["event_type"].map(TYPE_CODES).to_numpy()
    buy, view = (t == 3), (t == 0)
    V = _grid(n, days, p[view], d[view])
    P = _grid(n, days, p[buy], d[buy])
    V7, P7 = rolling(V, 7), rolling(P, 7)
    # products.num_reviews is the count at the end of the window; walk it back day by day
    cum = np.cumsum(P, axis=1).astype("int64")
    reviews_start = products["num_reviews"].to_numpy() - cum[:, -1] // 4 if days else products["num_reviews"].to_numpy()
    reviews = reviews_start[:, None] + cum // 4

    cat_idx = pd.Categorical(products["category"], categories=CATEGORIES).codes.astype("int64")
    day_idx = np.arange(days)
    mult = price_multiplier(config, np.repeat(cat_idx, days), np.tile(day_idx, n)).reshape(n, days)
    base_price = products["base_price"].to_numpy()
    price = np.round(base_price[:, None] * mult, 2)
    event_timestamp = _snapshot_times(config)

    def flat(a):
        return a.T.ravel()

    out = pd.DataFrame(
        {
            "product_id": np.tile(products["product_id"].to_numpy(), days),
            "event_timestamp": np.repeat(event_timestamp, n),
            "views_1d": flat(V).astype("int64"),
            "purchases_7d": flat(P7).astype("int64"),
            "conversion_rate_7d": flat(_ratio(P7, V7)),
            "price": flat(price).astype("float64"),
            "rating": np.tile(products["rating"].to_numpy(), days).astype("float64"),
            "num_reviews": flat(reviews).astype("int64"),
            "in_stock": np.tile(products["in_stock"].to_numpy(), days).astype(bool),
        }
    )
    out.insert(2, "created", out["event_timestamp"] + CREATED_DELAY)
    return out[PRODUCT_FEATURE_COLUMNS].reset_index(drop=True)


# -- training data helpers (used by tests and notebook 02) ---------------------------------------
def point_in_time_join(labels: pd.DataFrame, user_features: pd.DataFrame) -> pd.DataFrame:
    """For each label row, the latest snapshot with ``event_timestamp <= label_ts`` (no future
    data). Labels without an earlier snapshot get NaN features. Keeps the labels' row order."""
    left = labels.reset_index(drop=True).assign(_row=lambda x: np.arange(len(x))).sort_values("label_ts")
    right = user_features.sort_values("event_timestamp")
    joined = pd.merge_asof(
        left, right.drop(columns=["created"]), left_on="label_ts", right_on="event_timestamp",
        by="user_id", direction="backward", allow_exact_matches=True,
    )  # fmt: skip
    return joined.sort_values("_row").drop(columns=["_row"]).reset_index(drop=True)


def leaky_user_features(labels: pd.DataFrame, user_features: pd.DataFrame) -> pd.DataFrame:
    """The classic mistake: join each label to the snapshot of the END of its label day
    ("the features for that date"), which already counts events after ``label_ts``, i.e.
    inside the label window. Same columns as :func:`point_in_time_join`."""
    left = labels.reset_index(drop=True).copy()
    left["event_timestamp"] = left["label_ts"].dt.floor("D") + pd.Timedelta(days=1)
    return left.merge(user_features.drop(columns=["created"]), on=["user_id", "event_timestamp"], how="left")
