"""Is the stack a writer needs up? A light module (no pandas), so the CLI fails fast."""

from __future__ import annotations

from labkit.settings import Settings, get_settings


class StackUnavailable(RuntimeError):
    """A service the writer needs does not answer. The message names the fix."""


def require_stack(*services: str, settings: Settings | None = None) -> None:
    """Raise :class:`StackUnavailable` unless each of ``services`` ("s3", "kafka") answers its protocol."""
    from labkit.stack import probes

    s = settings or get_settings()
    endpoint = {"s3": s.s3_endpoint, "kafka": s.kafka_bootstrap, "redis": s.redis_url}
    for name in services:
        ok, detail = probes.PROBES[name](s)
        if not ok:
            raise StackUnavailable(
                f"{name} at {endpoint[name]} does not answer ({detail}); start the stack with `labkit up` "
                f"(or `make up`), or point LAB_* settings at a running one"
            )
        if name == "s3" and "missing: " in detail and s.bucket_lake in detail.split("missing: ", 1)[1]:
            raise StackUnavailable(
                f"bucket {s.bucket_lake!r} does not exist on {s.s3_endpoint}; run `labkit up` to create it"
            )
