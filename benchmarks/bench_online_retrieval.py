"""Online feature retrieval: raw Redis floor, Feast SDK and `feast serve` over HTTP, in one run.

For batch sizes 1, 10 and 100 entity rows, the same features of the ``recommendation_v1``
FeatureService (two feature views and an on-demand view fed by request data) are read:

* raw Redis: one pipelined HMGET per key and view, the exact commands Feast's Redis store sends;
* Feast SDK: ``get_online_features(features=<FeatureService>, entity_rows=[...])`` on a kept-open store;
* feast serve: the same request as JSON to Feast's HTTP feature server, over a kept-alive connection.

It also times the anti-pattern of building a FeatureStore per request, and profiles the SDK path
(cProfile) to say where Feast's time above the Redis floor goes.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # feature_repo is a top-level folder of the repo
    sys.path.append(str(REPO))

TITLE = "Online retrieval latency: raw Redis, Feast SDK, feast serve"

BATCHES = (1, 10, 100)
CALLS = 400
QUICK_CALLS = 40
TARGET_SERVE_P99_MS = 5.0


def _rows(world, T, batch: int) -> list[dict]:
    users = world.user_features.loc[world.user_features.event_timestamp == T, "user_id"].to_numpy()
    products = world.products.product_id.to_numpy()
    return [
        {
            "user_id": int(users[i % len(users)]),
            "product_id": int(products[(7 * i) % len(products)]),
            "offered_price": 25.0,
        }
        for i in range(batch)
    ]


def _category(filename: str, funcname: str) -> str:
    f = filename.replace("\\", "/")
    if any(w in funcname for w in ("sendall", "recv_into", "'recv'", "'send'", "select", "poll")):
        return "socket wait (the Redis round trip)"
    if "/redis/" in f:
        return "redis-py client (command packing, reply parsing)"
    if "/google/protobuf/" in f or "_pb2" in f or "upb" in f:
        return "protobuf (de)serialization"
    if "on_demand_feature_view" in f or "/transformation/" in f or "definitions.py" in f:
        return "on-demand view (price_vs_user_avg)"
    if "type_map" in f or "value_type" in f:
        return "Feast type conversion"
    if "key_encoding" in f or "mmh3" in f or "online_stores/helpers" in f:
        return "entity key encoding / hashing"
    if "/feast/" in f:
        return "Feast request planning & response assembly"
    if "/pandas/" in f or "/pyarrow/" in f or "/numpy/" in f:
        return "pandas / pyarrow / numpy"
    if f == "~":
        return "Python builtins called along the way"
    return "other Python (stdlib, typeguard, typing)"


def cpu_ms_per_call(call, n: int, pid: int | None = None) -> float:
    """CPU time (user + system) one call costs, in this process or in process ``pid`` and its
    children. Unlike wall-clock latency it barely depends on how busy the machine is."""
    import time

    import psutil

    def cpu() -> float:
        if pid is None:
            return time.process_time()
        root = psutil.Process(pid)
        return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)])

    call()
    t0 = cpu()
    for _ in range(n):
        call()
    return (cpu() - t0) / n * 1000


def profile_sdk(call, n: int) -> tuple[list[dict], float]:
    """Where one SDK call's time goes, grouped by library, from cProfile's own-time (tottime)."""
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        call()
    prof.disable()
    stats = pstats.Stats(prof)
    by_cat: dict[str, float] = {}
    total = 0.0
    for (filename, _line, funcname), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        by_cat[_category(filename, funcname)] = by_cat.get(_category(filename, funcname), 0.0) + tottime
        total += tottime
    rows = [
        {"where": k, "ms per call": round(v / n * 1000, 3), "share": f"{v / total:.0%}"}
        for k, v in sorted(by_cat.items(), key=lambda kv: -kv[1])
    ]
    return rows, total / n * 1000


def run(report, quick: bool = False) -> None:
    import httpx
    import matplotlib.pyplot as plt
    import pandas as pd

    from data_generators import ensure_world
    from feature_repo import latency, setup_feature_store
    from feature_repo.lab_store import get_store
    from labkit.clients import redis_client

    settings = report.settings
    n = QUICK_CALLS if quick else CALLS
    world = ensure_world(scale="small", seed=42)
    store = setup_feature_store(scale="small", seed=42, settings=settings)
    T = world.user_features.event_timestamp.max()
    # The latest two days are enough for every key read below (Feast skips rows older than Redis holds).
    store.materialize(
        start_date=(T - pd.Timedelta(days=2)).to_pydatetime(),
        end_date=T.to_pydatetime(),
        feature_views=["user_stats", "product_features"],
    )
    server = latency.FeastServer(settings).launch()  # starts while the in-process paths are measured
    service = store.get_feature_service("recommendation_v1")
    user_fields = [f.name for f in service.feature_view_projections[0].features]
    product_fields = [f.name for f in service.feature_view_projections[1].features]
    r = redis_client(settings)
    samples: dict[tuple[str, int], np.ndarray] = {}
    plans: dict[int, list] = {}
    rows_by = {b: _rows(world, T, b) for b in BATCHES}
    try:
        for batch in BATCHES:
            rows = _rows(world, T, batch)
            plan = [
                (
                    latency.redis_keys(store.config.project, "user_id", [x["user_id"] for x in rows]),
                    latency.redis_fields("user_stats", user_fields),
                ),
                (
                    latency.redis_keys(store.config.project, "product_id", [x["product_id"] for x in rows]),
                    latency.redis_fields("product_features", product_fields),
                ),
            ]
            plans[batch] = plan
            got = latency.raw_redis_reader(r, plan)()
            assert all(v[-1] is not None for v in got), "raw Redis found no value for a key Feast materialized"
            samples[("raw Redis", batch)] = latency.time_calls(latency.raw_redis_reader(r, plan), n)
            samples[("Feast SDK", batch)] = latency.time_calls(
                lambda rows=rows: store.get_online_features(features=service, entity_rows=rows), n
            )

        one = _rows(world, T, 1)
        fresh_n = 5 if quick else 20
        samples[("SDK, new FeatureStore per call", 1)] = latency.time_calls(
            lambda: get_store(settings, fresh=True).get_online_features(
                features=get_store(settings).get_feature_service("recommendation_v1"), entity_rows=one
            ),
            fresh_n,
            warmup=1,
        )
        cpu_rows = [
            {
                "path": "raw Redis (client side)",
                "batch": b,
                "CPU ms per call": round(cpu_ms_per_call(latency.raw_redis_reader(r, plans[b]), n), 3),
            }
            for b in BATCHES
        ] + [
            {
                "path": "Feast SDK",
                "batch": b,
                "CPU ms per call": round(
                    cpu_ms_per_call(lambda b=b: store.get_online_features(features=service, entity_rows=rows_by[b]), n),
                    3,
                ),
            }
            for b in BATCHES
        ]
        profile_rows, profiled_ms = profile_sdk(
            lambda: store.get_online_features(features=service, entity_rows=one), 50 if quick else 300
        )

        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=60.0) as http:
            for batch in BATCHES:
                body = {
                    "feature_service": "recommendation_v1",
                    "entities": latency.rows_to_columns(_rows(world, T, batch)),
                }
                http.post("/get-online-features", json=body).raise_for_status()
                samples[("feast serve (HTTP)", batch)] = latency.time_calls(
                    lambda body=body: http.post("/get-online-features", json=body).raise_for_status(), n
                )
            # Same features named one by one: the server then skips resolving the service in a
            # worker thread (Feast 0.67 does that lookup through run_in_threadpool on every request).
            refs = [f"{p.name}:{f.name}" for p in service.feature_view_projections for f in p.features]
            body = {"features": refs, "entities": latency.rows_to_columns(_rows(world, T, 1))}
            http.post("/get-online-features", json=body).raise_for_status()
            samples[("feast serve (HTTP), feature list", 1)] = latency.time_calls(
                lambda body=body: http.post("/get-online-features", json=body).raise_for_status(), n
            )
            for b in BATCHES:
                body_b = {
                    "feature_service": "recommendation_v1",
                    "entities": latency.rows_to_columns(_rows(world, T, b)),
                }
                cpu_rows.append(
                    {
                        "path": "feast serve (server process)",
                        "batch": b,
                        "CPU ms per call": round(
                            cpu_ms_per_call(
                                lambda body_b=body_b: http.post("/get-online-features", json=body_b), n, pid=server.pid
                            ),
                            3,
                        ),
                    }
                )
    finally:
        server.stop()
        r.close()

    table = []
    floor = {b: np.percentile(samples[("raw Redis", b)], 50) for b in BATCHES}
    for (path, batch), s in samples.items():
        summary = latency.summarize(s)
        table.append(
            {
                "path": path,
                "batch": batch,
                "calls": summary["n"],
                "p50 ms": round(summary["p50_ms"], 3),
                "p99 ms": round(summary["p99_ms"], 3),
                "p50 / raw Redis p50": round(summary["p50_ms"] / floor[batch], 1),
            }
        )
        slug = path.split(" (")[0].lower().replace(" ", "_").replace(",", "")
        report.record(f"feast.bench.{slug}.p50_ms", summary["p50_ms"], "ms", batch=batch)
        report.record(f"feast.bench.{slug}.p99_ms", summary["p99_ms"], "ms", batch=batch)
    report.add_table(f"p50 / p99 per request ({n} calls per cell, kept-open clients)", table)

    fig, axes = plt.subplots(1, 2, figsize=(12, 4), sharey=True)
    paths = ["raw Redis", "Feast SDK", "feast serve (HTTP)"]
    x = np.arange(len(BATCHES))
    for ax, q in zip(axes, (50, 99), strict=True):
        for i, path in enumerate(paths):
            vals = [np.percentile(samples[(path, b)], q) for b in BATCHES]
            bars = ax.bar(x + (i - 1) * 0.27, vals, width=0.27, label=path)
            ax.bar_label(bars, fmt="%.2f", fontsize=7)
        ax.set_xticks(x, [f"batch {b}" for b in BATCHES])
        ax.set_yscale("log")
        ax.set_title(f"p{q} latency (ms, log scale)")
    axes[0].legend()
    report.add_figure("Online retrieval: p50 and p99 per request", fig)

    report.add_table("CPU time per request (user + system; nearly independent of machine load)", cpu_rows)
    report.add_table(
        f"Where one Feast SDK call spends its time (cProfile own-time, batch 1; "
        f"{profiled_ms:.2f} ms per call under the profiler)",
        profile_rows,
    )

    serve_p99 = float(np.percentile(samples[("feast serve (HTTP)", 1)], 99))
    sdk1, http1 = (float(np.percentile(samples[(p, 1)], 50)) for p in ("Feast SDK", "feast serve (HTTP)"))
    fresh = float(np.percentile(samples[("SDK, new FeatureStore per call", 1)], 50))
    by_list = float(np.percentile(samples[("feast serve (HTTP), feature list", 1)], 50))
    shares = ", ".join(f"*{r['where']}* {r['share']}" for r in profile_rows[:4])
    redis_share = sum(
        float(r["share"].rstrip("%")) for r in profile_rows if r["where"].startswith(("socket wait", "redis-py"))
    )
    verdict = "meets" if serve_p99 < TARGET_SERVE_P99_MS else "misses"
    report.add_text(f"""
