"""Deleting the last audit events is caught by a checkpoint kept outside the database.

Issue 13: deleting the last event left a shorter chain that ``audit verify``
accepted, and alias changes were missing from per-model audit queries.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from governed import open_store, signed_off_champion
from sqlalchemy import delete, func, select

from modelyard.cli import _context
from modelyard.cli.main import main
from modelyard.errors import InvalidInput, NotFound
from modelyard.registry import audit, checkpoint
from modelyard.store.models import AuditEvent


@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "outside" / "audit-head.json"
    monkeypatch.setenv("MODELYARD_AUDIT_CHECKPOINT", str(path))
    return path


def _delete_last(yard, count: int = 1) -> None:
    with yard.store.write() as session:
        last = session.scalar(select(func.max(AuditEvent.seq)))
        session.execute(delete(AuditEvent).where(AuditEvent.seq > last - count))


def test_deleting_the_last_event_is_reported_with_a_checkpoint(
    store_url: str, tmp_path: Path, sink: Path
) -> None:
    owner, yard = signed_off_champion(store_url, tmp_path)
    try:
        head = yard.audit.events(limit=1)[0]
        written = json.loads(sink.read_text())
        assert (written["seq"], written["hash"]) == (head.seq, head.hash)  # after every event
        assert head.action == "alias.set"
        assert yard.audit.verify(checkpoint=str(sink)).ok
        _delete_last(yard)
        alone = yard.audit.verify()
        assert alone.ok  # the chain by itself cannot tell: the reason for the checkpoint
        result = yard.audit.verify(checkpoint=str(sink))
        assert not result.ok
        assert result.first_bad_seq == head.seq and result.checkpoint_seq == head.seq
        assert f"the chain ends at event {head.seq - 1}" in result.problem
        assert "1 event(s) at the tail were deleted" in result.problem
    finally:
        owner.close()


def test_a_rewritten_tail_is_reported(store_url: str, tmp_path: Path, sink: Path) -> None:
    """Delete the last event and append a different one: same length, different head."""
    owner, yard = signed_off_champion(store_url, tmp_path)
    try:
        head = yard.audit.events(limit=1)[0]
        _delete_last(yard)
        with yard.store.engine.begin() as conn:  # behind the store's back: no checkpoint write
            audit.append(conn, "appr", "alias.set", "model/credit-risk@champion", {"after": 1})
        assert yard.audit.verify().ok
        result = yard.audit.verify(checkpoint=str(sink))
        assert not result.ok and result.first_bad_seq == head.seq
        assert "rewritten" in result.problem
    finally:
        owner.close()


def test_cli_checkpoint_and_verify(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # No sink configured: the CLI writes the checkpoint.
    owner, yard = signed_off_champion(store_url, tmp_path)
    token = yard.tokens.create("root", name="cli", expires_in="1d").secret
    owner.close()
    monkeypatch.setenv("MODELYARD_STORE_URL", store_url)
    monkeypatch.setenv("MODELYARD_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MODELYARD_USER", "root")
    monkeypatch.setenv("MODELYARD_TOKEN", token)  # identity is proven once a store has users
    monkeypatch.setenv("COLUMNS", "200")
    target = tmp_path / "head.json"

    def run(*args: str) -> tuple[int, str, str]:
        _context.yard.cache_clear()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    # Opened before the checkpoint: proving who opens it records a token event of its own.
    yard = open_store(store_url, tmp_path)
    try:
        code, out, _ = run("audit", "checkpoint", "--to", str(target))
        assert code == 0 and "checkpointed event" in out
        code, out, _ = run("audit", "verify", "--checkpoint", str(target))
        assert code == 0 and "matches checkpoint" in out
        _delete_last(yard)
        yard.close()
        code, _, err = run("audit", "verify", "--checkpoint", str(target))
        assert code == 6
        assert "at the tail were deleted" in " ".join(err.split())
        code, _, err = run("audit", "checkpoint")
        assert code != 0 and "MODELYARD_AUDIT_CHECKPOINT" in " ".join(err.split())
    finally:
        _context.yard.cache_clear()


def test_a_prefix_sink_keeps_write_once_checkpoints(tmp_path: Path) -> None:
    prefix = f"{tmp_path / 'worm'}/"
    first = checkpoint.write(prefix, 3, "a" * 64)
    checkpoint.write(prefix, 9, "b" * 64)
    checkpoint.write(prefix, 3, "c" * 64)  # an existing object is never overwritten
    names = sorted(p.name for p in (tmp_path / "worm").iterdir())
    assert names == ["000000000003.json", "000000000009.json"]
    assert checkpoint.read(prefix).seq == 9
    assert json.loads((tmp_path / "worm" / names[0]).read_text())["hash"] == first.hash


def test_a_single_file_sink_never_moves_back(tmp_path: Path) -> None:
    path = str(tmp_path / "head.json")
    checkpoint.write(path, 9, "b" * 64)
    assert checkpoint.write(path, 3, "a" * 64).seq == 9
    assert checkpoint.read(path).seq == 9


def test_bad_checkpoints_are_named(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no audit checkpoint at"):
        checkpoint.read(str(tmp_path / "missing.json"))
    with pytest.raises(NotFound, match="no audit checkpoint under"):
        checkpoint.read(f"{tmp_path / 'empty'}/")
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    with pytest.raises(InvalidInput, match="is not a checkpoint"):
        checkpoint.read(str(junk))
    junk.write_text('{"seq": 0, "hash": "x"}')
    with pytest.raises(InvalidInput, match="bad seq or hash"):
        checkpoint.read(str(junk))


def test_a_failing_sink_is_logged_and_the_change_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the sink's folder should be")
    monkeypatch.setenv("MODELYARD_AUDIT_CHECKPOINT", str(blocker / "head.json"))
    yard = open_store(f"sqlite:///{tmp_path / 'yard.db'}", tmp_path)
    try:
        with caplog.at_level(logging.ERROR, logger="modelyard.audit"):
            info = yard.models.create("kept")
        assert yard.models.get_model("kept").id == info.id
        assert "could not write the audit checkpoint" in caplog.text
    finally:
        yard.close()


def test_checkpoint_of_an_empty_trail_is_refused(tmp_path: Path) -> None:
    yard = open_store(f"sqlite:///{tmp_path / 'yard.db'}", tmp_path)
    try:
        with pytest.raises(InvalidInput, match="audit trail is empty"):
            yard.audit.checkpoint(str(tmp_path / "head.json"))
    finally:
        yard.close()


def test_alias_events_appear_in_per_model_queries(store_url: str, tmp_path: Path) -> None:
    owner, yard = signed_off_champion(store_url, tmp_path)
    try:
        dev = yard.view_as("dev")
        dev.models.set_alias("credit-risk", "staging", 1)
        dev.models.delete_alias("credit-risk", "staging")
        dev.models.create("credit-risk-2")
        dev.models.register_artifact("credit-risk-2", yard.models.get("seed/1").artifact_digest)
        dev.models.set_alias("credit-risk-2", "staging", 1)
        events = yard.audit.events(subject="model/credit-risk", limit=100)
        subjects = {(e.action, e.subject) for e in events}
        assert ("alias.set", "model/credit-risk@champion") in subjects
        assert ("alias.set", "model/credit-risk@staging") in subjects
        assert ("alias.delete", "model/credit-risk@staging") in subjects
        assert ("approval.approve", "model/credit-risk/1") in subjects
        assert all(not e.subject.startswith("model/credit-risk-2") for e in events)
    finally:
        owner.close()


def test_alias_events_over_the_rest_api_and_remote_verify(site, tmp_path: Path) -> None:
    from governed import tiny_model

    import modelyard

    dev = site.local("dev")
    try:
        model, example = tiny_model()
        dev.models.create("audited", risk_tier=3)
        dev.models.register("audited", model, example=example.head(20))
        dev.models.set_alias("audited", "staging", 1)
    finally:
        dev.close()
    with site.client("viewer") as viewer:
        found = viewer.get("/api/v1/audit/events", params={"subject": "model/audited"}).json()
    assert "model/audited@staging" in {e["subject"] for e in found["items"]}
    remote = modelyard.connect(site.url, token=site.tokens["viewer"])
    target = str(tmp_path / "remote-head.json")
    mark = remote.audit.checkpoint(target)
    assert remote.audit.verify(checkpoint=target).checkpoint_seq == mark.seq
    assert remote.audit.verify(checkpoint=target).ok
    checkpoint.write(target, mark.seq + 5, "f" * 64)  # a checkpoint ahead of the chain
    result = remote.audit.verify(checkpoint=target)
    assert not result.ok and "at the tail were deleted" in result.problem
