"""Shared fixtures: a clean environment, and a metadata store per backend.

PostgreSQL tests use the real server at 127.0.0.1:5432 (database ``test``),
each in a fresh database of its own. Under ``CI=true`` an unreachable
PostgreSQL fails the run; on a laptop those tests skip and say what to start.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelyard.testing.environment import require
from modelyard.testing.platform import Site, make_site

PG_SERVER = os.environ.get("MODELYARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's MODELYARD_* settings, a modelyard.toml or logins."""
    for key in list(os.environ):
        if key.startswith("MODELYARD_") and key != "MODELYARD_TEST_PG":
            monkeypatch.delenv(key)
    # 'modelyard login' saves tokens under the user's config directory: a test's own.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(tmp_path)


def _admin_engine():
    from sqlalchemy import create_engine

    return create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    from sqlalchemy import text

    name = f"modelyard_t_{uuid.uuid4().hex[:12]}"
    try:
        admin = _admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any driver or connection failure means "not available"
        require(
            "PostgreSQL at 127.0.0.1:5432",
            "start it (pg_ctlcluster ... main start) or set MODELYARD_TEST_PG",
            exc,
        )
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'yard.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def yard(store_url: str, tmp_path: Path):
    import modelyard

    y = modelyard.connect(store_url, artifact_root=str(tmp_path / "artifacts"), user="alice")
    yield y
    y.close()


@pytest.fixture
def sqlite_yard(tmp_path: Path):
    import modelyard

    y = modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}", artifact_root=str(tmp_path / "artifacts"), user="alice"
    )
    yield y
    y.close()


@pytest.fixture
def loans():
    """A small seeded synthetic credit frame."""
    from modelyard.data import synthetic

    return synthetic.generate(2_000, seed=11)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A platform server process on a SQLite store with one user per role and a token each."""
    found = make_site(tmp_path_factory.mktemp("site"))
    try:
        yield found
    finally:
        found.server.stop()
