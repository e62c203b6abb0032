"""Schema migrations: applied on first connect, upgraded in place, safe under concurrency."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text

from modelyard.errors import BackendUnavailable, InvalidInput
from modelyard.store import MetadataStore
from modelyard.store.migrate import alembic_config, head_revision


def test_first_connect_creates_schema_at_head(store_url: str) -> None:
    store = MetadataStore(store_url)
    try:
        assert store.current_revision() == head_revision()
        tables = set(inspect(store.engine).get_table_names())
        assert {"runs", "metrics", "latest_metrics", "datasets", "dataset_versions"} <= tables
    finally:
        store.dispose()


def test_older_schema_is_upgraded_not_recreated(store_url: str) -> None:
    """Data written under an older revision survives the upgrade to head."""
    engine = create_engine(store_url)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(text("INSERT INTO experiments (name, created_at) VALUES ('kept', 1)"))
    engine.dispose()
    store = MetadataStore(store_url)
    try:
        assert store.current_revision() == head_revision()
        with store.engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM experiments")).scalars().all()
        assert names == ["kept"]
    finally:
        store.dispose()


def _connect(url: str) -> str | None:
    store = MetadataStore(url)
    try:
        return store.current_revision()
    finally:
        store.dispose()


def test_concurrent_first_connects_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    with ProcessPoolExecutor(4, mp_context=mp.get_context("spawn")) as pool:
        revisions = list(pool.map(_connect, [url] * 4))
    assert revisions == [head_revision()] * 4


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = MetadataStore(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 60_000
    finally:
        store.dispose()


def test_unsupported_url_is_refused() -> None:
    with pytest.raises(InvalidInput, match="supported"):
        MetadataStore("mysql://localhost/x")
    with pytest.raises(InvalidInput, match="not a database URL"):
        MetadataStore("::not a url::")


def test_unreachable_postgres_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        MetadataStore("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
