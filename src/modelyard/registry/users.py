"""Users and their roles, and resolution of the acting user.

Who acts is either *proven* or *claimed*. A proven name comes from a token
(``TokenService.identify``) or from the platform server, which checked one.
A claimed name (``ClaimedName``: ``MODELYARD_USER``, the login name) is
whatever the process says; it is good only while the store has no users
(open mode, the embedded default on a laptop). Once a store has users,
``resolve_actor`` refuses every claimed name with ``Unauthenticated`` and
says how to prove it, so ``MODELYARD_USER=aaron`` cannot approve as aaron.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, func, select, text
from sqlalchemy.orm import Session

from modelyard._util.clock import now_ms
from modelyard.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Unauthenticated
from modelyard.registry import audit
from modelyard.registry.entities import UserInfo
from modelyard.registry.roles import ROLES, Actor, check_roles
from modelyard.store import MetadataStore
from modelyard.store.models import User

if TYPE_CHECKING:
    from modelyard.registry.tokens import NewToken

__all__ = ["ClaimedName", "UserService", "identity_required", "resolve_actor"]


class ClaimedName(str):
    """A user name the process only claims: it acts in open mode, never on a store with users."""

    __slots__ = ()


def identity_required(claimed: str | None = None) -> str:
    """What to tell someone who acts on a store with users without a token."""
    told = (
        f" A name (MODELYARD_USER or your login, here {claimed!r}) is a claim, not a proof, "
        "and is not accepted here."
        if claimed
        else ""
    )
    return (
        "this store has users, so every command must prove who is acting: run "
        "'modelyard login' with a token an admin issued you ('modelyard tokens create --user "
        "NAME'), or set MODELYARD_TOKEN." + told
    )


def _info(row: User) -> UserInfo:
    return UserInfo(
        row.name, row.display_name, tuple(row.roles), row.disabled, row.created_at, row.created_by
    )


_USER_ROW = select(User.roles, User.disabled).where(User.name == bindparam("name"))
_USER_COUNT = select(func.count()).select_from(User)


def resolve_actor(conn: Session | Connection, name: str) -> Actor:
    """The acting user's roles; open mode (every role) while no user is registered.

    Works on a Session or a Core Connection (the registry's fast paths). A
    ``ClaimedName`` is refused with ``Unauthenticated`` once the store has users.
    """
    if isinstance(name, ClaimedName):
        if conn.execute(_USER_COUNT).scalar():
            raise Unauthenticated(identity_required(str(name)))
        return Actor(str(name), frozenset(ROLES), open_mode=True)
    row = conn.execute(_USER_ROW, {"name": name}).first()
    if row is None:
        if not conn.execute(_USER_COUNT).scalar():
            return Actor(name, frozenset(ROLES), open_mode=True)
        raise PermissionDenied(
            f"user {name!r} is not registered in this store; ask an admin to run "
            f"'modelyard users add {name} --role ...'"
        )
    roles, disabled = row
    if disabled:
        raise PermissionDenied(f"user {name!r} is disabled")
    return Actor(name, frozenset(roles))


class UserService:
    def __init__(self, store: MetadataStore, *, user: str) -> None:
        self._store = store
        self._user = user

    def actor(self) -> Actor:
        with self._store.read() as session:
            return resolve_actor(session, self._user)

    def is_open(self) -> bool:
        """True while the store has no users (open mode: no token needed, every role held)."""
        with self._store.read_connection() as conn:
            return not conn.execute(_USER_COUNT).scalar()

    def add(self, name: str, roles: list[str] | str, *, display_name: str = "") -> UserInfo:
        """Add a user; needs an admin. The first user is made with ``bootstrap`` instead."""
        from modelyard._util.names import check_name

        check_name(name, "user name")
        role_list = check_roles(roles)
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            if actor.open_mode:
                raise InvalidInput(
                    "this store has no users yet: the first one is an admin made with "
                    f"yard.users.bootstrap({name!r}) ('modelyard users add {name} --role admin'), "
                    "which returns their token; without it nobody could act afterwards"
                )
            actor.require("user.manage", "add users")
            return self._insert(session, name, role_list, display_name)

    def bootstrap(
        self,
        name: str,
        roles: list[str] | str = ("admin",),
        *,
        display_name: str = "",
        expires_in: str | int | None = "90d",
    ) -> NewToken:
        """Create the first user, an admin, and a token for them (its secret is shown once).

        Only on a store with no users: from then on every command needs a
        token, and more users need an admin's. Refused (``Conflict``) when the
        store has users, even if two first-admin requests race.
        """
        from modelyard._util.names import check_name
        from modelyard.registry.tokens import issue_token

        check_name(name, "user name")
        role_list = check_roles(list(roles) if not isinstance(roles, str) else roles)
        if "admin" not in role_list:
            raise InvalidInput(
                "the first user must hold the admin role, or nobody could manage users; "
                f"e.g. 'modelyard users add {name} --role admin'"
            )
        with self._store.write() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Two first-admin requests must not both see an empty table (SQLite's
                # BEGIN IMMEDIATE already serialises writers).
                session.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
            if session.execute(_USER_COUNT).scalar():
                raise Conflict(
                    "this store has users already; the first admin is made only once. "
                    + identity_required()
                    + " An admin then adds users with 'modelyard users add NAME --role ...'."
                )
            self._insert(session, name, role_list, display_name, bootstrap=True)
            return issue_token(session, name, by=name, name="first admin", expires_in=expires_in)

    def _insert(
        self,
        session: Session,
        name: str,
        role_list: tuple[str, ...],
        display_name: str,
        *,
        bootstrap: bool = False,
    ) -> UserInfo:
        if session.get(User, name) is not None:
            raise Conflict(f"user {name!r} exists already; see 'modelyard users list'")
        row = User(
            name=name,
            display_name=display_name,
            roles=list(role_list),
            disabled=False,
            created_at=now_ms(),
            created_by=str(self._user),
        )
        session.add(row)
        session.flush()
        payload: dict[str, object] = {"after": _info(row).to_dict()}
        if bootstrap:
            payload["bootstrap"] = True  # the first admin, made in open mode by a claimed name
        audit.append(session, str(self._user), "user.add", f"user/{name}", payload)
        return _info(row)

    def set_roles(self, name: str, roles: list[str] | str) -> UserInfo:
        role_list = check_roles(roles)
        with self._store.write() as session:
            resolve_actor(session, self._user).require("user.manage", "change roles")
            row = self._row(session, name)
            before = list(row.roles)
            row.roles = list(role_list)
            audit.append(
                session,
                self._user,
                "user.roles",
                f"user/{name}",
                {"before": before, "after": list(role_list)},
            )
            return _info(row)

    def disable(self, name: str) -> UserInfo:
        with self._store.write() as session:
            resolve_actor(session, self._user).require("user.manage", "disable users")
            row = self._row(session, name)
            if row.disabled:
                return _info(row)
            row.disabled = True
            audit.append(session, self._user, "user.disable", f"user/{name}", {})
            return _info(row)

    def list(self) -> list[UserInfo]:
        with self._store.read() as session:
            return [_info(r) for r in session.scalars(select(User).order_by(User.name))]

    def get(self, name: str) -> UserInfo:
        with self._store.read() as session:
            return _info(self._row(session, name))

    def _row(self, session: Session, name: str) -> User:
        row = session.get(User, name)
        if row is None:
            raise NotFound(f"no user {name!r}; see 'modelyard users list'")
        return row
