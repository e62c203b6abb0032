"""Shared constants and helpers of the pipeline tests (imported by name, like batch_helpers)."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit_risk" / "pipeline.py"
EXAMPLE_REF = f"{EXAMPLE}:train"
# Small and fast: enough rows for a stable LightGBM, gates loose enough for them.
SMALL = {"rows": 6_000, "min_auc": 0.6, "n_estimators": 60}


def use_store(monkeypatch: pytest.MonkeyPatch, root: Path, user: str = "alice") -> None:
    """Point the CLI at the store under ``root``, acting as ``user`` (with a token of theirs
    once the store has users)."""
    from modelyard.testing.identity import has_users, issue_token

    url = f"sqlite:///{root / 'yard.db'}"
    monkeypatch.setenv("MODELYARD_STORE_URL", url)
    monkeypatch.setenv("MODELYARD_ARTIFACT_ROOT", str(root / "artifacts"))
    monkeypatch.setenv("MODELYARD_HOME", str(root / "home"))
    monkeypatch.setenv("MODELYARD_USER", user)
    if (root / "yard.db").exists() and has_users(url):
        monkeypatch.setenv("MODELYARD_TOKEN", issue_token(url, user))
