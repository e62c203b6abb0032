"""Promotion waits for people: outcomes that depend on sign-offs are never cached.

A run whose version still needs sign-offs does not promote it and does not
cache that answer, so the next run with the same inputs promotes it once
people have signed. CI mode never signs, never moves aliases, and shares no
cache entry with an ordinary run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.errors import NotFound
from modelyard.pipelines import load_pipeline, run_pipeline
from modelyard.pipelines.actions import DEMO_APPROVER, DEMO_VALIDATOR, ensure_demo_users

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit_risk" / "pipeline.py"
SMALL = {"rows": 3000, "n_estimators": 30}


def _statuses(result) -> dict[str, str]:
    return {name: step.status for name, step in result.steps.items()}


@pytest.mark.slow
def test_a_version_awaiting_sign_off_is_promoted_by_the_next_run_after_people_sign(pyard):
    train = load_pipeline(f"{EXAMPLE}:train")
    first = run_pipeline(pyard, train, {**SMALL, "sign_off": False})
    assert first.ok, first.failure_message()
    with pytest.raises(NotFound):
        pyard.models.get("credit-risk@champion")
    assert first.steps["promote"].outputs["alias"] == ""

    ensure_demo_users(pyard)
    for user, role in ((DEMO_VALIDATOR, "validator"), (DEMO_APPROVER, "approver")):
        with pyard.as_user(user) as signer:
            signer.models.approve("credit-risk/1", role=role, comment="report reviewed")

    second = run_pipeline(pyard, train, {**SMALL, "sign_off": False})
    assert second.ok, second.failure_message()
    statuses = _statuses(second)
    assert statuses["fit"] == "cached" and statuses["promote"] == "succeeded"
    assert pyard.models.get("credit-risk@champion").version == 1


@pytest.mark.slow
def test_ci_mode_moves_no_alias_and_shares_no_cache_with_an_ordinary_run(pyard):
    train = load_pipeline(f"{EXAMPLE}:train")
    in_ci = run_pipeline(pyard, train, SMALL, ci=True)
    assert in_ci.ok, in_ci.failure_message()
    assert in_ci.steps["promote"].outputs["alias"] == ""
    with pytest.raises(NotFound):
        pyard.models.get("credit-risk@champion")

    ordinary = run_pipeline(pyard, train, SMALL)
    assert ordinary.ok, ordinary.failure_message()
    statuses = _statuses(ordinary)
    # The ordinary run signs and promotes: nothing is reused from the CI run.
    assert statuses["approve-version"] == "succeeded" and statuses["promote"] == "succeeded"
    assert pyard.models.get("credit-risk@champion").version == 1
