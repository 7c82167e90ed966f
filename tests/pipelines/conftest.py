"""Fixtures for the pipeline tests: one Spark session, the small world, the test stack's settings."""
from __future__ import annotations

import socket
import uuid

import pytest


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def spark():
    from pipelines.steps import job_spark_session

    session = job_spark_session()
    yield session
    session.stop()


@pytest.fixture(scope="session")
def world():
    from data_generators import ensure_world

    return ensure_world("small", 42)


@pytest.fixture(scope="session")
def pipe_settings(request):
    """The test stack's settings (the root ``lab_settings`` fixture when present, else the environment's)."""
    try:
        return request.getfixturevalue("lab_settings")
    except pytest.FixtureLookupError:
        from labkit.settings import get_settings

        s = get_settings()
        for name, (host, port) in {"S3": s.s3_host_port, "Redis": s.redis_host_port}.items():
            if not _reachable(host, port):
                pytest.fail(f"{name} is not answering on {host}:{port}: start the stack (`python -m labkit up`) "
                            f"with the same LAB_PORT_OFFSET ({s.port_offset}) before the pipeline stack tests")
        return s


@pytest.fixture(scope="session")
def raw_lake(pipe_settings, world):
    """The small world written to the test stack's raw lake (once per session)."""
    from pipelines.lake import ensure_raw_lake

    return ensure_raw_lake(world, pipe_settings)


@pytest.fixture
def unique_uri(pipe_settings):
    return pipe_settings.lake_uri("tests", "pipelines", uuid.uuid4().hex[:10])
