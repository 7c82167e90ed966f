"""Route a fixed share of entities to a new feature version, the same way on every call.

Python's ``hash()`` is salted per process, so it would move users between versions on every
restart; a cryptographic digest of ``salt:key`` is stable everywhere (services, notebooks, batch).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

BUCKETS = 10_000  # 0.01 % resolution


def bucket(entity_key: Any, salt: str, buckets: int = BUCKETS) -> int:
    """The entity's bucket in ``[0, buckets)``; the salt makes each experiment split differently."""
    if not salt:
        raise ValueError("give each rollout its own salt (e.g. 'user_stats_v2'), so experiments split independently")
    digest = hashlib.blake2b(f"{salt}:{entity_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


def assign(entity_key: Any, share: float, salt: str, *, new: str = "v2", old: str = "v1") -> str:
    """``new`` for ``share`` (0..1) of entities, ``old`` for the rest; raising the share only moves
    entities from old to new (a user on v2 at 10 % stays on v2 at 50 %)."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share={share!r}: use a fraction between 0 and 1 (0.1 = 10 % of traffic)")
    return new if bucket(entity_key, salt) < round(share * BUCKETS) else old


def split(
    entity_rows: Iterable[dict], key: str, share: float, salt: str, *, new: str = "v2", old: str = "v1"
) -> dict[str, list[dict]]:
    """Group request rows by the version that serves them (keeps each group batched)."""
    groups: dict[str, list[dict]] = {old: [], new: []}
    for row in entity_rows:
        if key not in row:
            raise KeyError(f"entity row {row!r} has no {key!r}: the rollout hashes that key")
        groups[assign(row[key], share, salt, new=new, old=old)].append(row)
    return groups
