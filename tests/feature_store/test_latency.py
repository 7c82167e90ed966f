"""Timing helpers and the feature server's request/response shapes (no stack needed)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from feature_repo import latency


def test_time_calls_measures_milliseconds_after_warmup():
    calls = []
    out = latency.time_calls(lambda: (calls.append(1), time.sleep(0.002)), n=5, warmup=2)
    assert len(calls) == 7 and out.shape == (5,)
    assert (out >= 1.9).all() and (out < 200).all()
    with pytest.raises(ValueError):
        latency.time_calls(lambda: None, n=0)


def test_summarize_percentiles():
    s = latency.summarize(np.arange(1, 101, dtype=float))
    assert s["p50_ms"] == pytest.approx(50.5) and s["p99_ms"] == pytest.approx(99.01) and s["n"] == 100


def test_rows_to_columns_and_back():
    rows = [{"user_id": 1, "offered_price": 2.0}, {"user_id": 3, "offered_price": 4.0}]
    assert latency.rows_to_columns(rows) == {"user_id": [1, 3], "offered_price": [2.0, 4.0]}
    with pytest.raises(ValueError, match="no entity rows"):
        latency.rows_to_columns([])
    answer = {
        "metadata": {"feature_names": ["user_id", "purchases_7d"]},
        "results": [{"values": [1, 3]}, {"values": [5, None]}],
    }
    assert latency.response_to_columns(answer) == {"user_id": [1, 3], "purchases_7d": [5, None]}
    with pytest.raises(ValueError, match="not a /get-online-features answer"):
        latency.response_to_columns({"detail": "Feature service not found"})


@pytest.mark.slow  # checks against Feast's own key helpers: importing Feast alone takes 5-9 s
def test_redis_layout_matches_feast():
    keys = latency.redis_keys("proj", "user_id", [1, 2])
    assert len(set(keys)) == 2 and all(k.endswith(b"proj") and b"user_id" in k for k in keys)
    fields = latency.redis_fields("user_stats", ["a", "b"])
    assert len(fields) == 3 and all(len(f) == 4 for f in fields[:2]) and fields[2] == b"_ts:user_stats"


def test_server_refuses_a_busy_port(tmp_path):
    import socket

    from labkit.settings import load_settings

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        settings = load_settings({"LAB_HOME": str(tmp_path), "LAB_FEAST_SERVE_PORT": str(port)})
        with pytest.raises(RuntimeError, match=f"port {port} .* already in use"):
            latency.FeastServer(settings).launch()
