"""Users and their roles, and resolution of the acting user."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from modelyard._util.clock import now_ms
from modelyard.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from modelyard.registry import audit
from modelyard.registry.entities import UserInfo
from modelyard.registry.roles import ROLES, Actor, check_roles
from modelyard.store import MetadataStore
from modelyard.store.models import User

__all__ = ["UserService", "resolve_actor"]


def _info(row: User) -> UserInfo:
    return UserInfo(
        row.name, row.display_name, tuple(row.roles), row.disabled, row.created_at, row.created_by
    )


_USER_ROW = select(User.roles, User.disabled).where(User.name == bindparam("name"))
_USER_COUNT = select(func.count()).select_from(User)


def resolve_actor(conn: Session | Connection, name: str) -> Actor:
    """The acting user's roles; open mode (every role) while no user is registered.

    Works on a Session or a Core Connection (the registry's fast paths).
    """
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

    def add(self, name: str, roles: list[str] | str, *, display_name: str = "") -> UserInfo:
        from modelyard._util.names import check_name

        check_name(name, "user name")
        role_list = check_roles(roles)
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            if actor.open_mode:
                if "admin" not in role_list:
                    raise InvalidInput(
                        "the first user must hold the admin role, or nobody could manage users; "
                        f"e.g. 'modelyard users add {name} --role admin'"
                    )
            else:
                actor.require("user.manage", "add users")
            if session.get(User, name) is not None:
                raise Conflict(f"user {name!r} exists already; see 'modelyard users list'")
            row = User(
                name=name,
                display_name=display_name,
                roles=list(role_list),
                disabled=False,
                created_at=now_ms(),
                created_by=self._user,
            )
            session.add(row)
            session.flush()
            audit.append(
                session, self._user, "user.add", f"user/{name}", {"after": _info(row).to_dict()}
            )
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
