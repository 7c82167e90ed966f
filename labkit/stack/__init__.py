"""The lab's stack: Kafka, Redis and S3, run by Docker Compose or as embedded local servers.

- :mod:`labkit.stack.probes`   does each service answer its real protocol? who holds a port?
- :mod:`labkit.stack.embedded` the embedded servers (Valkey, SeaweedFS ``weed mini``, Apache Kafka)
- :mod:`labkit.stack.docker`   the Docker Compose stack
- :mod:`labkit.stack.doctor`   environment checks, each problem with its fix

The command-line front end is :mod:`labkit.stack_cli` (``labkit up|down|status|doctor|reset``).
"""

from __future__ import annotations

from labkit.settings import Settings
from labkit.stack.servers import StackError

__all__ = ["StackError", "stack_kind"]


def stack_kind(settings: Settings, default: str = "embedded") -> str:
    """Which stack was last started from this LAB_HOME, ``"docker"`` or ``"embedded"``, as
    ``labkit up`` recorded it (``<LAB_HOME>/run/stack``); ``default`` when none was started."""
    from labkit.stack.embedded import stack_marker

    marker = stack_marker(settings)
    kind = marker.read_text().strip() if marker.is_file() else ""
    return kind or default
