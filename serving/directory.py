"""Which users and products exist, so the API can answer 404 to an id nobody knows.

An unknown id is a caller's bug (a typo, a wrong environment), not a cold-start user: a new user
is in the user table before their first request, with no features yet, and gets defaults.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger("serving.directory")


@dataclass(frozen=True)
class EntityDirectory:
    users: frozenset[int] | None  # None = not loaded: every id is accepted (and /health says so)
    products: frozenset[int] | None
    origin: str

    @classmethod
    def of(cls, users: Iterable[int], products: Iterable[int], origin: str = "given") -> EntityDirectory:
        return cls(frozenset(int(u) for u in users), frozenset(int(p) for p in products), origin)

    @classmethod
    def from_world(cls, scale: str | None = None, seed: int | None = None) -> EntityDirectory:
        """Users and products of the synthetic world (``LAB_SERVING_SCALE`` / ``LAB_SERVING_SEED``)."""
        from labkit.settings import get_settings

        s = get_settings()
        scale = scale or s.serving_scale
        seed = int(seed if seed is not None else s.serving_seed)
        try:
            from data_generators import ensure_world

            w = ensure_world(scale=scale, seed=seed)
            return cls.of(w.users["user_id"], w.products["product_id"], f"world {scale}/seed {seed}")
        except Exception as exc:  # the API still serves; it just cannot tell unknown ids apart
            log.error('{"event": "directory_unavailable", "error": "%s"}', str(exc).replace('"', "'"))
            return cls(None, None, f"not loaded ({type(exc).__name__}); every id is accepted")

    def has_user(self, user_id: int) -> bool:
        return self.users is None or user_id in self.users

    def has_product(self, product_id: int) -> bool:
        return self.products is None or product_id in self.products

    def describe(self) -> str:
        if self.users is None:
            return self.origin
        return f"{len(self.users)} users, {len(self.products)} products from {self.origin}"
