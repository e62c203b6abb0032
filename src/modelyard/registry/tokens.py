"""API tokens and web sessions: who is calling the platform server.

A token is ``myd_`` plus 43 URL-safe random characters (256 bits). Only its
SHA-256 is stored; the secret is shown once, when it is created. A token
belongs to one registered user, may expire, and may be revoked; a revoked or
expired token, or one whose user is disabled, is refused with
``Unauthenticated`` (HTTP 401). Creating and revoking tokens are audited.

Web sessions (the browser UI) work the same way: the session cookie holds a
random secret whose SHA-256 is the stored key, and each session carries its
own CSRF token that every form must echo. Logging in takes a user name and
one of that user's API tokens, so the UI needs no second set of credentials.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from modelyard._util.clock import now_ms
from modelyard._util.clock import parse_duration as parse_duration_text
from modelyard.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from modelyard.registry import audit
from modelyard.registry.roles import Actor
from modelyard.registry.users import resolve_actor
from modelyard.store import MetadataStore
from modelyard.store.models import ApiToken, User, WebSession

__all__ = [
    "NewToken",
    "SessionInfo",
    "TokenInfo",
    "TokenService",
    "Unauthenticated",
    "hash_secret",
    "issue_token",
    "parse_duration",
]

TOKEN_PREFIX = "myd_"
SESSION_PREFIX = "mys_"
DEFAULT_EXPIRY = "90d"
SESSION_HOURS = 12
_TOUCH_EVERY_MS = 60_000  # last_used_at is refreshed at most once a minute per token


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_duration(value: str | int | timedelta | None) -> int | None:
    """``"90d"``, ``"12h"``, ``"30m"``, seconds, or ``None`` or ``"never"`` → ms (or None)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("never", "none")):
        return None
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        seconds = int(parse_duration_text(value, "expires_in").total_seconds())
    else:
        raise InvalidInput(
            f"expires_in must look like '90d', '12h', '30m', '2w' or 'never'; got {value!r}"
        )
    if seconds <= 0:
        raise InvalidInput(f"expires_in must be positive; got {value!r}")
    return seconds * 1000


@dataclass(frozen=True)
class TokenInfo:
    id: str
    user: str
    name: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now_ms():
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
            "status": self.status,
        }


@dataclass(frozen=True)
class NewToken:
    """A freshly created token: ``secret`` is shown once and never stored."""

    info: TokenInfo
    secret: str


@dataclass(frozen=True)
class SessionInfo:
    user: str
    csrf_token: str
    expires_at: int
    roles: frozenset[str] = frozenset()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.user,
        row.name,
        row.created_at,
        row.expires_at,
        row.revoked_at,
        row.last_used_at,
    )


_BY_HASH = select(
    ApiToken.id,
    ApiToken.user,
    ApiToken.expires_at,
    ApiToken.revoked_at,
    ApiToken.last_used_at,
    User.disabled,
    User.roles,
).join(User, User.name == ApiToken.user)


def issue_token(
    session: Session,
    owner: str,
    *,
    by: str,
    name: str = "",
    expires_in: str | int | timedelta | None = DEFAULT_EXPIRY,
) -> NewToken:
    """Mint a token for ``owner`` inside the caller's transaction (permissions already checked).

    ``TokenService.create`` and the first admin's bootstrap share it; the
    creation is audited as done by ``by``.
    """
    lifetime = parse_duration(expires_in)
    row_user = session.get(User, owner)
    if row_user is None:
        raise NotFound(
            f"no user {owner!r}; add it first with 'modelyard users add {owner} --role ...'"
        )
    if row_user.disabled:
        raise PermissionDenied(f"user {owner!r} is disabled; it cannot hold tokens")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now_ms()
    row = ApiToken(
        id=uuid.uuid4().hex,
        user=owner,
        name=name,
        token_hash=hash_secret(secret),
        created_at=now,
        expires_at=None if lifetime is None else now + lifetime,
        revoked_at=None,
        last_used_at=None,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        str(by),
        "token.create",
        f"user/{owner}/token/{row.id}",
        {"name": name, "expires_at": row.expires_at},
    )
    return NewToken(_info(row), secret)


