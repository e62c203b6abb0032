"""Four-eyes sign-offs, the tier policy on protected aliases, and role enforcement."""

from __future__ import annotations

import pytest

from modelyard.data.synthetic import FEATURES
from modelyard.errors import InvalidInput, PermissionDenied, Unauthenticated


@pytest.fixture
def version(as_user, small_model, credit_frame):
    alice = as_user("alice")
    alice.models.create("credit-risk", risk_tier=1)
    return alice.models.register(
        "credit-risk", small_model, example=credit_frame[list(FEATURES)].head(100)
    )


def test_registrant_cannot_sign_off_own_version(as_user, version) -> None:
    with pytest.raises(PermissionDenied, match="four-eyes: alice registered credit-risk/1"):
        as_user("alice").models.approve(version.ref, comment="looks fine")


def test_champion_refused_until_both_sign_offs(as_user, version) -> None:
    alice = as_user("alice")
    with pytest.raises(PermissionDenied, match="needs sign-off by validator and approver") as err:
        alice.models.set_alias("credit-risk", "champion", 1)
    assert err.value.details == {"missing_sign_offs": ["validator", "approver"]}
    as_user("vera").models.approve(version.ref, comment="validated", role="validator")
    assert alice.models.get(version.ref).state == "validated"
    with pytest.raises(PermissionDenied, match="needs sign-off by approver"):
        alice.models.set_alias("credit-risk", "champion", 1)
    as_user("aaron").models.approve(version.ref, comment="approved", role="approver")
    assert alice.models.get(version.ref).state == "approved"
    moved = alice.models.set_alias("credit-risk", "champion", 1)
    assert moved.aliases == ("champion",) and moved.state == "deployed"


def test_same_person_cannot_be_validator_and_approver(as_user, version) -> None:
    vera = as_user("vera")
    vera.models.approve(version.ref, role="validator")
    with pytest.raises(PermissionDenied, match="already signed off credit-risk/1 as validator"):
        vera.models.approve(version.ref, role="approver")


def test_rejection_withdraws_sign_off(as_user, version) -> None:
    as_user("vera").models.approve(version.ref, role="validator")
    as_user("aaron").models.approve(version.ref, role="approver")
    with pytest.raises(InvalidInput, match="needs a comment"):
        as_user("aaron").models.reject(version.ref, comment=" ")
    as_user("aaron").models.reject(version.ref, comment="KS below policy", role="approver")
    alice = as_user("alice")
    assert alice.models.get(version.ref).state == "registered"
    assert alice.models.missing_sign_offs(version.ref) == ["approver"]
    with pytest.raises(PermissionDenied, match="approver"):
        alice.models.set_alias("credit-risk", "champion", 1)


def test_lower_tiers_need_less(as_user, small_model, credit_frame) -> None:
    alice = as_user("alice")
    alice.models.create("pricing", risk_tier=3)
    v = alice.models.register("pricing", small_model, example=credit_frame[list(FEATURES)].head(50))
    assert alice.models.set_alias("pricing", "champion", v.version).aliases == ("champion",)
    alice.models.create("marketing", risk_tier=2)
    v = alice.models.register(
        "marketing", small_model, example=credit_frame[list(FEATURES)].head(50)
    )
    with pytest.raises(PermissionDenied, match="needs sign-off by approver"):
        alice.models.set_alias("marketing", "champion", v.version)


def test_roles_are_enforced_once_users_exist(as_user, version) -> None:
    with pytest.raises(InvalidInput, match="first user must hold the admin role"):
        as_user("root").users.bootstrap("root", ["viewer"])
    root = as_user.bootstrap("root")
    root.users.add("vic", ["viewer"])
    root.users.add("vera", ["validator"])
    root.users.add("alice", ["developer"])
    with pytest.raises(
        PermissionDenied, match=r"vic may not sign off as validator|holds no sign-off"
    ):
        as_user("vic").models.approve(version.ref, role="validator")
    # Not a user: no token can be had, and a claimed name is refused.
    with pytest.raises(Unauthenticated, match="modelyard login"):
        as_user("mallory").models.get_model("credit-risk")
    as_user("vera").models.approve(version.ref, role="validator")
    with pytest.raises(PermissionDenied, match="vera may not sign off as approver"):
        as_user("vera").models.approve(version.ref, role="approver")
    with pytest.raises(PermissionDenied, match="may not add users"):
        as_user("alice").users.add("eve", ["admin"])
    root.users.disable("vic")
    with pytest.raises(PermissionDenied, match="disabled"):
        as_user("vic").models.approve(version.ref, role="validator")
