"""The lab's stream processor: user events in, real-time user features out (Redis, Feast, Kafka).

Run it as its own process (the lab's ``streaming.runner`` does this for you)::

    python -m streaming.processor --input-topic events --features-topic user-features \
        --dlq-topic events-dlq --group features-v1

What it does, per user (Kafka key = user_id, so one user's events stay in order on one partition):

1. parse and validate each record; a malformed one goes to the dead-letter topic with the reason;
2. drop a repeated ``event_id`` (producers retry, replays repeat): keyed state remembers recent ids;
3. keyed state: running purchase count and amount (the guide's Flink ``KeyedProcessFunction``);
4. event-time windows: clicks per 1-hour tumbling window and per 1-hour window hopping every
   15 minutes, with a grace period for late events; events later than that are dropped and their
   ids recorded;
5. writes the features to Redis (``streaming.keys`` layout, TTL, idempotent under replay), optionally
   pushes them to Feast, and emits them to the features topic.

With ``--guarantee exactly-once`` (the default) quixstreams wraps the outputs, the state changelog and
the consumed offsets of each checkpoint in one Kafka transaction: a crash never loses or double-applies
state, and ``read_committed`` consumers never see the outputs of the crashed attempt (notebook 08 shows
an aborted transaction staying invisible). The Redis sink does not rely on any of this: it is
idempotent on its own (``streaming.sinks``).

The windows' clock is per user: the newest click time seen for that user (quixstreams' default
per-key closing). ``streaming.windows`` restates these rules in plain Python; the tests hold the
processor to them.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from streaming import keys
from streaming.events import TS_FIELD, is_bad, parse_event

HOUR_MS = 3_600_000
log = logging.getLogger("streaming.processor")


@dataclass
class ProcessorConfig:
    input_topic: str
    features_topic: str
    dlq_topic: str
    group: str = "stream-features"
    key_prefix: str = keys.USER_KEY_PREFIX
    ttl_s: int = keys.STREAM_FEATURE_TTL_S
    window_ms: int = HOUR_MS
    hop_ms: int = 15 * 60 * 1000
    grace_ms: int = 15 * 60 * 1000
    dedupe_horizon_ms: int = 2 * HOUR_MS
    guarantee: str = "exactly-once"  # or "at-least-once"
    commit_interval_s: float = 0.2
    partitions: int = 4  # for the topics the processor creates (features, DLQ, changelogs)
    state_dir: str | None = None
    instance: str = "0"  # a second instance of the same group needs its own id (and state dir)
    feast_push_source: str | None = None  # e.g. "user_stream_push"; None = no Feast sink
    record_freshness: bool = True
    auto_offset_reset: str = "earliest"

    @property
    def metrics_prefix(self) -> str:
        """Redis namespace of this processor's bookkeeping (progress, late/duplicate ids, freshness)."""
        return f"stream:{self.group}:"

    def validate(self) -> None:
        for name in ("input_topic", "features_topic", "dlq_topic", "group"):
            if not getattr(self, name):
                raise ValueError(f"--{name.replace('_', '-')} is required and must not be empty")
        if len({self.input_topic, self.features_topic, self.dlq_topic}) != 3:
            raise ValueError("input, features and DLQ topics must be three different topics")
        if self.guarantee not in ("exactly-once", "at-least-once"):
            raise ValueError(f"guarantee {self.guarantee!r}: use exactly-once or at-least-once")
        if self.window_ms <= 0 or not 0 < self.hop_ms <= self.window_ms:
            raise ValueError(f"need window_ms > 0 and 0 < hop_ms <= window_ms (got {self.window_ms}, {self.hop_ms})")
        if self.grace_ms < 0:
            raise ValueError(f"grace_ms must be >= 0, got {self.grace_ms}")


# -- the per-user logic (a pure function of the event and the user's state; easy to test) ----------
def user_step(event: dict, state, dedupe_horizon_ms: int = 2 * HOUR_MS) -> dict | None:
    """One event for one user: drop it if its id was already seen, else update the running totals.

    All of a user's state lives under ONE state key (one read, one write per event):
    ``purchase_count``, ``purchase_amount``, ``last_event_ts`` (newest event time) and ``seen``
    (recent event ids, forgotten once they are ``dedupe_horizon_ms`` of event time old).
    Returns the feature update, or None for a duplicate delivery.
    """
    user = state.get("user") or {"purchase_count": 0, "purchase_amount": 0.0, "last_event_ts": 0, "seen": {}}
    seen = user["seen"]
    eid = event["event_id"]
    if eid in seen:
        return None
    ts = event[TS_FIELD]
    seen[eid] = ts
    newest = max(ts, user["last_event_ts"])
    if len(seen) > 64:  # keep the id set small: forget ids too old to be re-sent
        user["seen"] = {k: v for k, v in seen.items() if v >= newest - dedupe_horizon_ms}
    is_purchase = event["event_type"] == "purchase"
    if is_purchase:
        user["purchase_count"] += 1
        user["purchase_amount"] = round(user["purchase_amount"] + float(event["amount"]), 6)
    user["last_event_ts"] = newest
    state.set("user", user)
    return {
        "_group": "state",
        "_changed": is_purchase,
        "_user_id": event["user_id"],
        "_event_id": eid,
        "_event_type": event["event_type"],
        keys.PURCHASE_COUNT: user["purchase_count"],
        keys.PURCHASE_AMOUNT: user["purchase_amount"],
        keys.LAST_EVENT_TS: newest,
    }


