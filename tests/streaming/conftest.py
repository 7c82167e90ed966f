"""Fixtures for the streaming tests: the stack's settings and a small synthetic world."""
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
def stream_settings(request):
    """The test stack's settings (the root ``lab_settings`` fixture when present, else the environment's)."""
    try:
        return request.getfixturevalue("lab_settings")
    except pytest.FixtureLookupError:
        from labkit.settings import get_settings

        s = get_settings()
        for name, (host, port) in {"Kafka": s.kafka_host_port, "Redis": s.redis_host_port}.items():
            if not _reachable(host, port):
                pytest.fail(f"{name} is not answering on {host}:{port}: start the stack (`python -m labkit up`) "
                            f"with the same LAB_PORT_OFFSET ({s.port_offset}) before the stack tests")
        return s


@pytest.fixture(scope="session")
def world_small():
    from data_generators import ensure_world

    return ensure_world("small", 42)


@pytest.fixture
def run_id():
    return uuid.uuid4().hex[:8]
