"""Reason tables registered with a version: validated, stored, audited, shown on the card."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.data import synthetic
from modelyard.errors import Conflict, InvalidInput, PermissionDenied
from modelyard.explain import REASON_TABLE
from modelyard.reports.card import NO_REASON_TABLE

FEATURES = list(synthetic.FEATURES)


def _table(exclude: str = "age") -> dict[str, Any]:
    return {
        "reasons": {
            c: {"code": c[:3].upper(), "text": f"{c} counted against the application"}
            for c in FEATURES
            if c != exclude
        },
        "excluded": {exclude: "protected attribute"},
    }


def test_a_table_registered_with_the_version_is_stored_and_audited(
    yard: Any, small_model: Any, credit_frame: Any
) -> None:
    example = credit_frame[FEATURES].head(100)
    v = yard.models.register("credit-risk", small_model, example=example, reasons=_table())
    record = v.artifact(REASON_TABLE)
    assert record is not None and record.kind == "reasons"
    table = yard.models.reason_table("credit-risk/1")
    assert table.excluded == {"age": "protected attribute"}
    assert table.reasons["income"]["code"] == "INC"
    stored = yard.artifacts.get_bytes(record.digest)
    assert b'"protected attribute"' in stored
    events = yard.audit.events(subject="model/credit-risk/1", action="version.attach")
    assert events and events[0].payload["name"] == REASON_TABLE


def test_an_incomplete_table_is_refused_before_anything_is_recorded(
    sqlite_yard: Any, small_model: Any, credit_frame: Any
) -> None:
    table = _table()
    del table["reasons"]["income"]
    table["reasons"]["salary"] = {"code": "SAL", "text": "Salary"}
    with pytest.raises(InvalidInput) as info:
        sqlite_yard.models.register(
            "credit-risk", small_model, example=credit_frame[FEATURES].head(50), reasons=table
        )
    assert "['salary'] are not inputs" in str(info.value)
    assert "['income'] have no reason" in str(info.value)
    with pytest.raises(Exception, match="credit-risk"):
        sqlite_yard.models.get("credit-risk/1")


def test_a_version_without_a_signature_cannot_take_a_table(
    sqlite_yard: Any, small_model: Any
) -> None:
    with pytest.raises(InvalidInput, match="no input signature"):
        sqlite_yard.models.register("credit-risk", small_model, reasons=_table())


def test_set_reasons_replaces_until_sign_off_and_the_card_says_so(
    as_user: Any, small_model: Any, credit_frame: Any
) -> None:
    alice = as_user("alice")
    alice.models.register("credit-risk", small_model, example=credit_frame[FEATURES].head(50))
    assert alice.models.reason_table("credit-risk/1") is None
    card = alice.models.card("credit-risk/1")
    assert "No reviewed reason table exists" in card.markdown_path.read_text()
    assert NO_REASON_TABLE.split(":")[0] in card.html_path.read_text()
    alice.models.set_reasons("credit-risk/1", _table(exclude="region"))
    assert alice.models.reason_table("credit-risk/1").excluded == {"region": "protected attribute"}
    markdown = alice.models.card("credit-risk/1").markdown_path.read_text()
    assert "## Reason codes" in markdown and "| region | excluded | protected attribute" in markdown
    assert "No reviewed reason table" not in markdown
    # One standing sign-off (the validator's: the version is not approved yet) freezes it.
    as_user("vera").models.approve("credit-risk/1", role="validator")
    with pytest.raises(Conflict, match="frozen by the sign-offs of vera as validator") as info:
        alice.models.set_reasons("credit-risk/1", _table())
    assert info.value.details["rule"] == "reason-table-frozen"
    # Nor can the table be swapped by attaching a file under its name.
    digest = alice.artifacts.put_bytes(b"{}")
    with pytest.raises(Conflict, match="register a new version"):
        alice.models.attach("credit-risk/1", REASON_TABLE, digest, kind="reasons")
    as_user("aaron").models.approve("credit-risk/1", role="approver")
    with pytest.raises(Conflict, match="register a new version"):
        alice.models.set_reasons("credit-risk/1", _table())
    assert alice.models.reason_table("credit-risk/1").excluded == {"region": "protected attribute"}


def test_the_registry_guards_the_name_the_table_is_attached_under() -> None:
    from modelyard.registry import service

    assert service._REASON_TABLE_NAME == REASON_TABLE


def test_whoever_wrote_the_reason_texts_cannot_sign_the_version_off(
    as_user: Any, small_model: Any, credit_frame: Any
) -> None:
    """Attack: a validator writes the applicant-facing texts, then signs them off alone."""
    root = as_user.bootstrap("root")
    root.users.add("alice", ["developer"])
    root.users.add("vera", ["validator"])
    root.users.add("val", ["validator"])
    alice = as_user("alice")
    alice.models.register("credit-risk", small_model, example=credit_frame[FEATURES].head(50))
    vera = as_user("vera")
    vera.models.set_reasons("credit-risk/1", _table(exclude="region"))
    with pytest.raises(PermissionDenied, match="four-eyes: vera last set the reason table") as info:
        vera.models.approve("credit-risk/1", role="validator")
    assert info.value.details == {"rule": "four-eyes", "reason_table_by": "vera"}
    assert alice.models.get("credit-risk/1").state == "registered"
    # Someone else may review the texts vera wrote; the registrant's own table is covered
    # by the registrant rule already.
    assert as_user("val").models.approve("credit-risk/1", role="validator").state == "validated"


def test_the_table_of_a_champion_version_is_frozen_even_without_sign_offs(
    as_user: Any, small_model: Any, credit_frame: Any
) -> None:
    """Attack: rewrite what applicants read under a live champion whose tier needs no sign-off."""
    alice = as_user("alice")
    alice.models.create("pricing", risk_tier=3)
    example = credit_frame[FEATURES].head(50)
    v = alice.models.register("pricing", small_model, example=example, reasons=_table())
    alice.models.set_alias("pricing", "champion", v.version)
    with pytest.raises(Conflict, match="holds protected alias") as info:
        alice.models.set_reasons(v.ref, _table(exclude="region"))
    assert info.value.details["rule"] == "reason-table-frozen"
    digest = alice.artifacts.put_bytes(b"{}")
    with pytest.raises(Conflict, match="register a new version"):
        alice.models.attach(v.ref, REASON_TABLE, digest, kind="reasons")
    assert alice.models.reason_table(v.ref).excluded == {"age": "protected attribute"}
    # A version that is not live (yet) still takes a new table.
    w = alice.models.register("pricing", small_model, example=example)
    assert alice.models.set_reasons(w.ref, _table(exclude="region")).version == w.version
