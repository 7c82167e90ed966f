"""Fixtures for the streaming tests: the stack's settings and a small synthetic world."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(scope="session")
def stream_settings(lab_settings):
    """The test stack's settings (the root conftest starts the stack)."""
    return lab_settings


@pytest.fixture(scope="session")
def world_small():
    from data_generators import ensure_world

    return ensure_world("small", 42)


@pytest.fixture
def run_id():
    return uuid.uuid4().hex[:8]