**Reading it.** The raw Redis pipeline is the floor: one round trip, no decoding. Under the profiler a
one-row SDK call splits into {shares}; Redis itself (socket wait plus redis-py) is about
{redis_share:.0f} % of it, the rest is Feast's Python: planning the request from the FeatureService,
encoding entity keys, converting protobuf values to Python, and running the on-demand view. On a busy
machine that socket wait is mostly waiting for a CPU (a process that just burned CPU in Python is
scheduled after idle ones), which is why the CPU-time table is the steadier measure of Feast's own
cost. Batching amortizes
the Python work: per entity row, 100 rows cost
{np.percentile(samples[("Feast SDK", 100)], 50) / 100:.3f} ms against {sdk1:.3f} ms for one. The HTTP
feature server adds JSON parsing and encoding, the ASGI stack and a loopback hop on top of the same
work ({http1 - sdk1:.2f} ms at p50 for one row). Building a FeatureStore per request costs
{fresh:.1f} ms at p50 (registry load, provider set-up): keep one open for the life of the process.
Over HTTP, naming the features instead of the service gave {by_list:.2f} ms against {http1:.2f} ms at
p50 for one row: Feast 0.67's server resolves a `feature_service` in a worker thread on every request,
one more thread hand-off (cheap on an idle machine, costly on a busy one). In the SDK the service is
cached and costs nothing extra; it remains the way a model pins its features.

**Target.** `feast serve` p99 for one row: {serve_p99:.2f} ms; the target is < {TARGET_SERVE_P99_MS:.0f} ms,
so this run **{verdict}** it on this machine. Tails on a shared 2-core machine are dominated by
scheduling noise; compare ratios between rows of the table rather than absolute numbers.
""")
    report.record("feast.bench.serve_p99_batch1_ms", serve_p99, "ms", target_ms=TARGET_SERVE_P99_MS)
