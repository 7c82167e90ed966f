"""Simulate the clean world: users, products, sessions and funnel events.

Everything is vectorised with numpy; the only Python loop runs over days. Each part draws from
its own random stream (spawned from the seed), so changing one part never shifts another.

The behaviour that the curriculum relies on is built in on purpose:
- heavy-tailed activity: a per-user lognormal activity level (a few users are very active);
- a per-user, slowly changing "momentum" (an AR(1) process): recent activity predicts tomorrow;
- daily and weekly cycles: evening peaks on weekdays, a flatter, bigger day at weekends;
- category affinity: each user draws category preferences from a Dirichlet;
- price sensitivity by segment: bargain users shy away from expensive items, premium users do not;
- a per-user purchase propensity: past purchases predict future ones (the label's signal);
- a funnel: view -> click -> add_to_cart -> purchase, each step a fraction of the previous one.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from data_generators.config import DRIFT_CATEGORIES, DRIFT_PRICE_FACTOR, WorldConfig

DAY_MS = 86_400_000
HOUR_MS = 3_600_000

CATEGORIES = ["beauty", "books", "electronics", "fashion", "grocery", "home", "sports", "toys"]  # sorted
CATEGORY_SHARE = np.array([0.10, 0.14, 0.12, 0.18, 0.10, 0.14, 0.12, 0.10])  # of the catalogue
CATEGORY_MEDIAN_PRICE = np.array([22.0, 14.0, 240.0, 45.0, 7.5, 60.0, 70.0, 28.0])
BRAND_STEMS = {
    "beauty": ["Lumina", "Velvetine", "Aurelle", "Bloomery", "Purea", "Glowen"],
    "books": ["Penfold", "Inkwell", "Marginalia", "Quire", "Folio House", "Bindery"],
    "electronics": ["Voltaic", "Nexon", "Quanta", "Circuitry", "Ampere", "Pixelon"],
    "fashion": ["Threadly", "Urbane", "Linea", "Cotterie", "Stitchworks", "Modano"],
    "grocery": ["Harvest", "Pantry Co", "Greenfield", "Orchard", "Daily Grain", "Saltmarsh"],
    "home": ["Hearthly", "Nestwell", "Oakline", "Homestead", "Lumen Home", "Cozen"],
    "sports": ["Stride", "Peakform", "Velox", "Summit", "Kinetix", "Trailhead"],
    "toys": ["Playwright", "Tinker", "Wonderbox", "Marblo", "Kiddo", "Buildit"],
}
SEGMENTS = ["bargain", "regular", "premium"]
SEGMENT_SHARE = [0.35, 0.45, 0.20]
SEGMENT_ELASTICITY = np.array([1.1, 0.45, -0.1])  # how much a higher relative price lowers interest
SEGMENT_CONVERSION = np.array([0.8, 1.0, 1.35])
COUNTRIES = ["US", "GB", "DE", "FR", "IN", "BR", "JP", "CA", "ES", "NL"]
COUNTRY_SHARE = [0.30, 0.12, 0.11, 0.09, 0.10, 0.08, 0.06, 0.06, 0.04, 0.04]
DEVICES = ["mobile", "desktop", "tablet"]
DEVICE_SHARE = [0.55, 0.35, 0.10]
DEVICE_CLICK = np.array([0.95, 1.1, 1.0])
EVENT_TYPES = ["view", "click", "add_to_cart", "purchase"]

# Relative session starts per UTC hour: evening peak on weekdays, broad daytime at weekends.
# Two rows of twelve hours read better than one value per line:
# fmt: off
HOURLY_WEEKDAY = np.array([
    1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 1.8, 2.2, 2.0, 1.9, 2.0,  # 00-11 h
    2.6, 2.5, 2.0, 1.9, 2.0, 2.4, 3.0, 3.8, 4.4, 4.1, 3.0, 1.8,  # 12-23 h
])
HOURLY_WEEKEND = np.array([
    1.4, 0.9, 0.6, 0.4, 0.3, 0.3, 0.5, 0.9, 1.5, 2.3, 2.9, 3.2,  # 00-11 h
    3.4, 3.3, 3.1, 3.0, 3.0, 3.1, 3.3, 3.6, 3.7, 3.4, 2.7, 1.9,  # 12-23 h
])
# fmt: on
DAY_OF_WEEK_VOLUME = np.array([0.94, 0.92, 0.95, 0.98, 1.05, 1.18, 1.15])  # Monday .. Sunday

ACTIVITY_SIGMA = 1.1  # lognormal spread of user activity: the heavy tail
MOMENTUM_RHO = 0.8  # day-to-day persistence of a user's momentum
MOMENTUM_SIGMA = 0.6


def to_ms(day: dt.date) -> int:
    return int(pd.Timestamp(day, tz="UTC").value // 1_000_000)


def ms_to_ts(ms: np.ndarray) -> pd.DatetimeIndex:
    """int64 epoch milliseconds -> tz-aware UTC timestamps (ns resolution in pandas)."""
    return pd.to_datetime(np.asarray(ms, dtype="int64"), unit="ms", utc=True)


def ts_ms(series: pd.Series) -> np.ndarray:
    """tz-aware timestamps -> int64 epoch milliseconds (whatever the pandas unit)."""
    return series.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ms]").astype("int64")


def streams(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def simulate_users(config: WorldConfig, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    n = config.spec.n_users
    start_ms = to_ms(config.start)
    segment = rng.choice(3, n, p=SEGMENT_SHARE)
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_SHARE)
    device = rng.choice(3, n, p=DEVICE_SHARE)
    # three quarters signed up before the window (up to two years), the rest during it
    before = rng.random(n) < 0.75
    before_ms = start_ms - rng.integers(DAY_MS, 730 * DAY_MS, n)
    during_ms = start_ms + rng.integers(0, config.days * DAY_MS, n)
    signup_ms = np.where(before, before_ms, during_ms) // 1000 * 1000
    users = pd.DataFrame(
        {
            "user_id": np.arange(1, n + 1, dtype="int64"),
            "signup_ts": ms_to_ts(signup_ms),
            "segment": np.array(SEGMENTS, dtype=object)[segment],
            "country": np.array(COUNTRIES, dtype=object)[country],
            "preferred_device": np.array(DEVICES, dtype=object)[device],
        }
    )
    activity = rng.lognormal(-(ACTIVITY_SIGMA**2) / 2, ACTIVITY_SIGMA, n)
    propensity = rng.lognormal(-(0.5**2) / 2, 0.5, n) * SEGMENT_CONVERSION[segment]
    # category preferences: concentrated (alpha < 1), centred on the catalogue's shares
    affinity = rng.gamma(0.35 * len(CATEGORIES) * CATEGORY_SHARE, 1.0, (n, len(CATEGORIES)))
    affinity = affinity + 1e-9
    affinity /= affinity.sum(axis=1, keepdims=True)
    latent = {
        "segment": segment,
        "device": device,
        "signup_ms": signup_ms,
        "activity": activity,
        "propensity": propensity,
        "affinity": affinity,
    }
    return users, latent


def simulate_products(config: WorldConfig, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    n = config.spec.n_products
    cat = rng.choice(len(CATEGORIES), n, p=CATEGORY_SHARE)
    raw_price = CATEGORY_MEDIAN_PRICE[cat] * rng.lognormal(0.0, 0.5, n)
    # retail-looking prices: x.99 above 5, cents below
    price = np.where(raw_price > 5, np.maximum(np.round(raw_price), 1.0) - 0.01, np.round(raw_price, 2))
    price = np.maximum(price, 0.5)
    rating = np.clip(np.round(rng.normal(4.1, 0.55, n), 1), 1.0, 5.0)
    num_reviews = np.floor(rng.lognormal(3.0, 1.4, n)).astype("int64")
    in_stock = rng.random(n) >= 0.07
    brand_idx = np.minimum(rng.geometric(0.35, n) - 1, 5)
    brand = np.array([BRAND_STEMS[CATEGORIES[c]][b] for c, b in zip(cat, brand_idx, strict=True)], dtype=object)
    # Zipf-like popularity within each category: a few best sellers, a long tail
    popularity = np.empty(n)
    for c in range(len(CATEGORIES)):
        idx = np.flatnonzero(cat == c)
        ranks = rng.permutation(len(idx)) + 1
        popularity[idx] = 1.0 / ranks**0.9
    products = pd.DataFrame(
        {
            "product_id": np.arange(1, n + 1, dtype="int64"),
            "category": np.array(CATEGORIES, dtype=object)[cat],
            "brand": brand,
            "price": price.astype("float64"),
            "rating": rating.astype("float64"),
            "num_reviews": num_reviews,
            "in_stock": in_stock,
        }
    )
    latent = {"category": cat, "price": price, "rating": rating, "in_stock": in_stock, "popularity": popularity}
    return products, latent


def _sample_products(categories: np.ndarray, prod: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """For each wanted category, a product index of that category, by popularity."""
    out = np.empty(len(categories), dtype="int64")
    for c in range(len(CATEGORIES)):
        want = np.flatnonzero(categories == c)
        if len(want) == 0:
            continue
        pool = np.flatnonzero(prod["category"] == c)
        if len(pool) == 0:  # tiny catalogues: fall back to any product
            pool = np.arange(len(prod["category"]))
        cum = np.cumsum(prod["popularity"][pool])
        pick = np.searchsorted(cum, rng.random(len(want)) * cum[-1], side="right")
        out[want] = pool[np.minimum(pick, len(pool) - 1)]
    return out


def price_multiplier(config: WorldConfig, category: np.ndarray, day_index: np.ndarray) -> np.ndarray:
    """Price factor per (category index, day index): the injected drift, 1.0 elsewhere."""
    if not config.traps.drift:
        return np.ones(len(category))
    drift_day = (config.drift_day - config.start).days
    hit = np.isin(category, [CATEGORIES.index(c) for c in DRIFT_CATEGORIES]) & (day_index >= drift_day)
    return np.where(hit, DRIFT_PRICE_FACTOR, 1.0)


def _day_sessions(config, user, d, log_m, rng_sessions, hourly, start_ms):
    """Sessions of day ``d``: (user index, start ms) for users whose momentum says so."""
    day = config.start + dt.timedelta(days=d)
    rate = (
        config.spec.sessions_per_user_day
        * user["activity"]
        * np.exp(log_m - MOMENTUM_SIGMA**2 / 2)
        * DAY_OF_WEEK_VOLUME[day.weekday()]
    )
    k = rng_sessions.poisson(rate)
    users_today = np.repeat(np.arange(len(rate)), k)
    hours = rng_sessions.choice(24, len(users_today), p=hourly[day.weekday() >= 5])
    start = start_ms + d * DAY_MS + hours * HOUR_MS + rng_sessions.integers(0, HOUR_MS, len(users_today))
    keep = start >= user["signup_ms"][users_today]
    return users_today[keep], start[keep]


def _day_events(config, user, prod, s_user, s_start, s_device, d, rng):
    """Views and the funnel for one day's sessions -> compact per-event arrays."""
    n_sessions = len(s_user)
    # views: 1 + Poisson(2.5) per session, spaced by exponential gaps
    n_views = 1 + rng.poisson(2.5, n_sessions)
    v_session = np.repeat(np.arange(n_sessions), n_views)
    gaps = rng.exponential(45_000, len(v_session)).astype("int64") + 1_000
    first = np.concatenate([[0], np.cumsum(n_views)[:-1]]).astype("int64")
    if n_sessions:
        gaps[first] = 0
    csum = np.cumsum(gaps)
    v_ts = s_start[v_session] + csum - np.repeat(csum[first], n_views) if n_sessions else csum
    v_user = s_user[v_session]
    aff_cum = np.cumsum(user["affinity"][v_user], axis=1)
    v_cat = np.minimum((aff_cum < rng.random(len(v_user))[:, None]).sum(axis=1), len(CATEGORIES) - 1)
    del aff_cum
    v_prod = _sample_products(v_cat, prod, rng)
    v_price = np.round(
        prod["price"][v_prod] * price_multiplier(config, prod["category"][v_prod], np.full(len(v_prod), d)), 2
    )

    # the funnel
    seg = user["segment"][v_user]
    rel_price = v_price / CATEGORY_MEDIAN_PRICE[prod["category"][v_prod]]
    price_factor = rel_price ** (-SEGMENT_ELASTICITY[seg])
    rating_factor = (prod["rating"][v_prod] / 4.0) ** 1.5
    p_click = np.clip(0.32 * price_factor * rating_factor * DEVICE_CLICK[s_device[v_session]], 0.02, 0.9)
    clicked = rng.random(len(v_user)) < p_click
    propensity = user["propensity"][v_user]
    p_cart = np.clip(0.28 * propensity * np.sqrt(price_factor), 0.0, 0.9) * prod["in_stock"][v_prod]
    carted = clicked & (rng.random(len(v_user)) < p_cart)
    p_buy = np.clip(0.5 * np.sqrt(propensity) * np.sqrt(price_factor), 0.0, 0.95)
    bought = carted & (rng.random(len(v_user)) < p_buy)
    quantity = rng.geometric(0.72, len(v_user)).astype("int64")
    t_click = v_ts + 1_000 + rng.exponential(8_000, len(v_user)).astype("int64")
    t_cart = t_click + 2_000 + rng.exponential(20_000, len(v_user)).astype("int64")
    t_buy = t_cart + 5_000 + rng.exponential(60_000, len(v_user)).astype("int64")

    views = np.arange(len(v_user))
    parts = [(views, v_ts, 0), (views[clicked], t_click[clicked], 1), (views[carted], t_cart[carted], 2),
             (views[bought], t_buy[bought], 3)]  # fmt: skip
    src = np.concatenate([p[0] for p in parts])
    etype = np.concatenate([np.full(len(p[0]), p[2], dtype="int8") for p in parts])
    return {
        "ts": np.concatenate([p[1] for p in parts]),
        "etype": etype,
        "user": v_user[src].astype("int32"),
        "product": v_prod[src].astype("int32"),
        "session": v_session[src].astype("int64"),  # local to the day; offset by the caller
        "view": src.astype("int64"),  # local view number: ties in time keep the funnel order
        "price": v_price[src],
        "quantity": np.where(etype >= 2, quantity[src], 0).astype("int64"),
    }