def build_app(cfg: ProcessorConfig, settings=None, redis_factory=None):
    """The quixstreams Application with the whole pipeline wired in (not started)."""
    from quixstreams import Application
    from quixstreams.dataframe.windows import Count
    from quixstreams.models import TopicConfig

    from labkit.clients import confluent_config, redis_client
    from labkit.settings import get_settings
    from streaming.sinks import ProgressSink, RedisFeatureSink, feast_pusher

    cfg.validate()
    s = settings or get_settings()
    redis_factory = redis_factory or (lambda: redis_client(s))
    conf = confluent_config(s)
    state_dir = cfg.state_dir or str(s.home / "streaming" / cfg.group / f"state-{cfg.instance}")
    app = Application(
        broker_address=conf.pop("bootstrap.servers"),
        consumer_group=cfg.group,
        auto_offset_reset=cfg.auto_offset_reset,
        commit_interval=cfg.commit_interval_s,
        consumer_extra_config=conf,
        # A stable transactional.id: on restart, init_transactions fences the crashed instance and
        # aborts its open transaction (quixstreams' default is a random id per start, which leaves a
        # crashed transaction open until the broker times it out). One instance per group here.
        producer_extra_config={
            "linger.ms": 5,
            "transactional.id": f"{cfg.group}-{cfg.instance}",
            "transaction.timeout.ms": 30000,
        },
        processing_guarantee=cfg.guarantee,
        state_dir=state_dir,
        loglevel="WARNING",
        consumer_poll_timeout=0.2,
    )
    topic_cfg = TopicConfig(num_partitions=cfg.partitions, replication_factor=1)
    events = app.topic(cfg.input_topic, value_deserializer="bytes", key_deserializer="str", config=topic_cfg)
    features = app.topic(cfg.features_topic, value_serializer="json", key_serializer="str", config=topic_cfg)
    dlq = app.topic(cfg.dlq_topic, value_serializer="json", key_serializer="str", config=topic_cfg)

    r = redis_factory()
    late_key = f"{cfg.metrics_prefix}late_ids"
    dup_key = f"{cfg.metrics_prefix}duplicate_ids"

    def on_late(value, key, timestamp_ms, late_by_ms, start, end, store_name, topic, partition, offset) -> bool:
        # SADD is idempotent, so a replay after a crash cannot double-count a late drop
        r.sadd(late_key, value["event_id"])
        return False  # recorded here; no log line per late event

    feature_sink = RedisFeatureSink(
        redis_factory,
        input_topic=cfg.input_topic,
        key_prefix=cfg.key_prefix,
        ttl_s=cfg.ttl_s,
        metrics_prefix=cfg.metrics_prefix if cfg.record_freshness else None,
        on_flushed=feast_pusher(cfg.feast_push_source, _feast_store) if cfg.feast_push_source else None,
    )

    sdf = app.dataframe(events)
    sdf = sdf.apply(lambda raw: parse_event(raw))
    sdf.sink(ProgressSink(redis_factory, f"{cfg.metrics_prefix}progress:{cfg.input_topic}"))

    # 1. malformed records -> dead-letter topic, with the reason and where they came from
    bad = sdf.filter(is_bad).apply(_dlq_record, metadata=True)
    bad.to_topic(dlq)

    # 2. valid events, on event time; 3. keyed state: duplicates dropped, running purchase totals
    good = sdf.filter(lambda v: not is_bad(v))
    good = good.set_timestamp(lambda value, key, ts, headers: value[TS_FIELD])
    horizon = cfg.dedupe_horizon_ms

    def step(event, state):
        update = user_step(event, state, horizon)
        if update is None:
            r.sadd(dup_key, event["event_id"])  # idempotent: a replay re-adds the same id
        return update

    updates = good.apply(step, stateful=True).filter(lambda u: u is not None)
    updates.sink(feature_sink)
    updates.filter(lambda u: u["_changed"]).apply(_feature_message).to_topic(features)

    # 4. clicks per user in 1-hour event-time windows (tumbling, and hopping every hop_ms),
    #    final once end + grace has passed; a click later than that is dropped and its id recorded
    clicks = updates.filter(lambda u: u["_event_type"] == "click").apply(lambda u: {"event_id": u["_event_id"]})
    tumbling = (
        clicks.tumbling_window(cfg.window_ms, grace_ms=cfg.grace_ms, name="clicks_1h_tumbling", on_late=on_late)
        .agg(clicks=Count())
        .final()
        .apply(
            lambda w: {
                "_group": "tumbling",
                keys.CLICKS_1H: w["clicks"],
                keys.CLICKS_1H_START: w["start"],
                keys.CLICKS_1H_END: w["end"],
            }
        )
    )
    tumbling.sink(feature_sink)
    tumbling.apply(_feature_message, metadata=True).to_topic(features)

    hopping = (
        clicks.hopping_window(
            cfg.window_ms, cfg.hop_ms, grace_ms=cfg.grace_ms, name="clicks_1h_hopping", on_late=lambda *a, **k: False
        )
        .agg(clicks=Count())
        .final()
        .apply(
            lambda w: {
                "_group": "hopping",
                keys.CLICKS_1H_HOP: w["clicks"],
                keys.CLICKS_1H_HOP_START: w["start"],
                keys.CLICKS_1H_HOP_END: w["end"],
            }
        )
    )
    hopping.sink(feature_sink)
    hopping.apply(_feature_message, metadata=True).to_topic(features)
    return app


