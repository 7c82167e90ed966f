"""labkit.settings: defaults, LAB_PORT_OFFSET, per-service and endpoint overrides, .env, bad values."""

from __future__ import annotations

import ast
import dataclasses
import os
import subprocess
import sys

import pytest

from labkit.settings import DEFAULT_PORTS, load_settings


@pytest.fixture(autouse=True)
def no_env_file(monkeypatch):
    """Only what each test passes counts: no .env from the repository."""
    monkeypatch.setenv("LAB_ENV_FILE", os.devnull)


def test_defaults_are_the_standard_local_endpoints():
    s = load_settings({})
    assert s.ports == DEFAULT_PORTS
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.redis_url == "redis://127.0.0.1:6379/0"
    assert s.s3_endpoint == "http://127.0.0.1:9000"
    assert s.stack == "auto" and s.port_offset == 0
    assert s.buckets == ("lake",)


def test_offset_shifts_every_port_and_endpoint():
    s = load_settings({"LAB_PORT_OFFSET": "20000"})
    assert s.ports == {name: port + 20000 for name, port in DEFAULT_PORTS.items()}
    assert s.kafka_host_port == ("127.0.0.1", 29092)
    assert s.redis_host_port == ("127.0.0.1", 26379)
    assert s.s3_host_port == ("127.0.0.1", 29000)
    assert s.url("jupyter", "/lab") == "http://127.0.0.1:28888/lab"


def test_a_service_port_wins_over_the_offset():
    s = load_settings({"LAB_PORT_OFFSET": "1000", "LAB_REDIS_PORT": "7777"})
    assert s.ports["redis"] == 7777 and s.redis_url == "redis://127.0.0.1:7777/0"
    assert s.ports["kafka"] == 10092


def test_full_endpoints_win_over_host_and_port():
    s = load_settings(
        {
            "LAB_KAFKA_BOOTSTRAP": "broker-1.example:9093,broker-2.example:9093",
            "LAB_REDIS_URL": "redis://cache.example:6380/2",
            "LAB_S3_ENDPOINT": "https://s3.example",
        }
    )
    assert s.kafka_host_port == ("broker-1.example", 9093)
    assert s.redis_host_port == ("cache.example", 6380)
    assert s.s3_host_port == ("s3.example", 443)


def test_host_moves_every_default_endpoint():
    s = load_settings({"LAB_HOST": "10.0.0.5"})
    assert s.kafka_bootstrap == "10.0.0.5:9092" and s.s3_endpoint == "http://10.0.0.5:9000"


def test_env_file_is_read_and_the_environment_wins_over_it(tmp_path, monkeypatch):
    env_file = tmp_path / "lab.env"
    env_file.write_text("LAB_PORT_OFFSET=300\nLAB_BUCKET_LAKE=from-file\n")
    monkeypatch.setenv("LAB_ENV_FILE", str(env_file))
    s = load_settings({"LAB_BUCKET_LAKE": "from-env"})
    assert s.port_offset == 300 and s.bucket_lake == "from-env"


def test_lab_home_sets_every_state_path(tmp_path):
    s = load_settings({"LAB_HOME": str(tmp_path / "state")})
    assert s.home == (tmp_path / "state").resolve()
    assert s.run_dir == s.home / "run" and s.log_dir == s.home / "logs" and s.data_dir == s.home / "data"
    assert s.results_file == s.home / "results.jsonl"


