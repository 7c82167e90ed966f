"""The lab's stack: Kafka, Redis and S3, run by Docker Compose or as embedded local servers.

- :mod:`labkit.stack.probes`   does each service answer its real protocol? who holds a port?
- :mod:`labkit.stack.embedded` the embedded servers (Valkey, SeaweedFS ``weed mini``, Apache Kafka)
- :mod:`labkit.stack.docker`   the Docker Compose stack
- :mod:`labkit.stack.doctor`   environment checks, each problem with its fix

The command-line front end is :mod:`labkit.stack_cli` (``labkit up|down|status|doctor|reset``).
"""

from __future__ import annotations

from labkit.stack.servers import StackError

__all__ = ["StackError"]
