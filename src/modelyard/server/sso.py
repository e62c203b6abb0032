"""Browser sign-in through the OIDC issuer: authorization code flow with PKCE.

    GET /auth/oidc/login?next=/models   → 303 to the issuer's authorization endpoint
    GET /auth/oidc/callback?code&state  → code exchanged, ID token verified, session opened

The login step draws a ``state`` (against login CSRF), a ``nonce`` (binds the
ID token to this attempt) and a PKCE ``code_verifier`` (S256; a stolen code
is useless without it), and keeps them in a short-lived HttpOnly cookie that
only this browser holds. The callback refuses unless the returned ``state``
matches the cookie, the issuer (RFC 9207 ``iss``, when sent) is ours, and the
ID token verifies (signature, ``iss``, ``aud`` = our client id, ``exp``,
``nonce``). The user's row is then synced to the mapped roles, and the UI's
ordinary web session is opened: a session is bound to a platform token, so
the server mints one for it (named ``sso session``, lasting as long as the
session, its secret never shown) and signs in with it; revoking that token
ends the session, as for any other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from modelyard.errors import ModelyardError, PermissionDenied
from modelyard.registry.tokens import SessionInfo, TokenService, Unauthenticated
from modelyard.server.auth import SESSION_COOKIE, Platform, platform

__all__ = ["FLOW_COOKIE", "SSO_COOKIE", "router"]

# Mounted by create_app only when oidc_issuer is configured.
router = APIRouter(include_in_schema=False)

FLOW_COOKIE = "modelyard_oidc_flow"
SSO_COOKIE = "modelyard_sso"  # a hint for sign-out: this session came from the issuer
FLOW_PATH = "/auth/oidc"
FLOW_MAX_AGE_S = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _redirect_uri(request: Request, holder: Platform) -> str:
    assert holder.oidc is not None
    return holder.oidc.config.redirect_url or str(request.url_for("oidc_callback"))


def _fail(request: Request, message: str, status: int) -> Response:
    from modelyard.server.ui.render import render

    response = render(request, "login.html", None, next="/models", error=message, status=status)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


@router.get("/auth/oidc/login")
def oidc_login(request: Request, next: str | None = None) -> Response:
    from modelyard.server.ui.pages import _safe_next

    holder = platform(request)
    assert holder.oidc is not None  # the router is mounted only with SSO configured
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = _b64(hashlib.sha256(verifier.encode()).digest())
    try:
        target = holder.oidc.authorization_url(
            redirect_uri=_redirect_uri(request, holder),
            state=state,
            nonce=nonce,
            code_challenge=challenge,
        )
    except ModelyardError as exc:
        return _fail(request, f"single sign-on is unavailable: {exc.message}", exc.http_status)
    flow = {"state": state, "nonce": nonce, "verifier": verifier, "next": _safe_next(next)}
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        _b64(json.dumps(flow).encode()),
        max_age=FLOW_MAX_AGE_S,
        httponly=True,
        samesite="lax",  # sent on the issuer's top-level redirect back to us
        secure=holder.secure_cookies,
        path=FLOW_PATH,
    )
    return response


def _read_flow(request: Request) -> dict[str, str]:
    raw = request.cookies.get(FLOW_COOKIE, "")
    try:
        flow = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, UnicodeDecodeError):
        flow = None
    if not isinstance(flow, dict) or not all(
        isinstance(flow.get(k), str) for k in ("state", "nonce", "verifier", "next")
    ):
        raise Unauthenticated(
            "sign-in refused: this browser did not start it here (or took over 10 minutes); "
            "start again from the sign-in page"
        )
    return flow


def complete_sign_in(
    holder: Platform, *, code: str, redirect_uri: str, flow: dict[str, str]
) -> tuple[str, SessionInfo]:
    """Exchange the code, verify the ID token, sync the user, open a web session."""
    assert holder.oidc is not None
    tokens = holder.oidc.exchange(
        code=code, redirect_uri=redirect_uri, code_verifier=flow["verifier"]
    )
    claims = holder.oidc.verify(
        tokens["id_token"], audiences=(holder.oidc.config.client_id,), nonce=flow["nonce"]
    )
    actor = holder.sso_actor(claims)
    if not actor.roles:
        groups = ", ".join(holder.oidc.config.groups_of(claims)) or "none"
        raise PermissionDenied(
            f"signed in as {actor.name}, but none of your groups ({groups}) maps to a Modelyard "
            "role; ask an admin to map one in oidc_role_map"
        )
    hours = holder.session_hours
    minted = TokenService(holder.yard.store, user=actor.name).create(
        actor.name, name="sso session", expires_in=f"{hours}h"
    )
    return holder.tokens.login(actor.name, minted.secret, hours=hours)


@router.get("/auth/oidc/callback", name="oidc_callback")
def oidc_callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    iss: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    holder = platform(request)
    assert holder.oidc is not None  # the router is mounted only with SSO configured
    try:
        flow = _read_flow(request)
        if not state or not hmac.compare_digest(state.encode(), flow["state"].encode()):
            raise Unauthenticated("sign-in refused: the state does not match this browser's")
        if error:
            # Shown only once the state matched: nobody else's link can put words here.
            reason = error_description or error
            raise Unauthenticated(f"the identity provider refused: {reason}")
        if iss is not None and iss != holder.oidc.config.issuer:
            raise Unauthenticated(f"sign-in refused: the response came from the issuer {iss!r}")
        if not code:
            raise Unauthenticated("sign-in refused: the identity provider sent no code")
        secret, _ = complete_sign_in(
            holder, code=code, redirect_uri=_redirect_uri(request, holder), flow=flow
        )
    except ModelyardError as exc:
        return _fail(request, exc.message, exc.http_status)
    from modelyard.server.ui.pages import _safe_next

    response = RedirectResponse(_safe_next(flow["next"]), status_code=303)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    cookie: dict[str, Any] = {
        "max_age": holder.session_hours * 3600,
        "httponly": True,
        "samesite": "lax",
        "secure": holder.secure_cookies,
        "path": "/",
    }
    response.set_cookie(SESSION_COOKIE, secret, **cookie)
    response.set_cookie(SSO_COOKIE, "1", **cookie)
    return response


def sign_out_target(request: Request) -> str:
    """Where sign-out lands: after an SSO session, the sign-in page offers the issuer's sign-out.

    Not a redirect to the issuer straight from the sign-out form: the pages'
    CSP (``form-action 'self'``) rightly blocks a form's redirect off-site.
    """
    holder = platform(request)
    if holder.oidc is None or request.cookies.get(SSO_COOKIE) != "1":
        return "/login"
    return "/login?signed_out=sso"


@router.get("/auth/oidc/logout")
def oidc_logout(request: Request) -> Response:
    """Sign out at the issuer too (RP-initiated logout), then back to the sign-in page."""
    holder = platform(request)
    back = str(request.url_for("login_page"))
    target = holder.oidc.end_session_url(post_logout_redirect_uri=back) if holder.oidc else None
    return RedirectResponse(target or "/login", status_code=303)
