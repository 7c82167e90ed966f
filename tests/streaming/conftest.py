"""Fixtures for the streaming tests: a run id (the stack's settings and the small world are the root
conftest's ``lab_settings`` and ``small_world``)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def run_id():
    return uuid.uuid4().hex[:8]
