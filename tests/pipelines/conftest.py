"""Fixtures for the pipeline tests: one Spark session, the small world, the test stack's settings.

Every test that uses the ``spark`` fixture is marked ``spark`` here (it boots a JVM), so
``make test-quick`` (``-m "... and not spark"``) runs without Java.
"""

from __future__ import annotations

import uuid

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Runs before pytest's own -m deselection (conftest hooks are called before built-in plugins).
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """The job's Spark session, with its scratch and warehouse dirs (``<home>/spark-tmp``,
    ``<home>/spark-warehouse``) under pytest's temp dir rather than the learner's LAB_HOME."""
    import dataclasses

    from labkit.settings import get_settings
    from pipelines.steps import job_spark_session

    session = job_spark_session(dataclasses.replace(get_settings(), home=tmp_path_factory.mktemp("spark-home")))
    yield session
    session.stop()


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """The small world (seed 42), under pytest's temp dir: never the learner's LAB_HOME, with or
    without a test stack. The folder is shared, so other fixtures that ask for the same world in
    ``<basetemp>/worlds`` load it instead of generating it again."""
    from data_generators import ensure_world

    return ensure_world("small", 42, data_dir=tmp_path_factory.getbasetemp() / "worlds")


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
