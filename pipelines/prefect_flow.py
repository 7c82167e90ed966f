"""The pipeline as a Prefect 3 flow: the same step functions, with retries, run in-process.

No Prefect server is needed: without ``PREFECT_API_URL`` Prefect runs an ephemeral API for the
life of the process. :func:`configure_prefect` keeps all of Prefect's state (its SQLite
database, logs) under ``<LAB_HOME>/prefect`` and turns its telemetry off; it must run before
``prefect`` is imported, which is why this module imports Prefect lazily.

Retries: every step that talks to storage retries (a flaky network heals); the validation
steps never do (bad data stays bad: a retry only delays the failure).
"""

from __future__ import annotations

import os
from typing import Any

from labkit.settings import Settings, get_settings

RETRIES = 2


def configure_prefect(settings: Settings | None = None) -> dict[str, str]:
    """Environment for a server-less, telemetry-free Prefect whose state lives under LAB_HOME."""
    s = settings or get_settings()
    home = s.home / "prefect"
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "true",
        # the ephemeral API starts in a subprocess; a busy 2-core laptop needs more than the default
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
        "PREFECT_LOGGING_COLORS": "false",
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'prefect.db'}",
    }
    if "prefect" in __import__("sys").modules and os.environ.get("PREFECT_HOME") != env["PREFECT_HOME"]:
        raise RuntimeError("configure_prefect() must run before `import prefect`: restart the kernel and call it first")
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.update(env)
    return env


def build_flows(settings: Settings | None = None, retry_delay_s: float | None = None):
    """Return ``(daily_flow, backfill_flow)`` built from :mod:`pipelines.steps`.

    ``retry_delay_s`` defaults to the setting ``LAB_PIPELINE_RETRY_DELAY_S`` (1 s).
    """
    configure_prefect(settings)
    if retry_delay_s is None:
        retry_delay_s = (settings or get_settings()).pipeline_retry_delay_s
    from prefect import flow, task

    from pipelines import steps

    def retrying(fn, name):
        return task(fn, name=name, retries=RETRIES, retry_delay_seconds=retry_delay_s)

    extract = retrying(steps.extract, "extract")
    compute = retrying(steps.compute, "compute")
    publish = retrying(steps.publish, "publish")
    materialize = retrying(steps.materialize, "materialize")
    validate_input = task(steps.validate_input, name="validate_input", retries=0)
    validate_features = task(steps.validate_features, name="validate_features", retries=0)

    @flow(name="user-features-daily", log_prints=False)
    def daily(day: str) -> list[dict[str, Any]]:
        """One day: extract -> validate input -> compute -> validate features -> publish -> materialize."""
        out = [extract(day), validate_input(day), compute(day), validate_features(day)]
        out += [publish(day), materialize(day)]
        return out

    @flow(name="user-features-backfill")
    def backfill(start: str, end: str) -> dict[str, str]:
        """Every day in [start, end] as a sub-flow; a failed day is reported, the others still run."""
        from pipelines.lake import days_between

        status = {}
        for d in days_between(steps.as_date(start), steps.as_date(end)):
            state = daily(d.isoformat(), return_state=True)
            status[d.isoformat()] = state.type.value
        return status

    return daily, backfill
