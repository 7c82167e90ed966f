"""Fixtures for the streaming tests: the stack's settings and a small synthetic world."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="session")
def stream_settings(lab_settings):
    """The test stack's settings (the root conftest starts the stack)."""
    return lab_settings


@pytest.fixture(scope="session")
def world_small(tmp_path_factory):
    """The small world (seed 42), under pytest's temp dir, never the learner's LAB_HOME: the same
    ``<basetemp>/worlds`` folder as the pipelines' ``world`` fixture, so it is generated once."""
    from data_generators import ensure_world

    return ensure_world("small", 42, data_dir=tmp_path_factory.getbasetemp() / "worlds")


@pytest.fixture
def run_id():
    return uuid.uuid4().hex[:8]
