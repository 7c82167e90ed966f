"""``python -m feature_repo <feast command...>``: the Feast CLI, pointed at this stack's yaml.

    python -m feature_repo apply          # register definitions.py in <LAB_HOME>/data/feast/registry.db
    python -m feature_repo feature-views list
    python -m feature_repo serve -p 6566  # the HTTP feature server (the lab's port: settings.ports["feast_serve"])

Equivalent to ``feast -c feature_repo -f <LAB_HOME>/data/feast/feature_store.yaml <command...>``.
"""

from __future__ import annotations

import sys

from feature_repo.lab_store import REPO_DIR, _prepare_env, write_feature_store_yaml
from labkit.cli_support import command
from labkit.settings import get_settings


@command("python -m feature_repo")
def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    settings = get_settings()
    _prepare_env(settings)
    yaml_path = write_feature_store_yaml(settings)
    from feast.cli.cli import cli

    return cli.main(["-c", str(REPO_DIR), "-f", str(yaml_path), *argv], standalone_mode=False) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
