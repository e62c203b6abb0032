"""One platform per backend: a store with users and tokens, and a real server process on it.

``yard`` is parametrised over the local implementation and a ``RemoteYard``
talking to the server, both on the same store, so every contract test runs
against both (and against SQLite and PostgreSQL).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import modelyard
from modelyard.testing.environment import require
from modelyard.testing.identity import govern
from modelyard.testing.platform import PlatformServer

PG_SERVER = os.environ.get("MODELYARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
USERS = {
    "root": ["admin", "developer"],
    "dev": ["developer"],
    "val": ["validator"],
    "appr": ["approver"],
    "viewer": ["viewer"],
}


@dataclass
class Platform:
    store_url: str
    artifact_root: str
    root: Path
    server: PlatformServer
    tokens: dict[str, str]
    _local: dict[str, Any] = field(default_factory=dict)
    _remote: dict[str, Any] = field(default_factory=dict)

    def local(self, user: str) -> Any:
        if user not in self._local:
            self._local[user] = modelyard.connect(
                self.store_url,
                artifact_root=self.artifact_root,
                token=self.tokens[user],
                home=str(self.root / f"home-{user}"),
            )
        return self._local[user]

    def remote(self, user: str) -> Any:
        if user not in self._remote:
            self._remote[user] = modelyard.connect(
                self.server.url, token=self.tokens[user], home=str(self.root / f"remote-{user}")
            )
        return self._remote[user]

    def close(self) -> None:
        for y in [*self._local.values(), *self._remote.values()]:
            y.close()


def _postgres_database() -> tuple[str, Callable[[], None]]:
    from sqlalchemy import create_engine, text

    name = f"modelyard_c_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any driver or connection failure means "not available"
        require("PostgreSQL at 127.0.0.1:5432", "start it or set MODELYARD_TEST_PG", exc)

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{PG_SERVER}/{name}", drop


def start_platform(backend: str, root: Path) -> tuple[Platform, Callable[[], None]]:
    drop: Callable[[], None] = lambda: None  # noqa: E731
    if backend == "sqlite":
        store_url = f"sqlite:///{root / 'yard.db'}"
    else:
        store_url, drop = _postgres_database()
    artifact_root = str(root / "artifacts")
    tokens = govern(store_url, USERS, artifact_root=artifact_root, home=str(root))
    server = PlatformServer(store_url, artifact_root, home=root / "server").start()
    platform = Platform(store_url, artifact_root, root, server, tokens)

    def stop() -> None:
        platform.close()
        server.stop()
        drop()

    return platform, stop


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    found, stop = start_platform(
        request.param, tmp_path_factory.mktemp(f"platform-{request.param}")
    )
    try:
        yield found
    finally:
        stop()


@pytest.fixture(params=["local", "remote"])
def yard_as(platform: Platform, request: pytest.FixtureRequest) -> Callable[[str], Any]:
    """``yard_as("val")``: the implementation under test, acting as that user."""
    return platform.local if request.param == "local" else platform.remote


@pytest.fixture
def yard(yard_as: Callable[[str], Any]) -> Any:
    return yard_as("dev")


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def credit_frame():
    from modelyard.data import synthetic

    return synthetic.generate(1_500, seed=7)


@pytest.fixture(scope="session")
def small_model(credit_frame):
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    x, y = split_xy(credit_frame)
    return logistic_pipeline().fit(x, y)