def test_secret_is_masked_in_the_table():
    rows = dict(load_settings({"LAB_S3_SECRET_KEY": "supersecret"}).as_table())
    assert rows["s3_secret_key"] == "su*********"
    assert "supersecret" not in str(rows)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"LAB_PORT_OFFSET": "abc"}, "LAB_PORT_OFFSET='abc' is not an integer"),
        ({"LAB_REDIS_PORT": "6379x"}, "LAB_REDIS_PORT='6379x' is not an integer"),
        ({"LAB_PORT_OFFSET": "60000"}, "ports out of range 1024-65535"),
        ({"LAB_PORT_OFFSET": "-9000"}, "ports out of range 1024-65535"),
        ({"LAB_KAFKA_PORT": "6379"}, "share port(s) [6379]"),
        ({"LAB_STACK": "kubernetes"}, "LAB_STACK='kubernetes': use auto, docker or embedded"),
        ({"LAB_KAFKA_SESSION_TIMEOUT_MS": "soon"}, "LAB_KAFKA_SESSION_TIMEOUT_MS='soon' is not an integer"),
        ({"LAB_SERVING_CACHE_TTL_S": "1m"}, "LAB_SERVING_CACHE_TTL_S='1m' is not a number"),
        ({"LAB_SERVING_CACHE": "maybe"}, "LAB_SERVING_CACHE='maybe' is not on or off"),
        ({"LAB_SERVING_SEED": "x"}, "LAB_SERVING_SEED='x' is not an integer"),
        ({"LAB_PIPELINE_RETRY_DELAY_S": "soon"}, "LAB_PIPELINE_RETRY_DELAY_S='soon' is not a number"),
        ({"STREAM_LOGLEVEL": "loud"}, "STREAM_LOGLEVEL='loud' is not a log level"),
    ],
)
def test_bad_values_give_clear_errors(env, message):
    with pytest.raises(ValueError) as err:
        load_settings(env)
    assert message in str(err.value)


def test_service_knobs_come_from_the_env_file_too(tmp_path, monkeypatch):
    from serving.config import ServingConfig

    env_file = tmp_path / "lab.env"
    env_file.write_text(
        "LAB_SERVING_MAX_STREAM_AGE_S=4\nLAB_SERVING_CACHE=off\nLAB_JUPYTER_TOKEN=from-file\n"
        "LAB_PIPELINE_RETRY_DELAY_S=7\nSTREAM_LOGLEVEL=debug\n"
    )
    monkeypatch.setenv("LAB_ENV_FILE", str(env_file))
    s = load_settings({"LAB_SERVING_CACHE": "on", "LAB_HOME": str(tmp_path / "home")})
    assert s.env_file == env_file
    assert s.serving_max_stream_age_s == 4.0 and s.serving_cache is True  # the environment wins
    assert s.jupyter_token == "from-file" and s.pipeline_retry_delay_s == 7.0 and s.stream_loglevel == "DEBUG"
    cfg = ServingConfig.from_env(s)
    assert cfg.max_stream_age_s == 4.0 and cfg.cache_enabled
    assert cfg.served_log == s.home / "serving" / "served_features.jsonl"
    assert dict(s.as_table())["jupyter_token"] == "fr*******"


def test_the_defaults_of_the_service_knobs_are_the_services_defaults():
    from serving.config import ServingConfig

    s = load_settings({})
    assert ServingConfig.from_env(s) == ServingConfig(served_log=s.home / "serving" / "served_features.jsonl")
    assert s.jupyter_token == "" and s.stream_ready_file is None and s.airflow_retry_delay_s == 300.0


def test_child_env_round_trips_settings_that_are_not_the_environments(tmp_path):
    s = dataclasses.replace(
        load_settings({"LAB_PORT_OFFSET": "300", "LAB_REDIS_PORT": "7777"}),
        home=tmp_path / "home",
        s3_secret_key="another-secret",
        serving_cache=False,
        serving_log=tmp_path / "served.jsonl",
        lake_read_mode="s3a",
    )
    env = s.child_env()
    assert env["LAB_REDIS_PORT"] == "7777" and env["LAB_SERVING_CACHE"] == "off"
    assert load_settings(env) == s


def test_a_child_process_resolves_the_same_settings(tmp_path):
    """What serving, streaming and Airflow hand their children: the child's get_settings() agrees."""
    s = dataclasses.replace(
        load_settings({"LAB_PORT_OFFSET": "400"}), home=tmp_path / "home", serving_max_stream_age_s=4.0
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LAB_", "STREAM_"))}
    base["LAB_KAFKA_PORT"] = "1234"  # a stray variable of the parent's environment loses to child_env()
    code = "from labkit.settings import get_settings; print(repr(get_settings().child_env()))"
    out = subprocess.run(
        [sys.executable, "-c", code], env={**base, **s.child_env()}, capture_output=True, text=True, check=True
    )
    assert ast.literal_eval(out.stdout) == s.child_env()
