"""A missing service or tool skips on a laptop and fails under CI=true, saying what to do."""

from __future__ import annotations

import pytest

from modelyard.testing.environment import require, require_tool


def test_a_missing_tool_skips_outside_ci_with_the_hint(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.skip.Exception, match="'kubectl' is not available; install it"):
        require_tool("kubectl", "install it")


def test_a_missing_tool_fails_under_ci(monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the command 'terraform'"):
        require_tool("terraform", "install terraform")


def test_the_cause_is_named(monkeypatch) -> None:
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match=r"PostgreSQL .*\(connection refused\); start"):
        require("PostgreSQL", "start it", ConnectionError("connection refused"))


def test_a_tool_that_is_there_is_returned(monkeypatch, tmp_path) -> None:
    tool = tmp_path / "kubectl"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert require_tool("kubectl", "install it") == str(tool)
