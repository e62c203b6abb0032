"""Users whose identity and roles an external identity provider vouches for (SSO).

The platform server proves a person with the identity provider's signed token,
then keeps a user row for them so the services' own role checks and the audit
trail work exactly as for local users. The row is the provider's: created on
first sign-in, its roles replaced whenever the provider's claims map to other
roles, and marked ``created_by = source`` (``sso:<issuer>``). Three rules keep
the provider from reaching further than that:

- it never takes over a local user (one added with ``modelyard users add``);
- it never re-enables a user an admin disabled;
- it never creates the first user of a store: a store in open mode (no users,
  everyone holds every role) must get its admin locally first, or the first
  SSO sign-in would end open mode without an admin.

Every creation and role change is audited with the source as the actor.
"""

from __future__ import annotations

from sqlalchemy import func, select

from modelyard._util.clock import now_ms
from modelyard._util.names import check_name
from modelyard.errors import Conflict, PermissionDenied
from modelyard.registry import audit
from modelyard.registry.roles import ROLES, Actor
from modelyard.store import MetadataStore
from modelyard.store.models import User

__all__ = ["SOURCE_PREFIX", "refuse_self_service_token", "sync_external_user"]

SOURCE_PREFIX = "sso:"

_ROW = select(User.roles, User.disabled, User.created_by)


def sync_external_user(
    store: MetadataStore,
    name: str,
    roles: frozenset[str],
    *,
    source: str,
    display_name: str = "",
) -> Actor:
    """The user ``name`` holding exactly ``roles``, as the provider ``source`` says.

    Reads one row when nothing changed; writes (and audits) only a new user or
    new roles. Raises ``PermissionDenied`` for a local or disabled user and on
    a store with no users yet.
    """
    check_name(name, "user name from the identity provider")
    unknown = sorted(roles - set(ROLES))
    if unknown:
        raise PermissionDenied(f"the identity provider mapped unknown role(s) {unknown}")
    wanted = [r for r in ROLES if r in roles]
    with store.read_connection() as conn:
        row = conn.execute(_ROW.where(User.name == name)).first()
    if row is not None:
        _check_owned(name, row.created_by, row.disabled, source)
        if list(row.roles or ()) == wanted:
            return Actor(name, frozenset(wanted))
    for attempt in range(2):
        try:
            return _write(store, name, wanted, source, display_name)
        except Conflict:
            # Two first requests of one user raced to create the row: read it again.
            if attempt:
                raise
    raise AssertionError("unreachable")


def refuse_self_service_token(created_by: str) -> None:
    """Refuse a user the provider vouches for a long-lived token of their own making."""
    if created_by.startswith(SOURCE_PREFIX):
        raise PermissionDenied(
            "users who sign in with single sign-on may not create their own API tokens: a "
            "token would outlive the identity provider's groups; machines use the provider's "
            "client credentials, or an admin creates a token",
            details={"missing_permission": "user.manage"},
        )


def _check_owned(name: str, created_by: str, disabled: bool, source: str) -> None:
    if created_by != source:
        raise PermissionDenied(
            f"user {name!r} is a local user of this store, not one provided by single sign-on; "
            "an SSO sign-in may not act as them (rename one of the two, or map another claim "
            "with oidc_user_claim)"
        )
    if disabled:
        raise PermissionDenied(f"user {name!r} is disabled in this store")


def _write(store: MetadataStore, name: str, wanted: list[str], source: str, display: str) -> Actor:
    with store.write() as session:
        row = session.get(User, name)
        if row is None:
            if not session.execute(select(func.count()).select_from(User)).scalar():
                raise PermissionDenied(
                    "this store has no users yet (open mode); add its first admin with "
                    "'modelyard users add NAME --role admin' before signing in with SSO"
                )
            session.add(
                User(
                    name=name,
                    display_name=display[:255],
                    roles=wanted,
                    disabled=False,
                    created_at=now_ms(),
                    created_by=source,
                )
            )
            session.flush()
            audit.append(
                session,
                source,
                "user.add",
                f"user/{name}",
                {"after": {"name": name, "roles": wanted}, "via": "sso"},
            )
            return Actor(name, frozenset(wanted))
        _check_owned(name, row.created_by, row.disabled, source)
        before = list(row.roles or ())
        if before != wanted:
            row.roles = list(wanted)
            audit.append(
                session,
                source,
                "user.roles",
                f"user/{name}",
                {"before": before, "after": wanted, "via": "sso"},
            )
        return Actor(name, frozenset(wanted))
