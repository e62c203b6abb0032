"""What a test needs from the machine, and what happens when it is missing.

On a laptop a missing service, browser or command-line tool skips the test
with a message saying what to install or start. Under ``CI=true`` the same
absence fails the run: CI must never pass by silently testing less.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

__all__ = ["in_ci", "require", "require_tool"]


def in_ci() -> bool:
    """Whether this is a CI run (``CI=true``, as ``.ci/run`` sets it)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(what: str, hint: str, exc: BaseException | None = None) -> NoReturn:
    """Fail (under CI) or skip (elsewhere) because ``what`` is missing; ``hint`` says how to fix."""
    import pytest

    detail = f" ({exc})" if exc is not None else ""
    message = f"{what} is not available{detail}; {hint}"
    if in_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)


def require_tool(name: str, hint: str) -> str:
    """The path of the command ``name``, or fail/skip via :func:`require`."""
    found = shutil.which(name)
    if found is None:
        require(f"the command {name!r}", hint)
    return found
