"""Fixtures for the pipeline tests: one Spark session, the small world, the test stack's settings."""

from __future__ import annotations

import uuid

import pytest


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
def pipe_settings(lab_settings):
    """The test stack's settings (the root conftest starts the stack)."""
    return lab_settings


@pytest.fixture(scope="session")
def raw_lake(pipe_settings, world):
    """The small world written to the test stack's raw lake (once per session)."""
    from pipelines.lake import ensure_raw_lake

    return ensure_raw_lake(world, pipe_settings)


@pytest.fixture
def unique_uri(pipe_settings):
    return pipe_settings.lake_uri("tests", "pipelines", uuid.uuid4().hex[:10])
