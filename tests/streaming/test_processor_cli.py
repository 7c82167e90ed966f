"""The stream processor's command line is generated from ProcessorConfig's fields."""

from __future__ import annotations

import dataclasses

import pytest

from streaming.processor import ProcessorConfig, cli_options, command_line, parse_args

TOPICS = ["--input-topic", "ev", "--features-topic", "feat", "--dlq-topic", "dlq"]


def test_defaults_are_the_configs_defaults():
    assert parse_args(TOPICS) == ProcessorConfig("ev", "feat", "dlq")


def test_every_flag_keeps_its_name_and_meaning():
    cfg = parse_args(
        TOPICS
        + ["--group", "g", "--key-prefix", "k:", "--ttl-s", "5", "--window-s", "60", "--hop-s", "15.5"]
        + ["--grace-s", "0", "--guarantee", "at-least-once", "--commit-interval-s", "1", "--partitions", "2"]
        + ["--state-dir", "/tmp/s", "--instance", "1", "--feast-push-source", "p", "--no-freshness"]
        + ["--auto-offset-reset", "latest"]
    )
    assert cfg == ProcessorConfig(
        "ev", "feat", "dlq", group="g", key_prefix="k:", ttl_s=5, window_ms=60_000, hop_ms=15_500, grace_ms=0,
        guarantee="at-least-once", commit_interval_s=1.0, partitions=2, state_dir="/tmp/s", instance="1",
        feast_push_source="p", record_freshness=False, auto_offset_reset="latest",
    )  # fmt: skip


def test_every_field_has_a_flag_unless_it_opts_out():
    flagged = {name for name, _, _ in cli_options()}
    assert {f.name for f in dataclasses.fields(ProcessorConfig)} - flagged == {"dedupe_horizon_ms"}


@pytest.mark.parametrize("argv", [TOPICS[:2], TOPICS + ["--guarantee", "maybe"], TOPICS + ["--ttl-s", "x"]])
def test_bad_command_lines_are_refused(argv):
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_command_line_round_trips_and_refuses_unknown_options():
    argv = command_line(input_topic="ev", features_topic="feat", dlq_topic="dlq", grace_s=600, no_freshness=True)
    assert argv == TOPICS + ["--grace-s", "600", "--no-freshness"]
    assert parse_args(argv).grace_ms == 600_000
    with pytest.raises(TypeError, match="unknown stream processor option"):
        command_line(grace=600)
