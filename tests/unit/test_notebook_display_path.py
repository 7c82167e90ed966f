"""Notebooks print paths relative to LAB_HOME or the repository, not this machine's."""

from __future__ import annotations

from labkit.notebook import display_path
from labkit.settings import REPO_ROOT, load_settings


def test_paths_under_lab_home_and_the_repo_print_without_the_machine_prefix(tmp_path):
    s = load_settings({"LAB_HOME": str(tmp_path / "home")})
    assert display_path(s.home / "data" / "x.parquet", s) == "$LAB_HOME/data/x.parquet"
    assert display_path(f"file://{s.home}/staging/lake", s) == "file://$LAB_HOME/staging/lake"
    assert display_path(REPO_ROOT / "notebooks", s) == "<repo>/notebooks"
    assert display_path("s3://lake/raw", s) == "s3://lake/raw"
