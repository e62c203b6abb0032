"""Promotion waits for people: outcomes that depend on sign-offs are never cached.

A pipeline never signs off: a run whose version still needs sign-offs
requests them, does not promote it and does not cache that answer, so the
next run with the same inputs promotes it once people have signed with their
own tokens. CI mode never moves aliases and shares no cache entry with an
ordinary run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.demo.people import enrol
from modelyard.errors import NotFound
from modelyard.pipelines import load_pipeline, run_pipeline

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit_risk" / "pipeline.py"
SMALL = {"rows": 3000, "n_estimators": 30}


def _statuses(result) -> dict[str, str]:
    return {name: step.status for name, step in result.steps.items()}


@pytest.mark.slow
def test_a_version_awaiting_sign_off_is_promoted_by_the_next_run_after_people_sign(pyard):
    train = load_pipeline(f"{EXAMPLE}:train")
    people = enrol(pyard)
    yard = people.yard
    first = run_pipeline(yard, train, SMALL)
    assert first.ok, first.failure_message()
    with pytest.raises(NotFound):
        yard.models.get("credit-risk@champion")
    assert first.steps["promote"].outputs["alias"] == ""
    assert yard.models.get("credit-risk/1").approvals == ()
    assert yard.models.get("credit-risk/1").tags["approval"] == "requested: validator, approver"

    assert people.sign_off("credit-risk/1", comment="report reviewed") == ["vera", "aaron"]

    second = run_pipeline(yard, train, SMALL)
    assert second.ok, second.failure_message()
    statuses = _statuses(second)
    assert statuses["fit"] == "cached" and statuses["promote"] == "succeeded"
    assert yard.models.get("credit-risk@champion").version == 1
    signers = [(a.user, a.role) for a in yard.models.get("credit-risk/1").approvals]
    assert signers == [("vera", "validator"), ("aaron", "approver")]


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
    # The CI run's promotion outcome is not reused; the ordinary run requests sign-offs
    # and waits for people.
    assert statuses["request-approval"] == "succeeded" and statuses["promote"] == "succeeded"
    assert ordinary.steps["promote"].outputs["alias"] == ""
