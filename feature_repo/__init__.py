"""The lab's Feast project and the helpers the feature-store notebooks share.

    from feature_repo import setup_feature_store, get_store
    store = setup_feature_store(scale="small", seed=42)   # world -> offline files -> yaml -> apply
    store = get_store()                                     # a kept-open FeatureStore for this stack

``get_store()`` only opens the store: the registry must have been applied once on this stack
(``setup_feature_store()`` in a notebook, or ``python -m feature_repo apply``). A service keeps
the returned object and asks for the ``recommendation_v1`` FeatureService with entity rows
``{"user_id": ..., "product_id": ..., "offered_price": ...}``.

Feast definitions live in ``definitions.py``; the per-stack ``feature_store.yaml`` is generated
under ``<LAB_HOME>/data/feast/`` by ``lab_store.py`` (so the learner's stack and the test stack
never share a registry, Parquet path or Redis). Reusable logic taught in the notebooks:
``oracle.py`` (point-in-time join by hand), ``quality.py`` (statistics baseline),
``rollout.py`` (stable-hash traffic split), ``latency.py`` (timing and ``feast serve``).
"""

from __future__ import annotations

from feature_repo.lab_store import (  # noqa: F401  (the package's public API)
    apply_definitions,
    clear_online_store,
    feast_dir,
    get_store,
    link_world,
    reset_online_state,
    setup_feature_store,
    write_feature_store_yaml,
)
