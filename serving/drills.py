"""Break one thing for real, then put it back: the helpers behind the break-and-fix drills.

Services are stopped by the PID the stack recorded (never by name) and brought back with the
stack's own idempotent ``up``, which restarts only what is down. Redis memory drills change
``maxmemory``/``maxmemory-policy`` with CONFIG SET and always restore what they found.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass

from labkit.settings import Settings, get_settings
from labkit.stack import stack_kind


def stop_service(name: str, settings: Settings | None = None, hard: bool = False) -> int | None:
    """Stop one service of the stack (``redis``, ``kafka`` or ``s3``); returns the PID stopped.

    ``hard=True`` is ``kill -9``: a crash, with no clean shutdown (Kafka then recovers its log at start).
    """
    s = settings or get_settings()
    if stack_kind(s) == "docker":
        from labkit.stack import docker

        docker.compose(s, "kill" if hard else "stop", name)
        return None
    from labkit.stack import embedded

    pid = embedded.stop_server(s, name, hard=hard)
    if pid is None:
        title = embedded.BY_NAME[name].title
        raise RuntimeError(f"{title} is not running from LAB_HOME={s.home}; start the stack with `labkit up`")
    return pid


def start_service(name: str, settings: Settings | None = None, timeout: float = 60.0) -> None:
    """Bring a stopped service back (the stack's ``up`` starts only what is down) and wait for it."""
    s = settings or get_settings()
    if stack_kind(s) == "docker":
        from labkit.stack import docker, probes

        docker.compose(s, "start", name)
        ok, detail = probes.wait_until(lambda: probes.PROBES[name](s), timeout)
        if not ok:
            raise RuntimeError(f"{name} did not come back: {detail}")
        return
    from labkit.stack import embedded

    embedded.up(s, timeout=timeout, say=lambda *_: None)


def wait_for(check, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    """Poll ``check()`` until it returns something truthy; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


@dataclass
class MemoryConfig:
    maxmemory: int
    policy: str


def redis_memory_config(r) -> MemoryConfig:
    cfg = r.config_get("maxmemory*")
    get = lambda k: cfg.get(k, cfg.get(k.encode())) if isinstance(cfg, dict) else None  # noqa: E731
    raw_max, raw_policy = get("maxmemory"), get("maxmemory-policy")
    policy = raw_policy.decode() if isinstance(raw_policy, bytes) else raw_policy
    return MemoryConfig(int(raw_max), policy)


@contextmanager
def redis_memory_limit(r, extra_bytes: int, policy: str):
    """Cap Redis at (current use + ``extra_bytes``) with ``policy``; restore the old settings on exit."""
    before = redis_memory_config(r)
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory", used + extra_bytes)
    r.config_set("maxmemory-policy", policy)
    try:
        yield used + extra_bytes
    finally:
        r.config_set("maxmemory", before.maxmemory)
        r.config_set("maxmemory-policy", before.policy)
