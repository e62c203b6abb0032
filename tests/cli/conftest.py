"""CLI tests run the real command in-process against the embedded default in a temp folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from modelyard.cli import _context
from modelyard.config import load_settings
from modelyard.testing.cli import CliResult, invoke
from modelyard.testing.identity import has_users, issue_token


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, user: str | None = None, token: str | None = None) -> CliResult:
        """``user``: act as them, with a new token of theirs once the store has users;
        ``token``: act with that token."""
        _context.yard.cache_clear()
        monkeypatch.delenv("MODELYARD_TOKEN", raising=False)
        if token:
            monkeypatch.setenv("MODELYARD_TOKEN", token)
        elif user:
            monkeypatch.setenv("MODELYARD_USER", user)
            url = load_settings().resolved_store_url
            if Path(url.removeprefix("sqlite:///")).exists() and has_users(url):
                monkeypatch.setenv("MODELYARD_TOKEN", issue_token(url, user))
        return invoke(args, capsys)

    yield run
    _context.yard.cache_clear()
