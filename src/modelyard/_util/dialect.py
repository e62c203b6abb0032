"""Dialect-specific SQL constructs that SQLAlchemy spells differently per backend."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite


def upsert_insert(bind: Any, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_*`` on the backend of a session or connection."""
    engine = bind.get_bind() if hasattr(bind, "get_bind") else bind
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
