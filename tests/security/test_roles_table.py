"""One role x action table, checked against what the registry does and against the docs.

``TABLE`` says which role may perform each governance action; one
parametrized test performs every action as every role on a governed store
(each case on a model of its own, prepared by other users) and compares.
``docs/trust-model.md`` carries the same table between markers, and a test
parses it, so the documented roles cannot drift from the enforced ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from governed import add_users, open_store, seed_digest

from modelyard.errors import PermissionDenied

ROLES = ("viewer", "developer", "validator", "approver", "admin")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "trust-model.md"

# action -> roles that may perform it (alone; the policy's sign-offs still apply to aliases)
TABLE: dict[str, set[str]] = {
    "read": set(ROLES),
    "register": {"developer", "admin"},
    "sign_off_validator": {"validator"},
    "sign_off_approver": {"approver"},
    "set_protected_alias": {"approver", "admin"},
    "set_unprotected_alias": {"developer", "approver", "admin"},
    "delete_protected_alias": {"approver", "admin"},
    "delete_unprotected_alias": {"developer", "approver", "admin"},
    "raise_tier": {"admin"},
    "lower_tier": set(),  # nobody alone: it takes a request and a second person
    "request_lower_tier": {"admin"},
    "sign_off_policy_change": {"validator", "approver"},
    "change_policy": {"admin"},
    "manage_users": {"admin"},
}

SETUP_USERS = {
    "setup-admin": ["admin"],
    "setup-dev": ["developer"],
    "setup-val": ["validator"],
    "setup-appr": ["approver"],
}


class Store:
    """A governed store shared by the module; each case prepares a model of its own."""

    def __init__(self, yard: Any, digest: str) -> None:
        self.yard = yard
        self.digest = digest

    def as_(self, user: str) -> Any:
        return self.yard.view_as(user)

    def base(self, name: str, tier: int = 1) -> None:
        dev = self.as_("setup-dev")
        dev.models.create(name, risk_tier=tier)
        dev.models.register_artifact(name, self.digest)

    def signed(self, name: str) -> None:
        self.base(name)
        self.as_("setup-val").models.approve(f"{name}/1", role="validator")
        self.as_("setup-appr").models.approve(f"{name}/1", role="approver")


def _prepare_and_act(store: Store, action: str, name: str) -> Callable[[Any], Any]:
    """Prepare model ``name`` for ``action``; return the action, to run as the role's user."""
    if action == "read":
        store.base(name)
        return lambda y: y.models.get_model(name)
    if action == "register":
        store.as_("setup-dev").models.create(name)
        return lambda y: y.models.register_artifact(name, store.digest)
    if action in ("sign_off_validator", "sign_off_approver"):
        store.base(name)
        role = action.removeprefix("sign_off_")
        return lambda y: y.models.approve(f"{name}/1", role=role)
    if action == "set_protected_alias":
        store.signed(name)
        return lambda y: y.models.set_alias(name, "champion", 1)
    if action == "set_unprotected_alias":
        store.base(name)
        return lambda y: y.models.set_alias(name, "staging", 1)
    if action == "delete_protected_alias":
        store.signed(name)
        store.as_("setup-appr").models.set_alias(name, "champion", 1)
        return lambda y: y.models.delete_alias(name, "champion")
    if action == "delete_unprotected_alias":
        store.base(name)
        store.as_("setup-dev").models.set_alias(name, "staging", 1)
        return lambda y: y.models.delete_alias(name, "staging")
    if action == "raise_tier":
        store.base(name, tier=3)
        return lambda y: y.models.update(name, risk_tier=1)
    if action == "lower_tier":
        store.base(name)
        return lambda y: y.models.update(name, risk_tier=3)
    if action == "request_lower_tier":
        store.base(name)
        return lambda y: y.models.request_policy_change(name, risk_tier=3)
    if action == "sign_off_policy_change":
        store.base(name)
        change = store.as_("setup-admin").models.request_policy_change(name, risk_tier=3)
        return lambda y: y.models.sign_off_policy_change(name, change.id)
    if action == "change_policy":
        store.base(name)
        return lambda y: y.models.update(
            name, policy={"protected_aliases": ["champion", "staging"]}
        )
    if action == "manage_users":
        return lambda y: y.users.add(f"new-{name}", ["viewer"])
    raise AssertionError(f"no case for action {action!r}")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("roles")
    owner = open_store(f"sqlite:///{root / 'yard.db'}", root, user="setup-admin")
    yard = add_users(owner, {**SETUP_USERS, **{f"u-{role}": [role] for role in ROLES}})
    yield Store(yard, seed_digest(yard.view_as("setup-dev")))
    owner.close()


@pytest.mark.parametrize("action", sorted(TABLE))
@pytest.mark.parametrize("role", ROLES)
def test_role_may_perform_action_exactly_as_the_table_says(
    store: Store, role: str, action: str
) -> None:
    act = _prepare_and_act(store, action, f"m-{role}-{action.replace('_', '-')}")
    try:
        act(store.as_(f"u-{role}"))
        allowed = True
    except PermissionDenied:
        allowed = False
    assert allowed == (role in TABLE[action]), (
        f"a {role} {'could' if allowed else 'could not'} {action}; the table says otherwise"
    )


def _docs_table() -> dict[str, set[str]]:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"<!-- roles-table:start -->(.*?)<!-- roles-table:end -->", text, re.S)
    assert match, f"{DOCS} has no roles table between <!-- roles-table:start/end --> markers"
    rows = [line for line in match.group(1).splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    assert header[2:] == list(ROLES), header
    table = {}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        action = cells[0].strip("`")
        table[action] = {role for role, cell in zip(ROLES, cells[2:], strict=True) if cell == "yes"}
    return table


def test_the_documented_table_is_the_enforced_one() -> None:
    assert _docs_table() == TABLE


def test_a_developer_cannot_move_or_delete_champion_over_the_rest_api(site) -> None:
    """Issue 13: a developer moved and deleted champion. Both are 403 now, on a tier-3 model too."""
    from governed import tiny_model

    dev = site.local("dev")
    try:
        model, example = tiny_model()
        dev.models.create("low-risk", risk_tier=3)
        dev.models.register("low-risk", model, example=example.head(20))
    finally:
        dev.close()
    with site.client("dev") as client:
        moved = client.put("/api/v1/models/low-risk/aliases/champion", json={"version": 1})
        assert moved.status_code == 403, moved.text
        assert "may not set alias 'champion'" in moved.json()["message"]
        assert client.put("/api/v1/models/low-risk/aliases/staging", json={"version": 1}).is_success
    with site.client("appr") as client:
        assert client.put(
            "/api/v1/models/low-risk/aliases/champion", json={"version": 1}
        ).is_success
    with site.client("dev") as client:
        deleted = client.delete("/api/v1/models/low-risk/aliases/champion")
        assert deleted.status_code == 403, deleted.text
        assert client.get("/api/v1/models/low-risk/aliases/champion").json()["version"] == 1
