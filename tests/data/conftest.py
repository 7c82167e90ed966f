"""Fixtures for the data generator tests: one small world per session, in a temporary folder
(never the learner's LAB_HOME), generated through the public ``ensure_world`` API."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def worlds_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("worlds")


@pytest.fixture(scope="session")
def world(worlds_dir):
    from data_generators import ensure_world

    ensure_world(scale="small", seed=42, data_dir=worlds_dir)  # the first call generates
    return ensure_world(scale="small", seed=42, data_dir=worlds_dir)  # the second call loads from disk
