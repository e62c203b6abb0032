"""The Yard a CLI command works on: built from the configuration once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelyard.client import RemoteYard
    from modelyard.yard import Yard


@lru_cache(maxsize=1)
def yard() -> Yard | RemoteYard:
    # Imported here: `modelyard --help` and commands that need no store should not
    # pay for SQLAlchemy, Alembic and pandas (~0.9 s and ~170 MiB).
    from modelyard._connect import connect

    return connect()
