"""Schema migrations with Alembic, applied automatically and safely under concurrency.

A database created by an older Modelyard is upgraded in place, never recreated.
Several processes may connect to a fresh database at once: the upgrade runs
under a lock (``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL),
and whoever comes second finds the schema at head and does nothing.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x6D6F64656C  # "model" in hex: an arbitrary, stable advisory-lock key


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    return heads[0]


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Bring the schema to ``revision``; returns (revision before, revision after)."""
    head = head_revision() if revision == "head" else revision
    with engine.connect() as probe:
        before = current_revision(probe)
    if before == head:
        return before, head
    config = alembic_config()
    with engine.connect() as connection:
        connection.execution_options(sqlite_begin="IMMEDIATE")
        connection.begin()
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        before = current_revision(connection)
        if before != head:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        connection.commit()
    return before, head
