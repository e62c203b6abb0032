"""Registry fixtures: one store seen by several users, and a small trained model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard.data import synthetic
from modelyard.testing.identity import open_as


@pytest.fixture(scope="session")
def credit_frame():
    return synthetic.generate(3_000, seed=5)


@pytest.fixture(scope="session")
def small_model(credit_frame):
    """A scikit-learn pipeline with categorical encoding, trained once per session."""
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    x, y = split_xy(credit_frame)
    return logistic_pipeline().fit(x, y)


class People:
    """``as_user("bob")`` opens the store as bob: with a token of his once the store has users.

    ``as_user.bootstrap("root")`` makes root the store's first admin and opens it as root.
    """

    def __init__(self, store_url: str, tmp_path: Path) -> None:
        self.store_url = store_url
        self._kwargs = {
            "artifact_root": str(tmp_path / "artifacts"),
            "home": str(tmp_path / "home"),
        }
        self.opened: list[modelyard.Yard] = []

    def __call__(self, name: str) -> modelyard.Yard:
        y = open_as(self.store_url, name, **self._kwargs)
        self.opened.append(y)
        return y

    def bootstrap(self, name: str, roles: tuple[str, ...] = ("admin",)) -> modelyard.Yard:
        with modelyard.connect(self.store_url, user=name, **self._kwargs) as claimed:
            claimed.users.bootstrap(name, list(roles))
        return self(name)


@pytest.fixture
def as_user(store_url: str, tmp_path: Path) -> Iterator[People]:
    people = People(store_url, tmp_path)
    yield people
    for y in people.opened:
        y.close()
