"""The audit hash chain records every change and detects edits made directly in SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from modelyard.data.synthetic import FEATURES


def _history(as_user, small_model, credit_frame):
    alice = as_user("alice")
    alice.models.create("credit-risk", risk_tier=2)
    v = alice.models.register(
        "credit-risk", small_model, example=credit_frame[list(FEATURES)].head(50)
    )
    as_user("aaron").models.approve(v.ref, comment="ok", role="approver")
    alice.models.set_alias("credit-risk", "champion", 1)
    alice.models.set_alias("credit-risk", "staging", 1)
    return alice


def test_every_change_is_audited_and_chain_verifies(as_user, small_model, credit_frame) -> None:
    yard = _history(as_user, small_model, credit_frame)
    actions = [e.action for e in yard.audit.events(newest_first=False)]
    assert actions == [
        "model.create",
        "version.register",
        "approval.approve",
        "alias.set",
        "alias.set",
    ]
    events = yard.audit.events(newest_first=False)
    assert events[2].actor == "aaron" and events[2].subject == "model/credit-risk/1"
    assert events[3].payload == {"before": None, "after": 1}
    result = yard.audit.verify()
    assert result.ok and result.events == 5 and result.head == events[-1].hash


def test_verify_detects_update(as_user, small_model, credit_frame) -> None:
    yard = _history(as_user, small_model, credit_frame)
    with yard.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3"))
    result = yard.audit.verify()
    assert not result.ok and result.first_bad_seq == 3 and "edited" in result.problem


def test_verify_detects_delete(as_user, small_model, credit_frame) -> None:
    yard = _history(as_user, small_model, credit_frame)
    with yard.store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 2"))
    result = yard.audit.verify()
    assert not result.ok and result.first_bad_seq == 2 and "missing" in result.problem


def test_verify_detects_insert(as_user, small_model, credit_frame) -> None:
    yard = _history(as_user, small_model, credit_frame)
    with yard.store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_events"
                " (seq, time, actor, action, subject, payload, prev_hash, hash)"
                " VALUES (6, 0, 'mallory', 'alias.set', 'model/credit-risk@champion',"
                " '{}', :p, :h)"
            ),
            {"p": "f" * 64, "h": "e" * 64},
        )
    result = yard.audit.verify()
    assert not result.ok and result.first_bad_seq == 6 and "does not link" in result.problem


def test_recording_a_pipeline_event_needs_run_write_and_a_small_detail(tmp_path) -> None:
    import modelyard
    from modelyard.errors import InvalidInput, PermissionDenied

    url = f"sqlite:///{tmp_path / 'events.db'}"
    from modelyard.testing.identity import govern

    people = {"root": ["admin"], "vic": ["viewer"], "dev": ["developer"]}
    tokens = govern(url, people, artifact_root=str(tmp_path / "a"))
    with modelyard.connect(url, artifact_root=str(tmp_path / "a"), token=tokens["root"]) as admin:
        with (
            admin.with_token(tokens["vic"]) as viewer,
            pytest.raises(PermissionDenied, match="may not record pipeline events"),
        ):
            viewer.audit.record("gate.pass", "model/m", {"auc": 0.8})
        with admin.with_token(tokens["dev"]) as dev:
            with pytest.raises(InvalidInput, match="at most 16,384"):
                dev.audit.record("gate.pass", "model/m", {"blob": "x" * 20_000})
            with pytest.raises(InvalidInput, match="cannot be recorded by callers"):
                dev.audit.record("approval.approve", "model/m/1", {})
            event = dev.audit.record("gate.pass", "model/m", {"auc": 0.8})
        assert (event.actor, event.action, event.payload) == ("dev", "gate.pass", {"auc": 0.8})
        assert [e.seq for e in admin.audit.events(action="gate.pass")] == [event.seq]
        assert admin.audit.verify().ok


def test_the_subject_filter_treats_underscores_literally(tmp_path) -> None:
    import modelyard

    url = f"sqlite:///{tmp_path / 'events.db'}"
    with modelyard.connect(url, artifact_root=str(tmp_path / "a"), user="root") as yard:
        yard.audit.record("gate.pass", "model/credit_risk", {})
        yard.audit.record("gate.pass", "model/credit-risk/3", {})
        found = yard.audit.events(subject="model/credit_risk")
        assert [e.subject for e in found] == ["model/credit_risk"]
