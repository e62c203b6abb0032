"""CLI tests run the real command in-process against the embedded default in a temp folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from modelyard.cli import _context
from modelyard.cli.main import main


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
) -> Callable[..., Result]:
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, user: str | None = None) -> Result:
        _context.yard.cache_clear()
        if user:
            monkeypatch.setenv("MODELYARD_USER", user)
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run
    _context.yard.cache_clear()
