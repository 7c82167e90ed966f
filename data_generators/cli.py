"""`labdata`: generate the synthetic world, write it to the lake, replay it into Kafka.

    labdata generate --scale small --seed 42 [--days N] [--start YYYY-MM-DD | --end YYYY-MM-DD]
                     [--if-missing] [--force] [--to local,s3,delta] [--no-traps]
    labdata replay --topic T [--rate 1000 | --speedup 60] [--limit N] [--malformed] [--client confluent]
    labdata info

Bad arguments and unreachable services get ONE line on stderr naming the fix, exit code 2 (the
lab's command-line style: labkit/cli_support.py), and nothing is written: arguments and the stack
are checked before any file is touched, and the local world is generated into a temporary folder
that is renamed into place only when complete.
"""

from __future__ import annotations

import argparse
import json
import time

from labkit.cli_support import UsageError, command, parser
from labkit.settings import get_settings

TARGETS = ("local", "s3", "delta")


def _parser() -> argparse.ArgumentParser:
    p = parser("labdata", "The lab's synthetic e-commerce world (see data_generators/SCHEMA.md).")
    sub = p.add_subparsers(dest="command")

    g = sub.add_parser("generate", help="generate the world (local Parquet) and optionally write it to S3 / Delta")
    _world_args(g)
    g.add_argument("--days", type=_int("--days"), help="days to simulate (default 28)")
    g.add_argument("--start", help="first day, YYYY-MM-DD (default 2026-01-05)")
    g.add_argument("--end", help="first day NOT simulated, YYYY-MM-DD (instead of --days)")
    g.add_argument(
        "--no-traps", action="store_true", help="no drift, late events, duplicates, nulls, malformed or bad batch"
    )
    g.add_argument(
        "--if-missing", action="store_true", help="do nothing when this world is already on disk (fast no-op)"
    )
    g.add_argument("--force", action="store_true", help="regenerate even if the world is already on disk")
    g.add_argument(
        "--to",
        default="local",
        help="where to write: comma list of local,s3,delta (default local; "
        "local is always written, s3 = raw lake s3://<lake>/raw/, delta = s3://<lake>/delta/)",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bars")

    r = sub.add_parser("replay", help="produce the world's raw events to a Kafka topic as JSON (key = user_id)")
    _world_args(r)
    r.add_argument("--topic", required=True, help="Kafka topic (created with 3 partitions if missing)")
    r.add_argument("--rate", type=_float("--rate"), help="records per second (default: as fast as possible)")
    r.add_argument(
        "--speedup",
        type=_float("--speedup"),
        help="follow the events' arrival clock X times faster than real time (1 = real time)",
    )
    r.add_argument("--limit", type=_int("--limit"), help="replay only the first N events (arrival order)")
    r.add_argument("--malformed", action="store_true", help="mix the malformed records into the stream")
    r.add_argument("--partitions", type=_int("--partitions"), default=3, help="partitions if the topic is created")
    r.add_argument("--client", default="kafka-python", help="kafka-python (default) or confluent (faster)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("info", help="where worlds live, which are on disk, and the scales")
    return p


def _world_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", default="small", help="small (tests, ~65k events), medium (~10x) or large (~100x)")
    p.add_argument("--seed", type=_int("--seed"), default=42, help="random seed (default 42)")


def _int(flag: str):
    def conv(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} {text!r} is not a whole number") from None

    return conv


def _float(flag: str):
    def conv(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} {text!r} is not a number") from None

    return conv


def _config(args):
    from data_generators.config import ConfigError, make_config

    knobs = {}
    if getattr(args, "start", None):
        knobs["start"] = args.start
    if getattr(args, "days", None) is not None:
        knobs["days"] = args.days
    if getattr(args, "end", None):
        knobs["end"] = args.end
    if getattr(args, "no_traps", False):
        knobs["traps"] = False
    try:
        return make_config(args.scale, args.seed, **knobs)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _require(services, settings) -> None:
    from data_generators.stack_check import StackUnavailable, require_stack

    try:
        require_stack(*services, settings=settings)
    except StackUnavailable as exc:
        raise UsageError(str(exc)) from None


def cmd_generate(args) -> int:
    config = _config(args)
    targets = [t.strip() for t in args.to.split(",") if t.strip()]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise UsageError(f"--to {args.to!r}: use a comma list of {', '.join(TARGETS)} (e.g. --to local,s3,delta)")
    if args.if_missing and args.force:
        raise UsageError("--if-missing and --force contradict each other: pick one")
    settings = get_settings()  # a bad setting is one line from @command
    from data_generators.paths import manifest_matches, world_dir

    target_dir = world_dir(config, settings.data_dir)
    if args.if_missing and manifest_matches(target_dir, config):
        print(f"labdata: world {config.config_id()} already present in {target_dir} (nothing to do)")
        return 0
    remote = [t for t in targets if t in ("s3", "delta")]
    if remote:
        _require(["s3"], settings)  # before generating anything
    from data_generators.world import ensure_world

    t0 = time.perf_counter()
    existed = manifest_matches(target_dir, config) and not args.force
    world = ensure_world(config, data_dir=settings.data_dir, force=args.force, progress=not args.quiet)
    rows = world.manifest["rows"]
    how = "loaded" if existed else "generated"
    elapsed = time.perf_counter() - t0
    print(f"labdata: {how} world {config.config_id()} in {elapsed:.1f} s -> {target_dir}")
    if not existed:
        from labkit.results import record

        record("data.generate_world_s", elapsed, "s", source="labdata", settings=settings, scale=config.scale,
               seed=config.seed, days=config.days, events=rows["events"])  # fmt: skip
    order = ["users", "products", "events", "raw_events", "malformed", "user_features", "product_features", "labels"]
    print("  " + ", ".join(f"{k} {rows[k]:,}" for k in order if k in rows))
    if "s3" in targets:
        from data_generators.writers import write_raw_lake

        t1 = time.perf_counter()
        out = write_raw_lake(world, settings, progress=not args.quiet)
        record_s = time.perf_counter() - t1
        from labkit.results import record

        record("data.write_raw_lake_s", record_s, "s", source="labdata", settings=settings, scale=config.scale,
               files=out["files"], rows=out["rows"])  # fmt: skip
        print(f"  raw lake: {out['files']} files, {out['rows']:,} raw events -> {out['uri']}/ in {record_s:.1f} s")
    if "delta" in targets:
        from data_generators.writers import write_delta_tables

        t1 = time.perf_counter()
        out = write_delta_tables(world, settings, progress=not args.quiet)
        print(f"  delta: {', '.join(out.values())} in {time.perf_counter() - t1:.1f} s")
    return 0


def cmd_replay(args) -> int:
    config = _config(args)
    if args.rate is not None and args.rate <= 0:
        raise UsageError(f"--rate {args.rate:g}: use a positive number of records per second (or leave it out)")
    if args.speedup is not None and args.speedup <= 0:
        raise UsageError(
            f"--speedup {args.speedup:g}: use a positive factor (1 = real time, 3600 = an hour per second)"
        )
    if args.rate is not None and args.speedup is not None:
        raise UsageError("--rate and --speedup both set: pick one (a fixed rate, or the events' own clock sped up)")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit {args.limit}: use a positive number of events (or leave it out for all)")
    if args.partitions < 1:
        raise UsageError(f"--partitions {args.partitions}: use 1 or more")
    if args.client not in ("kafka-python", "confluent"):
        raise UsageError(f"--client {args.client!r}: use kafka-python or confluent")
    if not args.topic.strip() or any(c.isspace() for c in args.topic):
        raise UsageError(f"--topic {args.topic!r}: use a name without spaces, e.g. --topic events-raw")
    settings = get_settings()
    _require(["kafka"], settings)
    from data_generators.world import ensure_world
    from data_generators.writers import replay_to_kafka

    world = ensure_world(config, data_dir=settings.data_dir, progress=not args.quiet)
    res = replay_to_kafka(world, args.topic, rate=args.rate, speedup=args.speedup, limit=args.limit,
                          include_malformed=args.malformed, partitions=args.partitions, client=args.client,
                          settings=settings, progress=not args.quiet)  # fmt: skip
    from labkit.results import record

    record("data.kafka_replay_rate", res.rate, "records/s", source="labdata", settings=settings,
           scale=config.scale, mode=res.mode, client=args.client, records=res.sent)  # fmt: skip
    print(
        f"labdata: replayed {res.sent:,} records ({res.events:,} events, {res.malformed} malformed, "
        f"{res.failed} failed) to {res.topic} in {res.seconds:.1f} s = {res.rate:,.0f} records/s ({res.mode})"
    )
    return 0 if res.failed == 0 else 1


def cmd_info(args) -> int:
    from data_generators.config import SCALES
    from data_generators.paths import world_root

    settings = get_settings()
    root = world_root(settings.data_dir)
    print(f"worlds live in {root}")
    found = sorted(p for p in root.glob("*/manifest.json")) if root.is_dir() else []
    for m in found:
        manifest = json.loads(m.read_text())
        size = sum(f.stat().st_size for f in m.parent.iterdir() if f.is_file())
        rows = manifest["rows"]
        print(
            f"  {m.parent.name:<28} events {rows['events']:>11,}  users {rows['users']:>7,}  "
            f"{size / 1e6:8.1f} MB  start {manifest['config']['start']}, {manifest['config']['days']} days"
        )
    if not found:
        print("  (none yet: run `labdata generate --scale small`)")
    print("scales: " + "; ".join(f"{k}: {v.n_users:,} users, {v.n_products:,} products" for k, v in SCALES.items()))
    print(
        f"lake: s3://{settings.bucket_lake}/raw/ and s3://{settings.bucket_lake}/delta/ on {settings.s3_endpoint}; "
        f"kafka {settings.kafka_bootstrap}"
    )
    return 0


COMMANDS = {"generate": cmd_generate, "replay": cmd_replay, "info": cmd_info}


@command("labdata", interrupted=" (the local world folder is either complete or absent)")
def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.command:
        raise UsageError("give a command: generate, replay or info (see `labdata --help`)")
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
