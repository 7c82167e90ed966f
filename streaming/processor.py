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

import faulthandler
import logging
import os
import signal
import sys
import threading
import time
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from labkit.cli_support import CommandError, command, parser
from streaming import keys
from streaming.events import TS_FIELD, is_bad, parse_event

HOUR_MS = 3_600_000
log = logging.getLogger("streaming.processor")


def _option(default: Any = MISSING, help: str = "", **cli: Any) -> Any:
    """A :class:`ProcessorConfig` field and its command-line flag (see :func:`cli_options`).

    ``cli`` may hold ``flag`` (default ``--<field-name>``), ``choices``, ``seconds=True`` (a ``*_ms``
    field given in seconds on the command line), ``negate=True`` (a boolean switched off by its
    flag, e.g. ``--no-freshness``) or ``flag=None`` (no flag).
    """
    return field(default=default, metadata={"help": help, **cli})


@dataclass
class ProcessorConfig:
    input_topic: str = _option(help="topic of the raw user events")
    features_topic: str = _option(help="topic the feature updates are emitted to")
    dlq_topic: str = _option(help="dead-letter topic for malformed records")
    group: str = _option("stream-features", "consumer group (and state / metrics namespace)")
    key_prefix: str = _option(keys.USER_KEY_PREFIX, "Redis key prefix of the user feature hashes")
    ttl_s: int = _option(keys.STREAM_FEATURE_TTL_S, "TTL of a user's feature hash in Redis (seconds)")
    window_ms: int = _option(HOUR_MS, "length of the click windows", flag="--window-s", seconds=True)
    hop_ms: int = _option(15 * 60 * 1000, "hop of the hopping click window", flag="--hop-s", seconds=True)
    grace_ms: int = _option(
        15 * 60 * 1000, "how late an event may be before it is dropped", flag="--grace-s", seconds=True
    )
    dedupe_horizon_ms: int = _option(2 * HOUR_MS, "how long an event id is remembered", flag=None)
    guarantee: str = _option("exactly-once", "processing guarantee", choices=("exactly-once", "at-least-once"))
    commit_interval_s: float = _option(0.2, "seconds between checkpoints (commits)")
    partitions: int = _option(4, "partitions of the topics the processor creates (features, DLQ, changelogs)")
    state_dir: str | None = _option(None, "state directory (default: under LAB_HOME/streaming/<group>)")
    instance: str = _option("0", "instance id within the group (a second instance needs its own)")
    feast_push_source: str | None = _option(None, "push keyed-state features to this Feast push source")
    record_freshness: bool = _option(
        True, "do not record freshness samples in Redis", flag="--no-freshness", negate=True
    )
    auto_offset_reset: str = _option("earliest", "where a new group starts reading", choices=("earliest", "latest"))

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
def cli_options() -> list[tuple[str, str, dict[str, Any]]]:
    """``(field name, flag, argparse keywords)`` for every :class:`ProcessorConfig` field that has a flag."""
    hints = typing.get_type_hints(ProcessorConfig)
    out = []
    for f in fields(ProcessorConfig):
        meta = f.metadata
        flag = meta.get("flag", "--" + f.name.replace("_", "-"))
        if flag is None:
            continue
        kw: dict[str, Any] = {"help": meta.get("help") or None, "dest": flag[2:].replace("-", "_")}
        if meta.get("negate"):
            kw["action"] = "store_true"
        else:
            kind = next((a for a in typing.get_args(hints[f.name]) if a is not type(None)), hints[f.name])
            kind = float if meta.get("seconds") else kind
            kw["type"] = kind
            if f.default is MISSING:
                kw["required"] = True
            else:
                kw["default"] = f.default / 1000 if meta.get("seconds") else f.default
            if "choices" in meta:
                kw["choices"] = list(meta["choices"])
        out.append((f.name, flag, kw))
    return out


def command_line(**options: Any) -> list[str]:
    """The flags for ``options`` named like the flags (``grace_s=600`` -> ``--grace-s 600``,
    ``no_freshness=True`` -> ``--no-freshness``); None and False leave a flag out."""
    flags = {kw["dest"]: flag for _, flag, kw in cli_options()}
    unknown = sorted(set(options) - set(flags))
    if unknown:
        raise TypeError(f"unknown stream processor option(s) {unknown}; use: {', '.join(sorted(flags))}")
    args: list[str] = []
    for name, value in options.items():
        if value is True:
            args.append(flags[name])
        elif value not in (None, False):
            args += [flags[name], str(value)]
    return args


def parse_args(argv: list[str] | None = None) -> ProcessorConfig:
    p = parser("python -m streaming.processor", __doc__.split("\n\n")[0])
    options = cli_options()
    for _, flag, kw in options:
        p.add_argument(flag, **kw)
    a = p.parse_args(argv)
    values = {}
    for name, _, kw in options:
        value = getattr(a, kw["dest"])
        meta = ProcessorConfig.__dataclass_fields__[name].metadata
        if meta.get("negate"):
            value = not value
        elif meta.get("seconds"):
            value = int(value * 1000)
        values[name] = value
    return ProcessorConfig(**values)


def _announce_ready(app, path: str, timeout: float = 120) -> None:
    tracker = getattr(app, "_run_tracker", None)  # quixstreams internals; fall back to a short delay
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (getattr(tracker, "running", False) if tracker else False):
        time.sleep(0.02)
        if tracker is None and time.monotonic() > deadline - timeout + 2:
            break
    with open(path, "w") as fh:
        fh.write(str(os.getpid()))


@command("streaming.processor")
def main(argv: list[str] | None = None) -> int:
    from labkit.settings import get_settings

    s = get_settings()  # STREAM_LOGLEVEL, STREAM_READY_FILE, STREAM_PROFILE; a bad one is one line from @command
    logging.basicConfig(level=s.stream_loglevel, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = parse_args(argv)
    try:
        cfg.validate()
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1 <pid>` prints every thread's stack to the log
    # quixstreams turns SIGTERM into a graceful stop (finish the checkpoint, commit, exit 0);
    # SIGKILL is the crash the lab injects. The ready file appears once the processing loop runs:
    # a SIGTERM that arrived earlier would be forgotten when Application.run() marks itself running.
    app = build_app(cfg, s)
    if s.stream_ready_file:
        threading.Thread(target=_announce_ready, args=(app, str(s.stream_ready_file)), daemon=True).start()
    profile = s.stream_profile  # a path: write a cProfile of the run there
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
