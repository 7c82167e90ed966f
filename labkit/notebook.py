"""What every lab notebook calls first: strict warnings, plot style, and the settings in use.

    from labkit.notebook import setup
    settings = setup("03_online_serving")

Deprecation warnings raised by the notebook's own calls (attributed to ``__main__``) or by the
lab's packages become errors, so an API the lab uses cannot rot silently.
"""

from __future__ import annotations

import os
import sys
import warnings

from labkit.settings import REPO_ROOT, Settings, get_settings

# The lab's own packages: a deprecated call made from any of them is an error too.
LAB_PACKAGES = ("labkit", "data_generators", "feature_repo", "pipelines", "streaming", "serving", "monitoring")


def strict_warnings() -> None:
    """Turn deprecation warnings caused by the lab's code into errors (third-party internals stay warnings)."""
    modules = "|".join(["__main__", *[rf"{p}(\..*)?" for p in LAB_PACKAGES]])
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning):
        warnings.filterwarnings("error", category=category, module=rf"^({modules})$")


def setup(name: str | None = None, *, plots: bool = True) -> Settings:
    """Prepare a notebook: strict warnings, matplotlib defaults, results tagged with ``name``."""
    if name:
        os.environ["LAB_NOTEBOOK"] = name
    # Kernels start in notebooks/ (or solutions/, labs/): make the repo's own top-level packages
    # (feature_repo, ...) importable even where the editable install does not map them.
    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    strict_warnings()
    if plots:
        import matplotlib

        matplotlib.rcParams.update(
            {
                "figure.figsize": (8, 4),
                "figure.dpi": 100,
                "axes.grid": True,
                "grid.alpha": 0.3,
                "axes.spines.top": False,
                "axes.spines.right": False,
            }
        )
    return get_settings()


def display_path(path: object, settings: Settings | None = None) -> str:
    """``path`` as a notebook should print it: under ``$LAB_HOME`` or the repository, never this
    machine's absolute paths (committed outputs must read the same on every machine)."""
    s = settings or get_settings()
    return str(path).replace(str(s.home), "$LAB_HOME").replace(str(REPO_ROOT), "<repo>")
