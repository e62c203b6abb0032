"""Users vouched for by an identity provider: synced roles, and what the provider may not do.

Works on the metadata store itself (SQLite and PostgreSQL): the platform
server calls ``sync_external_user`` after it verified the provider's token.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from modelyard.errors import InvalidInput, PermissionDenied
from modelyard.registry import audit
from modelyard.registry.external_users import refuse_self_service_token, sync_external_user
from modelyard.store.models import User

SOURCE = "sso:https://idp.bank.test"


class Governed:
    """A store with one local admin, read and changed directly (no acting user needed)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        with store.write() as session:
            session.add(
                User(
                    name="alice",
                    display_name="",
                    roles=["admin"],
                    disabled=False,
                    created_at=0,
                    created_by="alice",
                )
            )

    def user(self, name: str) -> User:
        with self.store.read() as session:
            row = session.get(User, name)
            session.expunge(row)
            return row

    def events(self, subject: str) -> list[audit.AuditRecord]:
        with self.store.read() as session:
            return audit.events(session, subject=subject, newest_first=False)

    def disable(self, name: str) -> None:
        with self.store.write() as session:
            session.get(User, name).disabled = True


@pytest.fixture
def governed(yard) -> Governed:
    return Governed(yard.store)


def test_a_new_user_is_created_with_the_mapped_roles_and_audited(governed) -> None:
    actor = sync_external_user(governed.store, "sam", frozenset({"validator"}), source=SOURCE)
    assert actor.roles == frozenset({"validator"})
    user = governed.user("sam")
    assert (user.roles, user.created_by) == (["validator"], SOURCE)
    [event] = governed.events("user/sam")
    assert (event.actor, event.action, event.payload["via"]) == (SOURCE, "user.add", "sso")


def test_roles_follow_the_provider_and_only_changes_are_written(governed) -> None:
    store = governed.store
    sync_external_user(store, "sam", frozenset({"developer"}), source=SOURCE)
    sync_external_user(store, "sam", frozenset({"developer"}), source=SOURCE)
    sync_external_user(store, "sam", frozenset(), source=SOURCE)
    assert governed.user("sam").roles == []
    events = governed.events("user/sam")
    assert [e.action for e in events] == ["user.add", "user.roles"]
    assert events[1].payload["before"] == ["developer"] and events[1].payload["after"] == []


def test_the_provider_never_takes_over_a_local_user(governed) -> None:
    with pytest.raises(PermissionDenied, match="'alice' is a local user"):
        sync_external_user(governed.store, "alice", frozenset({"viewer"}), source=SOURCE)
    assert governed.user("alice").roles == ["admin"]
    # Another issuer is another source: its users are not this one's either.
    sync_external_user(governed.store, "sam", frozenset({"viewer"}), source=SOURCE)
    with pytest.raises(PermissionDenied, match="local user"):
        sync_external_user(governed.store, "sam", frozenset({"viewer"}), source="sso:https://x")


def test_a_disabled_user_stays_disabled(governed) -> None:
    sync_external_user(governed.store, "sam", frozenset({"viewer"}), source=SOURCE)
    governed.disable("sam")
    with pytest.raises(PermissionDenied, match="disabled"):
        sync_external_user(governed.store, "sam", frozenset({"approver"}), source=SOURCE)
    assert governed.user("sam").disabled


def test_the_provider_never_creates_the_first_user_of_an_open_store(yard) -> None:
    with pytest.raises(PermissionDenied, match="no users yet"):
        sync_external_user(yard.store, "sam", frozenset({"admin"}), source=SOURCE)
    with yard.store.read() as session:
        assert session.get(User, "sam") is None


def test_a_bad_name_or_role_is_refused(governed) -> None:
    with pytest.raises(InvalidInput, match="user name from the identity provider"):
        sync_external_user(governed.store, "sam@bank.test", frozenset(), source=SOURCE)
    with pytest.raises(PermissionDenied, match="unknown role"):
        sync_external_user(governed.store, "sam", frozenset({"root"}), source=SOURCE)


def test_concurrent_first_sign_ins_create_one_user(governed) -> None:
    def sign_in(_: int) -> frozenset[str]:
        return sync_external_user(
            governed.store, "sam", frozenset({"developer"}), source=SOURCE
        ).roles

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(sign_in, range(16)))
    assert results == [frozenset({"developer"})] * 16
    assert [e.action for e in governed.events("user/sam")] == ["user.add"]


def test_self_service_tokens_are_refused_to_sso_users_only() -> None:
    refuse_self_service_token("alice")  # a local user's creator: nothing to refuse
    with pytest.raises(PermissionDenied, match="may not create their own API tokens"):
        refuse_self_service_token(SOURCE)
