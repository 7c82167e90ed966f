"""WorldConfig: every knob of the synthetic world, validated, hashable and serialisable.

A config fully determines the world: the same config (seed included) gives the same files,
byte for byte. ``config_id()`` names the folder the world lives in.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

# Bump when the generator's output changes for the same config, so stale worlds regenerate.
GENERATOR_VERSION = "4"


class ConfigError(ValueError):
    """A knob has a bad value. The message says what was wrong and what to do."""


@dataclass(frozen=True)
class ScaleSpec:
    n_users: int
    n_products: int
    sessions_per_user_day: float  # mean, before the heavy-tailed activity multiplier
    label_user_fraction: float  # share of active users sampled as training examples per day


SCALES: dict[str, ScaleSpec] = {
    # small: the test scale (about 70k events; generates with its features in ~2 s)
    "small": ScaleSpec(n_users=500, n_products=200, sessions_per_user_day=1.0, label_user_fraction=1.0),
    "medium": ScaleSpec(n_users=5_000, n_products=2_000, sessions_per_user_day=1.0, label_user_fraction=0.5),
    "large": ScaleSpec(n_users=50_000, n_products=20_000, sessions_per_user_day=1.0, label_user_fraction=0.1),
}

DEFAULT_START = dt.date(2026, 1, 5)  # a Monday
DEFAULT_DAYS = 28
MAX_DAYS = 366


@dataclass(frozen=True)
class Traps:
    """Which data-quality traps are injected into ``raw_events`` (each can be switched off)."""

    drift: bool = True  # dated store-wide price jump (DRIFT_* below; ground_truth.json "drift")
    late_events: bool = True  # ingest_ts delayed by minutes to hours: out-of-order arrival
    duplicates: bool = True  # the same event delivered twice (same event_id)
    nulls: bool = True  # product_id and/or price missing
    malformed: bool = True  # bad JSON, wrong types, missing fields (malformed.jsonl)
    bad_batch: bool = True  # one day with negative or absurd prices/amounts

    @classmethod
    def none(cls) -> Traps:
        return cls(**{f.name: False for f in dataclasses.fields(cls)})


# The drift (simulate.price_multiplier injects it; traps.py records it in the ground truth): from
# ``drift_day`` 00:00 UTC on, a store-wide pricing change multiplies every price by this factor.
# A 30% jump on every item moves the daily distribution of ``price`` far more than the day-to-day
# noise (heavy users with odd tastes), so a per-day test on that ONE feature flags exactly the
# drift day and no day before it (a jump in one category is lost in that noise at small scale).
DRIFT_CATEGORIES = ("beauty", "books", "electronics", "fashion", "grocery", "home", "sports", "toys")
DRIFT_PRICE_FACTOR = 1.3


@dataclass(frozen=True)
class WorldConfig:
    scale: str = "small"
    seed: int = 42
    start: dt.date = DEFAULT_START
    days: int = DEFAULT_DAYS
    traps: Traps = field(default_factory=Traps)

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ConfigError(f"unknown scale {self.scale!r}: use one of {', '.join(SCALES)}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed={self.seed!r}: use a non-negative integer such as 42")
        start = self.start
        if isinstance(start, str):
            object.__setattr__(self, "start", parse_date(start, "start"))
        elif isinstance(start, dt.datetime):
            object.__setattr__(self, "start", start.date())
        elif not isinstance(start, dt.date):
            raise ConfigError(f"start={start!r}: use a date in YYYY-MM-DD form, e.g. 2026-01-05")
        if isinstance(self.days, bool) or not isinstance(self.days, int):
            raise ConfigError(f"days={self.days!r}: use a whole number of days between 1 and {MAX_DAYS}")
        if self.days < 1:
            raise ConfigError(f"days={self.days}: the world needs at least 1 day; use e.g. --days 28")
        if self.days > MAX_DAYS:
            raise ConfigError(f"days={self.days}: at most {MAX_DAYS} days; use a bigger --scale for more data")
        if isinstance(self.traps, dict):
            object.__setattr__(self, "traps", Traps(**self.traps))

    # -- derived --------------------------------------------------------------------------
    @property
    def spec(self) -> ScaleSpec:
        return SCALES[self.scale]

    @property
    def end(self) -> dt.date:
        """First day AFTER the simulated window (exclusive)."""
        return self.start + dt.timedelta(days=self.days)

    @property
    def drift_day(self) -> dt.date:
        """Day the injected drift starts: three quarters into the window."""
        return self.start + dt.timedelta(days=max(1, round(self.days * 0.75)))

    @property
    def bad_batch_day(self) -> dt.date:
        return self.start + dt.timedelta(days=max(0, round(self.days * 15 / 28)))

    def is_default(self) -> bool:
        return self == WorldConfig(scale=self.scale, seed=self.seed)

    def to_dict(self) -> dict:
        return {
            "scale": self.scale,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "traps": dataclasses.asdict(self.traps),
            "generator_version": GENERATOR_VERSION,
        }

    @classmethod
    def from_dict(cls, d: dict) -> WorldConfig:
        return cls(scale=d["scale"], seed=d["seed"], start=d["start"], days=d["days"], traps=Traps(**d["traps"]))

    def config_id(self) -> str:
        """Folder name: ``<scale>-seed<seed>``, plus a short hash when other knobs differ from
        the defaults (so a 7-day experiment never overwrites the shared default world)."""
        base = f"{self.scale}-seed{self.seed}"
        if self.is_default():
            return base
        digest = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:8]
        return f"{base}-{digest}"


def parse_date(value: str, name: str = "date") -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a date: use YYYY-MM-DD, e.g. 2026-01-05") from None


def make_config(scale: str = "small", seed: int = 42, **knobs) -> WorldConfig:
    """Build a WorldConfig from keyword knobs: ``start``, ``days`` or ``end`` (exclusive: the
    first day not simulated), ``traps`` (a Traps, a dict, or False for none) and per-trap
    booleans such as ``duplicates=False``."""
    traps = knobs.pop("traps", None)
    trap_names = {f.name for f in dataclasses.fields(Traps)}
    trap_flags = {k: knobs.pop(k) for k in list(knobs) if k in trap_names}
    if traps is False:
        traps = Traps.none()
    elif traps is None or traps is True:
        traps = Traps()
    elif isinstance(traps, dict):
        traps = Traps(**traps)
    if trap_flags:
        traps = dataclasses.replace(traps, **{k: bool(v) for k, v in trap_flags.items()})
    end = knobs.pop("end", None)
    start = knobs.pop("start", DEFAULT_START)
    days = knobs.pop("days", None)
    if knobs:
        raise ConfigError(
            f"unknown world knob(s) {', '.join(sorted(knobs))}: "
            f"use start, days, end, traps or one of {', '.join(sorted(trap_names))}"
        )
    if isinstance(start, str):
        start = parse_date(start, "start")
    if end is not None:
        end = parse_date(end, "end") if isinstance(end, str) else end
        if days is not None:
            raise ConfigError("give either days or end, not both")
        if end <= start:
            raise ConfigError(
                f"end {end} is not after start {start}: pick an end date later than the start (end is exclusive)"
            )
        days = (end - start).days
    if days is None:
        days = DEFAULT_DAYS
    return WorldConfig(scale=scale, seed=seed, start=start, days=days, traps=traps)
