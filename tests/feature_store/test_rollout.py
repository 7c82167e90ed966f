"""Stable-hash rollout: same answer everywhere, the right share, monotone in the share."""

from __future__ import annotations

import subprocess
import sys

import pytest

from feature_repo import rollout


def test_share_is_close_to_target_on_many_keys():
    share = sum(rollout.assign(u, 0.10, "exp") == "v2" for u in range(20_000)) / 20_000
    assert abs(share - 0.10) < 0.01


def test_assignment_is_stable_across_processes_with_different_hash_seeds():
    code = "from feature_repo import rollout; print([rollout.bucket(u, 'exp') for u in range(50)])"
    outs = set()
    for seed in ("1", "2"):
        env = {"PYTHONHASHSEED": seed, "PYTHONPATH": str(rollout.__file__).rsplit("/feature_repo/", 1)[0]}
        outs.add(
            subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
        )
    assert len(outs) == 1 and outs.pop().strip() == str([rollout.bucket(u, "exp") for u in range(50)])


def test_raising_the_share_only_moves_users_to_v2():
    at10 = {u for u in range(5000) if rollout.assign(u, 0.10, "exp") == "v2"}
    at50 = {u for u in range(5000) if rollout.assign(u, 0.50, "exp") == "v2"}
    assert at10 < at50
    assert rollout.assign(1, 0.0, "exp") == "v1" and rollout.assign(1, 1.0, "exp") == "v2"


def test_salts_split_independently():
    a = {u for u in range(5000) if rollout.assign(u, 0.5, "a") == "v2"}
    b = {u for u in range(5000) if rollout.assign(u, 0.5, "b") == "v2"}
    overlap = len(a & b) / len(a)
    assert 0.4 < overlap < 0.6  # independent halves overlap by about half


def test_split_groups_rows_and_rejects_rows_without_the_key():
    groups = rollout.split([{"user_id": u} for u in range(100)], "user_id", 0.3, "exp")
    assert len(groups["v1"]) + len(groups["v2"]) == 100 and groups["v2"]
    with pytest.raises(KeyError, match="user_id"):
        rollout.split([{"uid": 1}], "user_id", 0.3, "exp")


def test_bad_share_or_salt_is_explained():
    with pytest.raises(ValueError, match="between 0 and 1"):
        rollout.assign(1, 10, "exp")
    with pytest.raises(ValueError, match="salt"):
        rollout.bucket(1, "")
