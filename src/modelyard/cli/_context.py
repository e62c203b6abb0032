"""The Yard a CLI command works on: built from the configuration once per process."""

from __future__ import annotations

from functools import lru_cache

from modelyard.yard import Yard, connect


@lru_cache(maxsize=1)
def yard() -> Yard:
    return connect()
