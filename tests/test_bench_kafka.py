"""The Kafka benchmark runs end to end in quick mode and records what it promises."""

from __future__ import annotations

import pytest

from labkit import bench
from labkit.settings import REPO_ROOT

pytestmark = [pytest.mark.stack, pytest.mark.slow]


def test_kafka_benchmark_quick_against_the_test_stack(lab_settings, tmp_path):
    path = REPO_ROOT / "benchmarks" / "bench_kafka.py"
    report_path, (outcome,) = bench.run_benchmarks(
        {"kafka": path}, lab_settings, tmp_path, quick=True, say=lambda *_: None
    )
    assert outcome.ok, outcome.error
    report = report_path.read_text()
    for row in ("| produce kafka-python |", "| consume confluent-kafka |", "produce→consume p50"):
        assert row in report, row
    recorded = {r["name"]: r for r in outcome.section.recorded}
    for name in (
        "kafka.produce.kafka_python.records_per_s",
        "kafka.consume.confluent_kafka.records_per_s",
        "kafka.produce_consume.p50_ms",
        "kafka.group_join.median_s",
        "kafka.broker.rss_mb",
    ):
        assert name in recorded, sorted(recorded)
    # generous sanity bounds only: the figures belong in the report
    assert recorded["kafka.produce_consume.p50_ms"]["value"] < 250, "a waiting fetch should answer on arrival"
    assert recorded["kafka.group_join.median_s"]["value"] < 10
    assert 50 < recorded["kafka.broker.rss_mb"]["value"] < 1024
    assert len(list(tmp_path.glob("*.png"))) == 1
