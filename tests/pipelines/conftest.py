"""Fixtures for the pipeline tests: one Spark session, the raw lake, a unique lake URI (the small
world and the test stack's settings are the root conftest's ``small_world`` and ``lab_settings``).

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
def raw_lake(lab_settings, small_world):
    """The small world written to the test stack's raw lake (once per session)."""
    from pipelines.lake import ensure_raw_lake

    return ensure_raw_lake(small_world, lab_settings)


@pytest.fixture
def unique_uri(lab_settings):
    return lab_settings.lake_uri("tests", "pipelines", uuid.uuid4().hex[:10])
