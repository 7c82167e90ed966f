"""Batch pipelines: Spark feature-job time vs events, and point-in-time join time vs entity rows.

1. The lab's Spark job (``pipelines.features``: clean -> daily tiles -> 1/7/30-day windows) on
   synthetic raw events written as local Parquet partitioned by ``dt`` (30 days, ~200 events per
   user), ``local[2]``. Timed: read + clean + features for the last day + collect to Arrow, after
   one warm-up run on the smallest size (JVM start is reported separately).
2. Feast's duckdb offline store (the lab's ``feature_repo``, ``user_stats`` view over the world's
   daily snapshots): ``get_historical_features(...).to_df()`` for entity frames of growing size.

Targets from the issue: 10M events under 60 s; 1M entity rows under 30 s.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # pipelines/ and feature_repo/ are top-level folders of the repo
    sys.path.append(str(REPO))

TITLE = "Batch pipelines: Spark job vs events, point-in-time join vs entity rows"

EVENT_SIZES = (1_000_000, 5_000_000, 10_000_000)
QUICK_EVENT_SIZES = (100_000, 300_000)
ENTITY_SIZES = (10_000, 100_000, 1_000_000)
QUICK_ENTITY_SIZES = (1_000, 10_000)
DAYS = 30
START = dt.date(2026, 1, 1)
TARGET_EVENTS_S = 60.0
TARGET_PIT_S = 30.0


def synthetic_events(n: int, seed: int = 0):
    """n raw events over DAYS days (~200 per user) as an Arrow table with the lake's schema + dt."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    users = max(100, n // 200)
    start_us = int(dt.datetime(START.year, START.month, START.day, tzinfo=dt.UTC).timestamp() * 1e6)
    ts = np.sort(start_us + rng.integers(0, DAYS * 86_400_000_000, n))
    kinds = np.array(["view", "click", "add_to_cart", "purchase"])[rng.choice(4, n, p=[0.6, 0.22, 0.1, 0.08])]
    price = np.round(rng.lognormal(3.5, 0.9, n), 2)
    qty = np.where((kinds == "purchase") | (kinds == "add_to_cart"), rng.integers(1, 4, n), 0)
    ids = pa.array(np.arange(n, dtype=np.int64))
    tsa = pa.array(ts, pa.timestamp("us", tz="UTC"))
    day_idx = (ts - start_us) // 86_400_000_000
    dts = np.array([(START + dt.timedelta(days=int(d))).isoformat() for d in range(DAYS)])[day_idx]
    return pa.table(
        {
            "event_id": pc.binary_join_element_wise("e", pc.cast(ids, pa.string()), ""),
            "user_id": pa.array(rng.integers(1, users + 1, n)),
            "product_id": pa.array(rng.integers(1, 5000, n)),
            "session_id": pc.binary_join_element_wise("s", pc.cast(pa.array(ts // 1_800_000_000), pa.string()), ""),
            "event_type": pa.array(kinds),
            "event_ts": tsa,
            "ingest_ts": tsa,
            "category": pa.array(np.array(["books", "toys", "home", "beauty", "sports"])[rng.integers(0, 5, n)]),
            "price": pa.array(price),
            "quantity": pa.array(qty),
            "amount": pa.array(np.where(kinds == "purchase", np.round(price * qty, 2), 0.0)),
            "device": pa.array(np.array(["mobile", "desktop"])[rng.integers(0, 2, n)]),
            "dt": pa.array(dts),
        }
    )


def _spark_job_seconds(spark, root: Path) -> tuple[float, int]:
    from pyspark.sql import functions as F

    from pipelines.features import compute_features

    last = START + dt.timedelta(days=DAYS - 1)
    t0 = time.perf_counter()
    raw = spark.read.parquet(root.as_uri()).where(F.col("dt").between(F.lit(START), F.lit(last)))
    out = compute_features(raw, last)
    return time.perf_counter() - t0, out.num_rows


def bench_spark(report, sizes) -> list[dict]:
    import pyarrow.dataset as ds

    from pipelines.steps import job_spark_session

    work = Path(tempfile.mkdtemp(prefix="bench-spark-", dir=report.settings.home))
    rows = []
    try:
        t0 = time.perf_counter()
        spark = job_spark_session(report.settings)
        startup = time.perf_counter() - t0
        report.record("bench.spark_startup_s", startup, "s")
        for n in sizes:
            root = work / f"events-{n}"
            t0 = time.perf_counter()
            ds.write_dataset(
                synthetic_events(n),
                root,
                format="parquet",
                partitioning=["dt"],
                partitioning_flavor="hive",
                max_rows_per_group=1_000_000,
            )
            gen_s = time.perf_counter() - t0
            if not rows:
                _spark_job_seconds(spark, root)  # warm-up once: JIT-compiled code serves the later sizes
            secs, users = _spark_job_seconds(spark, root)
            report.record("bench.spark_job_s", secs, "s", events=n, users=users)
            rows.append(
                {
                    "events": n,
                    "users with features": users,
                    "job s": secs,
                    "events/s": n / secs,
                    "data gen s": gen_s,
                    "target": f"< {TARGET_EVENTS_S:.0f} s" if n == 10_000_000 else "",
                }
            )
            shutil.rmtree(root, ignore_errors=True)
        spark.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report.add_text(f"Spark session start (JVM, `local[2]`): {startup:.1f} s, not included below.")
    return rows


def bench_pit(report, sizes) -> list[dict]:
    import pandas as pd

    from data_generators import ensure_world
    from feature_repo import setup_feature_store

    store = setup_feature_store(scale="small", seed=42, settings=report.settings)
    world = ensure_world("small", 42)
    features = ["user_stats:purchases_7d", "user_stats:avg_purchase_value_30d", "user_stats:ctr_7d"]
    lo = pd.Timestamp(world.config.start, tz="UTC").value
    hi = pd.Timestamp(world.config.end, tz="UTC").value
    n_users = int(world.users.user_id.max())
    rows = []
    for n in sizes:
        rng = np.random.default_rng(n)
        entity_df = pd.DataFrame(
            {
                "user_id": rng.integers(1, n_users + 1, n),
                # whole seconds: Feast's duckdb store casts to timestamp[us] and refuses to drop nanoseconds
                "event_timestamp": pd.to_datetime(rng.integers(lo // 10**9, hi // 10**9, n), unit="s", utc=True),
            }
        )
        t0 = time.perf_counter()
        out = store.get_historical_features(entity_df=entity_df, features=features).to_df()
        secs = time.perf_counter() - t0
        assert len(out) == n, f"the point-in-time join returned {len(out)} rows for {n} entity rows"
        filled = float(out["purchases_7d"].notna().mean())
        report.record("bench.pit_join_s", secs, "s", entity_rows=n, offline_store="duckdb")
        rows.append(
            {
                "entity rows": n,
                "join s": secs,
                "rows/s": n / secs,
                "rows with a value": f"{filled:.0%}",
                "target": f"< {TARGET_PIT_S:.0f} s" if n == 1_000_000 else "",
            }
        )
    return rows


def run(report, quick: bool = False) -> None:
    import matplotlib.pyplot as plt

    spark_rows = bench_spark(report, QUICK_EVENT_SIZES if quick else EVENT_SIZES)
    report.add_table("Spark feature job (read + clean + 1/7/30-day windows for one day), local[2]", spark_rows)
    pit_rows = bench_pit(report, QUICK_ENTITY_SIZES if quick else ENTITY_SIZES)
    report.add_table("Feast point-in-time join (duckdb offline store, 3 features of user_stats)", pit_rows)

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot([r["events"] / 1e6 for r in spark_rows], [r["job s"] for r in spark_rows], "o-")
    axes[0].axhline(TARGET_EVENTS_S, color="grey", ls="--", lw=1, label=f"target {TARGET_EVENTS_S:.0f} s @ 10M")
    axes[0].set(xlabel="events (millions)", ylabel="seconds", title="Spark feature job")
    axes[0].legend()
    axes[1].plot([r["entity rows"] for r in pit_rows], [r["join s"] for r in pit_rows], "o-", color="#55a868")
    axes[1].axhline(TARGET_PIT_S, color="grey", ls="--", lw=1, label=f"target {TARGET_PIT_S:.0f} s @ 1M")
    axes[1].set(xscale="log", xlabel="entity rows", ylabel="seconds", title="Point-in-time join (Feast, duckdb)")
    axes[1].legend()
    fig.tight_layout()
    report.add_figure("Batch job and point-in-time join scaling", fig)

    if not quick:
        big = spark_rows[-1]
        pit = pit_rows[-1]
        report.add_text(
            f"10M events: {big['job s']:.1f} s ({'meets' if big['job s'] < TARGET_EVENTS_S else 'MISSES'} "
            f"the {TARGET_EVENTS_S:.0f} s target); "
            f"1M entity rows: {pit['join s']:.1f} s ({'meets' if pit['join s'] < TARGET_PIT_S else 'MISSES'} "
            f"the {TARGET_PIT_S:.0f} s target). "
            "Both on this machine, in the same run as the other benchmarks."
        )
