"""Who is calling, and may they: bearer tokens for the API, session cookies for the UI.

Every API route depends on ``requires(action, ...)``: it authenticates the
bearer token (401 when absent, unknown, expired or revoked) — a platform token
(``myd_...``), or, with single sign-on configured, a JWT from the OIDC issuer
(``modelyard.server.oidc``; its user row is kept in step with the mapped
roles) — resolves the user's roles, and refuses with 403 — naming the missing permission — unless
the user may perform one of the actions (the permissions of
``modelyard.registry.roles``). The route then works on ``ctx.yard``: the
shared store seen as the authenticated user, so the services check roles
again and the audit trail records that user.

UI pages depend on ``ui_context``: the session cookie instead of a token;
forms that change anything carry the session's CSRF token (``check_csrf``).
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute

from modelyard.errors import PermissionDenied
from modelyard.registry.external_users import sync_external_user
from modelyard.registry.roles import PERMISSIONS, Actor
from modelyard.registry.tokens import TokenService, Unauthenticated
from modelyard.server.oidc import OidcClient, looks_like_jwt
from modelyard.yard import Yard

SESSION_COOKIE = "modelyard_session"

# Actions the server checks that the registry does not define itself.
SERVER_ACTIONS = {"artifact.write": ("run.write", "dataset.write", "version.register")}


@dataclass(frozen=True)
class Ctx:
    """One request's caller: name, roles, and the services acting as them."""

    user: str
    actor: Actor
    yard: Yard
    csrf_token: str | None = None

    def can(self, action: str) -> bool:
        return any(self.actor.can(a) for a in SERVER_ACTIONS.get(action, (action,)))


class Platform:
    """What the app holds: the shared Yard, the token service, per-user views."""

    def __init__(
        self,
        yard: Yard,
        *,
        secure_cookies: bool = False,
        session_hours: int = 12,
        oidc: OidcClient | None = None,
    ):
        self.yard = yard
        # The platform server never loads a model in its own process (model_work runs in
        # a worker): trusted code cannot run here, whoever registered or signed it off.
        yard.models.code_out_of_process = True
        self.tokens = TokenService(yard.store, user="modelyard-server")
        self.oidc = oidc
        self.secure_cookies = secure_cookies
        self.session_hours = session_hours
        self._views: OrderedDict[str, Yard] = OrderedDict()
        self._lock = threading.Lock()
        self._verified: tuple[float, Any] | None = None

    def verify_audit(self, max_age_s: float = 30.0) -> tuple[Any, float]:
        """The audit chain's verification and when it ran (re-walked at most every 30 s)."""
        now = time.time()
        with self._lock:
            cached = self._verified
        if cached is None or now - cached[0] > max_age_s:
            cached = (now, self.yard.audit.verify())
            with self._lock:
                self._verified = cached
        return cached[1], cached[0]

    def sso_actor(self, claims: dict[str, Any]) -> Actor:
        """The user a verified OIDC token names, their store row synced to the mapped roles."""
        assert self.oidc is not None
        config = self.oidc.config
        display = claims.get("name")
        return sync_external_user(
            self.yard.store,
            config.user_of(claims),
            config.roles_of(claims),
            source=config.source,
            display_name=display if isinstance(display, str) else "",
        )

    def identify(self, bearer: str | None) -> Actor:
        """The caller behind an Authorization header's value: platform token or OIDC JWT."""
        if self.oidc is not None and bearer and looks_like_jwt(bearer):
            return self.sso_actor(self.oidc.verify(bearer))
        return self.tokens.identify(bearer)

    def view(self, user: str) -> Yard:
        """The shared store seen as ``user`` (cached: building services is not free)."""
        with self._lock:
            found = self._views.get(user)
            if found is not None:
                self._views.move_to_end(user)
                return found
        view = self.yard.view_as(user)
        view.models.code_out_of_process = True
        with self._lock:
            self._views[user] = view
            while len(self._views) > 256:
                self._views.popitem(last=False)
        return view


def platform(request: Request) -> Platform:
    return request.app.state.platform


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def _deny(user: str, actor: Actor, actions: tuple[str, ...]) -> PermissionDenied:
    wanted = [a for action in actions for a in SERVER_ACTIONS.get(action, (action,))]
    roles = sorted({r for a in wanted for r in PERMISSIONS[a]})
    held = ", ".join(sorted(actor.roles)) or "none"
    needed = " or ".join(wanted)
    return PermissionDenied(
        f"{user} lacks the permission {needed} (granted to the role {' or '.join(roles)}; "
        f"held: {held})",
        details={"missing_permission": needed, "actions": wanted, "required_roles": roles},
    )


def _context(request: Request, actor: Actor, actions: tuple[str, ...], csrf: str | None) -> Ctx:
    # The token or session lookup already refused disabled users and read the roles.
    ctx = Ctx(actor.name, actor, platform(request).view(actor.name), csrf)
    if actions and not any(ctx.can(a) for a in actions):
        raise _deny(actor.name, actor, actions)
    return ctx


def requires(*actions: str) -> Callable[[Request], Ctx]:
    """A dependency: authenticate the bearer token and demand one of ``actions``."""
    for action in actions:
        if action not in PERMISSIONS and action not in SERVER_ACTIONS:
            raise ValueError(f"unknown permission {action!r}")

    def dependency(request: Request) -> Ctx:
        actor = platform(request).identify(_bearer(request))
        return _context(request, actor, actions, None)

    dependency.permissions = actions  # type: ignore[attr-defined]
    return dependency


def ui_context(request: Request) -> Ctx:
    """The signed-in browser user (401 → redirect to /login for pages)."""
    session = platform(request).tokens.session(request.cookies.get(SESSION_COOKIE))
    return _context(request, Actor(session.user, session.roles), (), session.csrf_token)


def check_csrf(ctx: Ctx, form: dict[str, str]) -> None:
    sent = form.get("csrf_token", "")
    if not ctx.csrf_token or not hmac.compare_digest(sent.encode(), ctx.csrf_token.encode()):
        raise PermissionDenied(
            "the form's CSRF token is missing or stale; reload the page and try again",
            details={"missing_permission": "csrf"},
        )


def route_permissions(route: APIRoute) -> tuple[str, ...] | None:
    """The actions a route demands (None: the route needs no token)."""
    for dep in route.dependant.dependencies:
        found: Any = getattr(dep.call, "permissions", None)
        if found is not None:
            return tuple(found)
    return None
