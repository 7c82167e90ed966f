"""Where the processor's features go: an idempotent Redis sink, a progress marker, an optional Feast push.

quixstreams calls ``add()`` for every record and ``flush()`` at each checkpoint, BEFORE it commits
the consumed offsets. A crash between the two makes the processor re-read and re-emit those records
after a restart, so a sink must tolerate seeing an update twice. This one does, without trusting
anything but Redis itself: each feature hash stores, per input topic and feature group, the Kafka
offset of the last update it applied, and a Lua script (atomic in Redis) applies an update only if
its offset is newer. A replay after a crash is then a no-op, and a stale update can never overwrite
a fresher one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from quixstreams.sinks import BaseSink

from streaming import keys

log = logging.getLogger(__name__)

# KEYS[1] feature hash; ARGV[1] guard field; ARGV[2] offset; ARGV[3] ttl seconds; ARGV[4..] field, value...
APPLY_IF_NEWER = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and tonumber(cur) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], unpack(ARGV, 4))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""


def guard_field(topic: str, group: str) -> str:
    """The hash field holding the last applied offset of one feature group from one input topic."""
    return f"_off:{topic}:{group}"


class RedisFeatureSink(BaseSink):
    """Writes feature updates to ``<prefix><user_id>`` hashes, idempotently, with a TTL.

    Each record value is a dict with ``_group`` (which feature group it updates: "state",
    "tumbling", "hopping") and the hash fields to set. Within one checkpoint only the newest update
    per (user, group) is written: the older ones would be overwritten anyway.
    """

    def __init__(
        self,
        redis_factory: Callable[[], Any],
        *,
        input_topic: str,
        key_prefix: str = keys.USER_KEY_PREFIX,
        ttl_s: int = keys.STREAM_FEATURE_TTL_S,
        metrics_prefix: str | None = None,
        freshness_samples: int = 200_000,
        on_flushed: Callable[[list[dict]], None] | None = None,
    ):
        super().__init__()
        self._redis_factory = redis_factory
        self._redis = None
        self._script = None
        self.input_topic = input_topic
        self.key_prefix = key_prefix
        self.ttl_s = int(ttl_s)
        self.metrics_prefix = metrics_prefix
        self.freshness_samples = freshness_samples
        self.on_flushed = on_flushed
        self._pending: dict[tuple[str, str], tuple[int, dict]] = {}
        self.applied = 0  # updates Redis accepted (this process)
        self.skipped = 0  # updates Redis refused as already applied (replays)

    def setup(self):
        self._redis = self._redis_factory()
        self._redis.ping()
        self._script = self._redis.register_script(APPLY_IF_NEWER)

    def add(self, value: Any, key: Any, timestamp: int, headers: Any, topic: str, partition: int, offset: int):
        user = key.decode() if isinstance(key, bytes) else str(key)
        self._pending[(user, value["_group"])] = (offset, value)

    def flush(self):
        if not self._pending:
            return
        if self._redis is None:
            self.setup()
        pending, self._pending = self._pending, {}
        now_ms = int(time.time() * 1000)
        pipe = self._redis.pipeline(transaction=False)
        order = []
        for (user, group), (offset, value) in pending.items():
            args = [guard_field(self.input_topic, group), offset, self.ttl_s]
            for f, v in value.items():
                if not f.startswith("_"):
                    args += [f, v]
            args += [keys.UPDATED_TS, now_ms]
            self._script(keys=[keys.user_key(user, self.key_prefix)], args=args, client=pipe)
            order.append((user, group, value))
        results = pipe.execute()
        visible_ms = int(time.time() * 1000)
        applied = [v for (u, g, v), r in zip(order, results, strict=True) if r == 1]
        self.applied += len(applied)
        self.skipped += len(results) - len(applied)
        if self.metrics_prefix:
            # event time -> visible in Redis, for the keyed-state updates (one per user per flush)
            lags = [visible_ms - v[keys.LAST_EVENT_TS] for v in applied if v["_group"] == "state"]
            if lags:
                fkey = f"{self.metrics_prefix}freshness_ms"
                p = self._redis.pipeline(transaction=False)
                p.rpush(fkey, *lags)
                p.ltrim(fkey, -self.freshness_samples, -1)
                p.execute()
        if self.on_flushed and applied:
            self.on_flushed(applied)


class ProgressSink(BaseSink):
    """Records, per input partition, the highest offset whose effects are flushed.

    The lab's ``wait_for_offsets`` polls it to know when the processor has *flushed its effects*
    up to an offset, which the group's committed offsets alone do not say.
    """

    def __init__(self, redis_factory: Callable[[], Any], progress_key: str):
        super().__init__()
        self._redis_factory = redis_factory
        self._redis = None
        self.progress_key = progress_key
        self._offsets: dict[int, int] = {}

    def setup(self):
        self._redis = self._redis_factory()

    def add(self, value: Any, key: Any, timestamp: int, headers: Any, topic: str, partition: int, offset: int):
        self._offsets[partition] = offset

    def flush(self):
        if not self._offsets:
            return
        if self._redis is None:
            self.setup()
        offsets, self._offsets = self._offsets, {}
        self._redis.hset(self.progress_key, mapping={str(p): o for p, o in offsets.items()})


def feast_pusher(push_source: str, store_factory: Callable[[], Any]) -> Callable[[list[dict]], None]:
    """A callback pushing keyed-state updates to a Feast push source (online store).

    The push source's schema must have ``user_id``, ``purchase_count``, ``purchase_amount`` and
    ``event_timestamp``; extra fields are ignored by selecting only those columns.
    """
    import pandas as pd
    from feast.data_source import PushMode

    store = store_factory()

    def push(updates: list[dict]) -> None:
        rows = [u for u in updates if u["_group"] == "state"]
        if not rows:
            return
        df = pd.DataFrame(
            {
                "user_id": [int(r["_user_id"]) for r in rows],
                keys.PURCHASE_COUNT: [int(r[keys.PURCHASE_COUNT]) for r in rows],
                keys.PURCHASE_AMOUNT: [float(r[keys.PURCHASE_AMOUNT]) for r in rows],
                "event_timestamp": pd.to_datetime([r[keys.LAST_EVENT_TS] for r in rows], unit="ms", utc=True),
            }
        )
        store.push(push_source, df, to=PushMode.ONLINE)

    return push
