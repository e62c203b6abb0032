"""The metadata store: engines, sessions, and translation of database errors.

SQLite (the embedded default) runs in WAL mode with a busy timeout, so many
processes can read while one writes. Read-modify-write transactions (the next
version number, say) use ``BEGIN IMMEDIATE`` on SQLite, which takes the write
lock up front instead of failing at the first write; on PostgreSQL they lock
the parent row with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from modelyard.errors import BackendUnavailable, Conflict, InvalidInput
from modelyard.store import migrate

__all__ = ["AUDIT_HEAD_KEY", "MetadataStore"]

# Where the audit module leaves (seq, hash) of the last event it appended in a
# transaction (``Session.info`` or ``Connection.info``); the store hands it to
# ``on_audit_commit`` callbacks once the transaction has committed.
AUDIT_HEAD_KEY = "modelyard.audit_head"
AuditCallback = Callable[[int, str], None]
_log = logging.getLogger("modelyard.store")

_SUPPORTED = ("sqlite", "postgresql")


def _install_sqlite_hooks(engine: Engine, busy_timeout_s: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable across application crashes in WAL mode; only a power
        # loss can roll back the last commits, never corrupt the file.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


class MetadataStore:
    """Owns the engine of one metadata database and hands out sessions."""

    def __init__(self, url: str, *, busy_timeout_s: float = 60.0, migrate_on_connect: bool = True):
        try:
            parsed = make_url(url)
        except sa_exc.ArgumentError as exc:
            raise InvalidInput(f"store_url {url!r} is not a database URL: {exc}") from exc
        backend = parsed.get_backend_name()
        if backend not in _SUPPORTED:
            raise InvalidInput(
                f"store_url uses {backend!r}; supported: sqlite:///PATH, "
                "postgresql+psycopg://..., or a platform server's http(s):// URL"
            )
        self.url = parsed
        self.dialect = backend
        if backend == "sqlite":
            database = parsed.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(parsed, connect_args={"timeout": busy_timeout_s})
            _install_sqlite_hooks(self.engine, busy_timeout_s)
        else:
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg")
            try:
                self.engine = create_engine(parsed, pool_pre_ping=True)
            except ModuleNotFoundError as exc:
                raise BackendUnavailable(
                    "install modelyard[postgres] to use a PostgreSQL store"
                ) from exc
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        self._audit_callbacks: list[AuditCallback] = []
        if migrate_on_connect:
            self.upgrade()

    def upgrade(self) -> tuple[str | None, str]:
        """Apply pending migrations; returns (revision before, revision after)."""
        try:
            return migrate.upgrade(self.engine)
        except sa_exc.OperationalError as exc:
            raise BackendUnavailable(
                f"cannot reach the metadata store at {self.url.render_as_string()}: {exc.orig}"
            ) from exc

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return migrate.current_revision(connection)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; nothing it does is committed."""
        with self._translate(), self._read() as session:
            yield session

    def on_audit_commit(self, callback: AuditCallback) -> None:
        """Call ``callback(seq, hash)`` after each commit that appended audit events.

        It runs after the commit, so it never names an event that was rolled
        back (the audit checkpoint relies on that); an error in it is logged,
        not raised: the change it reports is already committed.
        """
        self._audit_callbacks.append(callback)

    def _audit_committed(self, head: tuple[int, str] | None) -> None:
        if head is None:
            return
        for callback in self._audit_callbacks:
            try:
                callback(*head)
            except Exception:  # the change is committed; say so loudly, do not undo
                _log.exception("after-commit audit callback %r failed", callback)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        head = None
        with self._translate(), self._write() as session, session.begin():
            try:
                yield session
            finally:
                head = session.info.pop(AUDIT_HEAD_KEY, None)
        self._audit_committed(head)

    @contextmanager
    def read_connection(self) -> Iterator[Connection]:
        """A Core connection for queries on hot paths; rolled back on exit."""
        with self._translate(), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in a write transaction: the fast path for hot logging calls."""
        head = None
        with self._translate(), self._write_engine.begin() as connection:
            connection.info.pop(AUDIT_HEAD_KEY, None)  # info outlives a checkout
            try:
                yield connection
            finally:
                head = connection.info.pop(AUDIT_HEAD_KEY, None)
        self._audit_committed(head)

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except sa_exc.IntegrityError as exc:
            raise Conflict(f"the change conflicts with stored data: {exc.orig}") from exc
        except sa_exc.OperationalError as exc:
            raise BackendUnavailable(f"metadata store error: {exc.orig}") from exc

    def dispose(self) -> None:
        self.engine.dispose()