def simulate_events(
    config: WorldConfig,
    user: dict[str, np.ndarray],
    prod: dict[str, np.ndarray],
    rng_sessions: np.random.Generator,
    rng_events: np.random.Generator,
    progress=None,
) -> pd.DataFrame:
    """All true events of the window, sorted by event time, with their normal ingest delay.

    Simulated one day at a time (momentum is a process over days, and per-day chunks keep the
    memory of the large scale down); only compact per-event arrays are kept between days."""
    n_users = len(user["activity"])
    start_ms = to_ms(config.start)
    end_ms = to_ms(config.end)
    hourly = {False: HOURLY_WEEKDAY / HOURLY_WEEKDAY.sum(), True: HOURLY_WEEKEND / HOURLY_WEEKEND.sum()}
    log_m = rng_sessions.normal(0, MOMENTUM_SIGMA, n_users)
    chunks: list[dict[str, np.ndarray]] = []
    s_device_all: list[np.ndarray] = []
    n_sessions = n_views = 0
    for d in range(config.days):
        if d:
            eps = rng_sessions.normal(0, 1, n_users)
            log_m = MOMENTUM_RHO * log_m + np.sqrt(1 - MOMENTUM_RHO**2) * MOMENTUM_SIGMA * eps
        s_user, s_start = _day_sessions(config, user, d, log_m, rng_sessions, hourly, start_ms)
        pref = user["device"][s_user]
        s_device = np.where(
            rng_events.random(len(s_user)) < 0.8, pref, rng_events.choice(3, len(s_user), p=DEVICE_SHARE)
        )
        ev = _day_events(config, user, prod, s_user, s_start, s_device, d, rng_events)
        day_views = int((ev["etype"] == 0).sum())  # every view is an event of its own
        ev["session"] += n_sessions
        ev["view"] += n_views
        n_sessions += len(s_user)
        n_views += day_views
        keep = ev["ts"] < end_ms
        chunks.append({k: v[keep] for k, v in ev.items()})
        s_device_all.append(s_device.astype("int8"))
        if progress is not None:
            progress.update(1)

    cols = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]} if chunks else {}
    del chunks
    s_device = np.concatenate(s_device_all) if s_device_all else np.array([], dtype="int8")
    order = np.lexsort((cols["etype"], cols["view"], cols["ts"]))  # by time; ties by view, then funnel step
    cols = {k: v[order] for k, v in cols.items()}
    ts, etype, sess = cols["ts"], cols["etype"], cols["session"]
    qty, price = cols["quantity"], cols["price"]
    amount = np.where(etype == 3, np.round(price * qty, 2), 0.0)
    n = len(ts)
    # normal pipeline delay: 50 ms + exponential(1.5 s); lateness is injected later as a trap
    ingest = ts + 50 + rng_events.exponential(1_500, n).astype("int64")
    width = max(9, len(str(n)))
    products = cols["product"]
    return pd.DataFrame(
        {
            "event_id": _ids("e", np.arange(1, n + 1), width),
            "user_id": cols["user"].astype("int64") + 1,
            "product_id": products.astype("int64") + 1,
            "session_id": _ids("s", np.arange(1, n_sessions + 1), max(8, len(str(n_sessions))))[sess],
            "event_type": np.array(EVENT_TYPES, dtype=object)[etype],
            "event_ts": ms_to_ts(ts),
            "ingest_ts": ms_to_ts(ingest),
            "category": np.array(CATEGORIES, dtype=object)[prod["category"][products]],
            "price": price.astype("float64"),
            "quantity": qty,
            "amount": amount.astype("float64"),
            "device": np.array(DEVICES, dtype=object)[s_device[sess]],
        }
    )


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded numbers, e.g. ``e000000042`` (vectorised in Arrow's C++)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, dtype="int64")).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "").to_numpy(zero_copy_only=False)
