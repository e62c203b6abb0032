"""Pipeline fixtures: a Yard on SQLite with its own home, the CLI in-process, the example."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import modelyard
from modelyard.testing.cli import CliResult, invoke


@pytest.fixture
def pyard(tmp_path: Path) -> Iterator[modelyard.Yard]:
    y = modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}",
        artifact_root=str(tmp_path / "artifacts"),
        user="alice",
        home=str(tmp_path / "home"),
    )
    yield y
    y.close()


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., CliResult]]:
    """Run ``modelyard ...`` in-process against the store the environment names."""
    from modelyard.cli import _context

    monkeypatch.setenv("COLUMNS", "200")
    yield lambda *args: invoke(args, capsys)
    _context.yard.cache_clear()  # no Yard of this test's settings outlives it
