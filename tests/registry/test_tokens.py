"""API tokens and web sessions: hashed at rest, expiring, revocable, audited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from modelyard.errors import InvalidInput, NotFound, PermissionDenied
from modelyard.registry.tokens import Unauthenticated, parse_duration


@pytest.fixture
def users(as_user):
    root = as_user.bootstrap("root")
    root.users.add("dev", ["developer"])
    root.users.add("eve", ["viewer"])
    return as_user


def test_parse_duration():
    assert parse_duration("90d") == 90 * 86_400_000
    assert parse_duration("12h") == 12 * 3_600_000
    assert parse_duration(" 2w ") == 14 * 86_400_000
    assert parse_duration(timedelta(minutes=5)) == 300_000
    assert parse_duration("never") is None and parse_duration(None) is None
    for bad in ("90", "1y", "-1d", "0s", True):
        with pytest.raises(InvalidInput, match="expires_in"):
            parse_duration(bad)


def test_tokens_are_shown_once_and_stored_as_sha256(users):
    dev = users("dev")
    created = dev.tokens.create(name="laptop")
    assert created.secret.startswith("myd_") and created.info.user == "dev"
    assert dev.tokens.authenticate(created.secret) == "dev"
    with dev.store.read() as session:
        from modelyard.store.models import ApiToken

        row = session.get(ApiToken, created.info.id)
        assert row.token_hash == hashlib.sha256(created.secret.encode()).hexdigest()
    assert dev.tokens.list("dev")[0].last_used_at is not None
    events = dev.audit.events(action="token.create", limit=1)
    assert events[0].actor == "dev" and created.secret not in str(events[0].payload)


def test_only_admins_manage_other_users_tokens(users):
    dev, root = users("dev"), users("root")
    with pytest.raises(PermissionDenied, match=r"user\.manage|admin"):
        dev.tokens.create("eve")
    theirs = root.tokens.create("eve", expires_in="1h")
    with pytest.raises(PermissionDenied):
        dev.tokens.revoke(theirs.info.id)
    with pytest.raises(PermissionDenied):
        dev.tokens.list()
    assert root.tokens.revoke(theirs.info.id).status == "revoked"
    with pytest.raises(Unauthenticated, match="revoked"):
        root.tokens.authenticate(theirs.secret)
    with pytest.raises(NotFound):
        root.tokens.create("nobody")


@pytest.mark.parametrize(
    ("secret", "message"),
    [(None, "no API token"), ("abc", "malformed"), ("myd_unknown", "unknown")],
)
def test_bad_tokens_are_unauthenticated(users, secret, message):
    with pytest.raises(Unauthenticated, match=message):
        users("dev").tokens.authenticate(secret)


def test_sessions_need_the_users_own_token_and_end_at_logout(users):
    dev = users("dev")
    token = dev.tokens.create().secret
    with pytest.raises(Unauthenticated, match="does not belong"):
        dev.tokens.login("eve", token)
    secret, session = dev.tokens.login("dev", token)
    assert dev.tokens.session(secret) == session and len(session.csrf_token) > 30
    dev.tokens.logout(secret)
    with pytest.raises(Unauthenticated, match="ended"):
        dev.tokens.session(secret)
    actions = [e.action for e in dev.audit.events(subject="user/dev", limit=3)]
    assert actions[:2] == ["user.logout", "user.login"]


def test_a_session_ends_when_its_token_is_revoked_and_never_outlives_it(users):
    dev = users("dev")
    created = dev.tokens.create(expires_in="1h")
    secret, session = dev.tokens.login("dev", created.secret)
    # A 12-hour session opened with a 1-hour token lasts one hour.
    assert session.expires_at <= created.info.expires_at
    assert dev.tokens.session(secret) == session
    dev.tokens.revoke(created.info.id)
    with pytest.raises(Unauthenticated, match="token you signed in with was revoked"):
        dev.tokens.session(secret)