class TokenService:
    """Tokens and sessions over one metadata store, acting as ``user``."""

    def __init__(self, store: MetadataStore, *, user: str) -> None:
        self._store = store
        self._user = user

    # -- tokens -------------------------------------------------------------
    def create(
        self,
        user: str | None = None,
        *,
        name: str = "",
        expires_in: str | int | timedelta | None = DEFAULT_EXPIRY,
    ) -> NewToken:
        """Create a token for ``user`` (default: the acting user). Admins may create for anyone."""
        owner = user or self._user
        if len(name) > 255:
            raise InvalidInput("token name must be at most 255 characters")
        parse_duration(expires_in)  # bad input fails before the transaction
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            if owner != self._user:
                actor.require("user.manage", f"create tokens for {owner!r}")
            return issue_token(session, owner, by=actor.name, name=name, expires_in=expires_in)

    def list(self, user: str | None = None, *, include_inactive: bool = True) -> list[TokenInfo]:
        """Tokens of ``user``; everyone's (``user=None``) needs ``user.manage``, own do not."""
        with self._store.read() as session:
            actor = resolve_actor(session, self._user)
            if user != self._user:
                actor.require("user.manage", "list other users' tokens")
            query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id)
            if user is not None:
                query = query.where(ApiToken.user == user)
            tokens = [_info(r) for r in session.scalars(query)]
        if not include_inactive:
            tokens = [t for t in tokens if t.status == "active"]
        return tokens

    def get(self, token_id: str) -> TokenInfo:
        with self._store.read() as session:
            actor = resolve_actor(session, self._user)
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no token {token_id!r}; see 'modelyard tokens list'")
            if row.user != self._user:
                actor.require("user.manage", "read other users' tokens")
            return _info(row)

    def revoke(self, token_id: str) -> TokenInfo:
        """Revoke a token at once; revoking twice is harmless."""
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            row = session.get(ApiToken, token_id)
            if row is None:
                raise NotFound(f"no token {token_id!r}; see 'modelyard tokens list'")
            if row.user != self._user:
                actor.require("user.manage", "revoke other users' tokens")
            if row.revoked_at is None:
                row.revoked_at = now_ms()
                audit.append(
                    session, self._user, "token.revoke", f"user/{row.user}/token/{row.id}", {}
                )
            return _info(row)

    def authenticate(self, secret: str | None) -> str:
        """The user a bearer token belongs to; ``Unauthenticated`` when it is not valid now."""
        return self.identify(secret).name

    def identify(self, secret: str | None) -> Actor:
        """The token's user with their roles, in one query (the server's per-request check)."""
        return self._identify(secret)[2]

    def _identify(self, secret: str | None) -> tuple[str, int | None, Actor]:
        """The token's id and expiry, and its user with their roles."""
        if not secret:
            raise Unauthenticated("no API token: send 'Authorization: Bearer myd_...'")
        if not secret.startswith(TOKEN_PREFIX):
            raise Unauthenticated("malformed API token: tokens start with 'myd_'")
        digest = hash_secret(secret)
        with self._store.read_connection() as conn:
            row = conn.execute(_BY_HASH.where(ApiToken.token_hash == digest)).first()
        if row is None:
            raise Unauthenticated("unknown API token")
        token_id, user, expires_at, revoked_at, last_used_at, disabled, roles = row
        now = now_ms()
        if revoked_at is not None:
            raise Unauthenticated("this API token was revoked")
        if expires_at is not None and expires_at <= now:
            raise Unauthenticated("this API token has expired; create a new one")
        if disabled:
            raise Unauthenticated(f"user {user!r} is disabled")
        if last_used_at is None or now - last_used_at > _TOUCH_EVERY_MS:
            with self._store.write_connection() as conn:
                conn.execute(
                    update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)
                )
        return token_id, expires_at, Actor(user, frozenset(roles or ()))

    # -- web sessions -------------------------------------------------------
    def login(
        self, user: str, token: str, *, hours: int = SESSION_HOURS
    ) -> tuple[str, SessionInfo]:
        """Open a browser session for ``user`` proven by one of its API tokens.

        The session lives no longer than that token and ends when it is revoked.
        Returns the session secret (for the cookie) and the session.
        """
        try:
            token_id, token_expires_at, actor = self._identify(token)
        except Unauthenticated as exc:
            raise Unauthenticated(f"sign-in refused: {exc.message}") from exc
        owner = actor.name
        if not hmac.compare_digest(owner, user):
            raise Unauthenticated("sign-in refused: the token does not belong to that user")
        secret = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = now_ms()
        expires_at = now + hours * 3_600_000
        if token_expires_at is not None:
            expires_at = min(expires_at, token_expires_at)
        info = SessionInfo(owner, secrets.token_urlsafe(32), expires_at, actor.roles)
        with self._store.write() as session:
            session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            session.add(
                WebSession(
                    id_hash=hash_secret(secret),
                    user=owner,
                    csrf_token=info.csrf_token,
                    created_at=now,
                    expires_at=info.expires_at,
                    token_id=token_id,
                )
            )
            audit.append(session, owner, "user.login", f"user/{owner}", {"via": "web"})
        return secret, info

    def session(self, secret: str | None) -> SessionInfo:
        """The live session behind a cookie; ``Unauthenticated`` when absent or expired."""
        if not secret or not secret.startswith(SESSION_PREFIX):
            raise Unauthenticated("not signed in")
        with self._store.read_connection() as conn:
            row = conn.execute(
                select(
                    WebSession.user,
                    WebSession.csrf_token,
                    WebSession.expires_at,
                    User.disabled,
                    User.roles,
                    WebSession.token_id,
                    ApiToken.revoked_at,
                )
                .join(User, User.name == WebSession.user)
                .outerjoin(ApiToken, ApiToken.id == WebSession.token_id)
                .where(WebSession.id_hash == hash_secret(secret))
            ).first()
        # A session opened before sessions recorded their token has no token_id: ended.
        if row is None or row[2] <= now_ms() or row[5] is None:
            raise Unauthenticated("your session has ended; sign in again")
        if row[6] is not None:
            raise Unauthenticated("the token you signed in with was revoked; sign in again")
        if row[3]:
            raise Unauthenticated(f"user {row[0]!r} is disabled")
        return SessionInfo(row[0], row[1], row[2], frozenset(row[4] or ()))

    def logout(self, secret: str) -> None:
        with self._store.write() as session:
            row = session.get(WebSession, hash_secret(secret))
            if row is not None:
                audit.append(session, row.user, "user.logout", f"user/{row.user}", {"via": "web"})
                session.delete(row)