def _dlq_record(value: dict, key: Any, timestamp: int, headers: Any) -> dict:
    from quixstreams import message_context

    ctx = message_context()
    return {
        "reason": value["_error"],
        "raw": value["_raw"],
        "topic": ctx.topic,
        "partition": ctx.partition,
        "offset": ctx.offset,
        "kafka_ts": timestamp,
    }


def _feature_message(value: dict, key: Any = None, timestamp: int = 0, headers: Any = None) -> dict:
    out = {k: v for k, v in value.items() if not k.startswith("_")}
    out["feature_group"] = value["_group"]
    out["user_id"] = int(key) if key is not None else value.get("_user_id")
    if "_event_id" in value:
        out["event_id"] = value["_event_id"]
    return out


def _feast_store():
    from feature_repo import get_store  # provided by the lab's Feast project

    return get_store()


# -- command line ------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> ProcessorConfig:
    p = argparse.ArgumentParser(prog="python -m streaming.processor", description=__doc__.split("\n\n")[0])
    p.add_argument("--input-topic", required=True)
    p.add_argument("--features-topic", required=True)
    p.add_argument("--dlq-topic", required=True)
    p.add_argument("--group", default="stream-features", help="consumer group (and state / metrics namespace)")
    p.add_argument("--key-prefix", default=keys.USER_KEY_PREFIX)
    p.add_argument("--ttl-s", type=int, default=keys.STREAM_FEATURE_TTL_S)
    p.add_argument("--window-s", type=float, default=3600)
    p.add_argument("--hop-s", type=float, default=900)
    p.add_argument("--grace-s", type=float, default=900)
    p.add_argument("--guarantee", choices=["exactly-once", "at-least-once"], default="exactly-once")
    p.add_argument("--commit-interval-s", type=float, default=0.2)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--state-dir", default=None)
    p.add_argument("--instance", default="0", help="instance id within the group (a second instance needs its own)")
    p.add_argument("--feast-push-source", default=None, help="push keyed-state features to this Feast push source")
    p.add_argument("--no-freshness", action="store_true", help="do not record freshness samples in Redis")
    p.add_argument("--auto-offset-reset", choices=["earliest", "latest"], default="earliest")
    a = p.parse_args(argv)
    return ProcessorConfig(
        input_topic=a.input_topic,
        features_topic=a.features_topic,
        dlq_topic=a.dlq_topic,
        group=a.group,
        key_prefix=a.key_prefix,
        ttl_s=a.ttl_s,
        window_ms=int(a.window_s * 1000),
        hop_ms=int(a.hop_s * 1000),
        grace_ms=int(a.grace_s * 1000),
        guarantee=a.guarantee,
        commit_interval_s=a.commit_interval_s,
        partitions=a.partitions,
        state_dir=a.state_dir,
        instance=a.instance,
        feast_push_source=a.feast_push_source,
        record_freshness=not a.no_freshness,
        auto_offset_reset=a.auto_offset_reset,
    )


def _announce_ready(app, path: str, timeout: float = 120) -> None:
    tracker = getattr(app, "_run_tracker", None)  # quixstreams internals; fall back to a short delay
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (getattr(tracker, "running", False) if tracker else False):
        time.sleep(0.02)
        if tracker is None and time.monotonic() > deadline - timeout + 2:
            break
    with open(path, "w") as fh:
        fh.write(str(os.getpid()))


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=os.environ.get("STREAM_LOGLEVEL", "WARNING"), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        cfg = parse_args(argv)
        cfg.validate()
    except ValueError as exc:
        print(f"streaming.processor: {exc}", file=sys.stderr)
        return 2
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack to the log
    # quixstreams turns SIGTERM into a graceful stop (finish the checkpoint, commit, exit 0);
    # SIGKILL is the crash the lab injects. The ready file appears once the processing loop runs:
    # a SIGTERM that arrived earlier would be forgotten when Application.run() marks itself running.
    app = build_app(cfg)
    ready = os.environ.get("STREAM_READY_FILE")
    if ready:
        threading.Thread(target=_announce_ready, args=(app, ready), daemon=True).start()
    profile = os.environ.get("STREAM_PROFILE")  # a path: write a cProfile of the run there
    if profile:
        import cProfile

        prof = cProfile.Profile(time.process_time)  # CPU time: wall time lies on a busy machine
        try:
            prof.runcall(app.run)
        finally:
            prof.dump_stats(profile)
    else:
        app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
