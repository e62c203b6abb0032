"""Registry fixtures: one store seen by several users, and a small trained model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard.data import synthetic


@pytest.fixture(scope="session")
def credit_frame():
    return synthetic.generate(3_000, seed=5)


@pytest.fixture(scope="session")
def small_model(credit_frame):
    """A scikit-learn pipeline with categorical encoding, trained once per session."""
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    x, y = split_xy(credit_frame)
    return logistic_pipeline().fit(x, y)


@pytest.fixture
def as_user(store_url: str, tmp_path: Path) -> Iterator[Callable[[str], modelyard.Yard]]:
    """``as_user("bob")`` opens the same store as bob."""
    opened: list[modelyard.Yard] = []

    def open_as(name: str) -> modelyard.Yard:
        y = modelyard.connect(
            store_url,
            artifact_root=str(tmp_path / "artifacts"),
            user=name,
            home=str(tmp_path / "home"),
        )
        opened.append(y)
        return y

    yield open_as
    for y in opened:
        y.close()
