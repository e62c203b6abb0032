"""Capture of the code version and the software environment of a run.

Both are read once per process and cached: a process's interpreter and
installed packages do not change while it runs, and reading every
distribution's metadata costs tens of milliseconds, far more than logging a
run. The git state is read once too; a run started after editing files in a
long-lived process (a notebook) may therefore report the dirty flag of the
first run — call ``refresh()`` to re-read it.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

# Packages worth recording for a model's reproducibility; anything else
# installed is recorded too, but these are surfaced in the run summary.
KEY_PACKAGES = (
    "modelyard",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "lightgbm",
    "xgboost",
    "xgboost-cpu",
    "onnxruntime",
    "scipy",
)


@lru_cache(maxsize=1)
def python_environment() -> dict[str, Any]:
    """Python version, platform, and every installed distribution with its version."""
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            packages[name.lower()] = dist.version
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": dict(sorted(packages.items())),
    }


@lru_cache(maxsize=8)
def git_state(path: str = ".") -> tuple[str | None, bool | None]:
    """(commit sha, dirty flag) of the git work tree holding ``path``, or (None, None)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(path),
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=Path(path),
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return sha or None, bool(status.strip())


def refresh() -> None:
    """Forget the cached git state and environment (for long-lived processes)."""
    git_state.cache_clear()
    python_environment.cache_clear()
