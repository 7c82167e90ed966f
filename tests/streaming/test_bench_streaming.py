"""The streaming benchmark runs end to end in quick mode and reports what it promises."""

from __future__ import annotations

import pytest

from labkit import bench
from labkit.settings import REPO_ROOT

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def test_streaming_benchmark_quick_against_the_test_stack(lab_settings, tmp_path):
    path = REPO_ROOT / "benchmarks" / "bench_streaming.py"
    report_path, (outcome,) = bench.run_benchmarks(
        {"streaming": path}, lab_settings, tmp_path, quick=True, say=lambda *_: None
    )
    assert outcome.ok, outcome.error
    report = report_path.read_text()
    for row in ("| kafka-python, raw consume (no processing) |", "| stream processor (exactly-once) |"):
        assert row in report, row
    recorded = {(r["name"], r["context"].get("rate")) for r in outcome.section.recorded}
    assert {
        ("stream.raw_consume.events_per_s", None),
        ("stream.throughput.events_per_s", None),
        ("stream.freshness.p50_ms", 300),
        ("stream.freshness.p99_ms", 300),
    } <= recorded
    for r in outcome.section.recorded:  # generous sanity bounds only: numbers belong in the report
        assert 0 < r["value"] < 10**7, r
    assert len(list(tmp_path.glob("*.png"))) == 1
