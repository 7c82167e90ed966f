"""One place where measurements land, so benchmarks, the README and interview answers can cite them.

Each call to :func:`record` appends one JSON line to ``<LAB_HOME>/results.jsonl``::

    {"name": "online.redis.p99_ms", "value": 0.41, "unit": "ms", "when": "2026-11-26T17:40:00+00:00",
     "stack": "embedded", "source": "03_online_serving", "context": {"batch": 10}}
"""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labkit.settings import Settings, get_settings


def stack_of(settings: Settings) -> str:
    """The stack the results were measured on, as ``labkit up`` recorded it ("unknown" before any)."""
    from labkit.stack import stack_kind

    return stack_kind(settings, default="unknown")


def record(
    name: str, value: float, unit: str, *, source: str | None = None, settings: Settings | None = None, **context: Any
) -> dict[str, Any]:
    """Append a measurement and return it. ``context`` holds whatever qualifies it (batch size...)."""
    if not name or not isinstance(name, str):
        raise ValueError("record() needs a non-empty metric name such as 'online.redis.p99_ms'")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"record({name!r}): value {value!r} is not a number") from None
    s = settings or get_settings()
    row = {
        "name": name,
        "value": value,
        "unit": unit,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "stack": stack_of(s),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "source": source or os.environ.get("LAB_NOTEBOOK", "interactive"),
        "context": context,
    }
    s.results_file.parent.mkdir(parents=True, exist_ok=True)
    with s.results_file.open("a") as fh:
        fh.write(json.dumps(row, default=str) + "\n")
    return row


def load(settings: Settings | None = None, path: Path | None = None) -> list[dict[str, Any]]:
    """All recorded measurements, oldest first (an empty list when nothing was recorded)."""
    p = path or (settings or get_settings()).results_file
    if not p.is_file():
        return []
    rows = []
    for line in p.read_text().splitlines():
        line = line.strip()
        if line:
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut by a crash: skip it, keep the rest
    return rows


def latest(name: str, settings: Settings | None = None, **context: Any) -> dict[str, Any] | None:
    """The newest measurement called ``name`` whose context contains ``context`` (or None)."""
    for row in reversed(load(settings)):
        if row["name"] == name and all(row.get("context", {}).get(k) == v for k, v in context.items()):
            return row
    return None
