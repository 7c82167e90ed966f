"""A workaround for one tansu 0.6 bug that breaks quixstreams' state recovery after a crash.

tansu answers a ListOffsets/watermark query with ``base offset of the LAST record batch + 1``
instead of ``last offset + 1``. With one record per batch the two agree; with a batch of many
records the reported high watermark is too low. quixstreams reads its changelog's high watermark
when a partition is assigned: if it is lower than the changelog offset its local state store
already holds, it refuses to start (``InvalidStoreChangelogOffset``); if a store must be rebuilt,
it would stop reading the changelog too early.

:func:`true_watermarks` corrects the answer by reading the last batch itself; on a broker that
answers right (Apache Kafka) it changes nothing, because it only ever raises the high watermark
to one past a record it actually read.
"""
from __future__ import annotations

import time
from typing import Any


def true_watermarks(conf: dict[str, Any], topic: str, partition: int, reported: tuple[int, int],
                    timeout: float = 5.0) -> tuple[int, int]:
    """``(low, high)`` with ``high`` raised to one past the last record actually present."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    low, high = reported
    if high <= max(low, 0):
        return reported
    c = Consumer({**conf, "group.id": "lab-watermark-probe", "enable.auto.commit": False,
                  "enable.partition.eof": True, "isolation.level": "read_uncommitted"})
    last = high - 1
    try:
        c.assign([TopicPartition(topic, partition, high - 1)])  # the last batch starts here
        deadline = time.monotonic() + timeout
        got = False
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is None:
                if got:
                    break
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    break
                continue
            got = True
            last = max(last, m.offset())
    finally:
        c.close()
    return low, max(high, last + 1)


def patch_quixstreams_changelog_watermarks(conf: dict[str, Any]) -> None:
    """Make quixstreams read corrected watermarks for its changelog topics (idempotent)."""
    from quixstreams.kafka.consumer import BaseConsumer

    if getattr(BaseConsumer.get_watermark_offsets, "_lab_patched", False):
        return
    original = BaseConsumer.get_watermark_offsets

    def get_watermark_offsets(self, partition, timeout=None, cached=False):
        lo, hi = original(self, partition, timeout=timeout, cached=cached)
        if cached or not partition.topic.startswith("changelog__"):
            return lo, hi
        return true_watermarks(conf, partition.topic, partition.partition, (lo, hi))

    get_watermark_offsets._lab_patched = True
    BaseConsumer.get_watermark_offsets = get_watermark_offsets
