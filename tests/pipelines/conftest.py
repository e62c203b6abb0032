"""Pipeline fixtures: a Yard on SQLite with its own home, the CLI in-process, the example."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import modelyard


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


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Result]]:
    """Run ``modelyard ...`` in-process against the store the environment names."""
    from modelyard.cli import _context
    from modelyard.cli.main import main

    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> Result:
        _context.yard.cache_clear()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run
    _context.yard.cache_clear()
