"""OpenID Connect: the issuer's metadata and keys, token verification, claims → roles.

The platform server trusts exactly one issuer (``oidc_issuer``). Its metadata
comes from ``/.well-known/openid-configuration`` (the document must name the
same issuer); its signing keys from the ``jwks_uri`` it lists, cached and
fetched again when a token names a key id the cache lacks (key rotation), at
most once per ``JWKS_MIN_REFRESH_S`` so forged key ids cannot make the server
hammer the issuer.

A token is accepted only when its header's algorithm is on the allow-list
(asymmetric only: never ``none``, never HS* — the public key is no secret), a
published key of a matching type verifies its signature, and its claims hold:
``iss`` is the issuer, ``aud`` names one of the expected audiences, ``exp`` is
in the future, ``nbf``/``iat`` are not (with ``oidc_leeway_s`` of skew), and,
for an ID token, ``nonce`` is the one this browser sent. Every refusal is
``Unauthenticated`` (401) with the reason.

Roles: the values of ``oidc_roles_claim`` (a list or one string; a dotted
path reaches nested claims such as ``realm_access.roles``) are looked up in
``oidc_role_map``; the union, plus ``oidc_default_roles``, is what the user
holds. A value that maps to nothing grants nothing.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from modelyard.config import Settings
from modelyard.errors import BackendUnavailable, InvalidInput
from modelyard.registry.external_users import SOURCE_PREFIX
from modelyard.registry.roles import ROLES, check_roles
from modelyard.registry.tokens import Unauthenticated

__all__ = ["OidcClient", "OidcConfig", "looks_like_jwt"]

JWKS_MIN_REFRESH_S = 30.0
METADATA_MAX_AGE_S = 3600.0
HTTP_TIMEOUT_S = 15.0


def looks_like_jwt(value: str) -> bool:
    """Three base64url parts: the shape of a JWS compact token (not a ``myd_`` token)."""
    return value.count(".") == 2 and not value.startswith("myd_")


@dataclass(frozen=True)
class OidcConfig:
    """The SSO settings, checked once when the server starts."""

    issuer: str
    client_id: str
    client_secret: str | None
    audiences: tuple[str, ...]
    scopes: str
    user_claim: str
    roles_claim: str
    role_map: dict[str, frozenset[str]]
    default_roles: frozenset[str]
    algorithms: tuple[str, ...]
    redirect_url: str | None
    leeway_s: int

    @property
    def source(self) -> str:
        """What SSO users are marked with in the store and the audit trail."""
        return f"{SOURCE_PREFIX}{self.issuer}"

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        if not settings.oidc_issuer:
            return None
        role_map: dict[str, frozenset[str]] = {}
        for group, roles in settings.oidc_role_map.items():
            try:
                role_map[group] = frozenset(check_roles(list(roles)))
            except InvalidInput as exc:
                raise InvalidInput(f"oidc_role_map[{group!r}]: {exc.message}") from exc
        defaults = frozenset()
        if settings.oidc_default_roles:
            try:
                defaults = frozenset(check_roles(settings.oidc_default_roles))
            except InvalidInput as exc:
                raise InvalidInput(f"oidc_default_roles: {exc.message}") from exc
        client_id = str(settings.oidc_client_id)
        secret = settings.oidc_client_secret
        return cls(
            issuer=settings.oidc_issuer,
            client_id=client_id,
            client_secret=secret.get_secret_value() if secret else None,
            audiences=tuple(settings.oidc_audiences or [client_id]),
            scopes=settings.oidc_scopes,
            user_claim=settings.oidc_user_claim,
            roles_claim=settings.oidc_roles_claim,
            role_map=role_map,
            default_roles=defaults,
            algorithms=tuple(settings.oidc_algorithms),
            redirect_url=settings.oidc_redirect_url,
            leeway_s=settings.oidc_leeway_s,
        )

    def user_of(self, claims: dict[str, Any]) -> str:
        value = claims.get(self.user_claim)
        if not isinstance(value, str) or not value:
            raise Unauthenticated(f"the token has no {self.user_claim!r} claim naming the user")
        return value

    def groups_of(self, claims: dict[str, Any]) -> list[str]:
        value: Any = claims
        for part in self.roles_claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str)]
        return []

    def roles_of(self, claims: dict[str, Any]) -> frozenset[str]:
        roles = set(self.default_roles)
        for group in self.groups_of(claims):
            roles |= self.role_map.get(group, frozenset())
        return frozenset(r for r in ROLES if r in roles)


def _b64json(part: str) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unauthenticated("malformed token: its header is not base64url JSON") from exc
    if not isinstance(decoded, dict):
        raise Unauthenticated("malformed token: its header is not a JSON object")
    return decoded


class OidcClient:
    """One issuer's metadata, keys and token checks (thread-safe; one per server)."""

    def __init__(self, config: OidcConfig, *, http: httpx.Client | None = None) -> None:
        try:
            import joserfc  # noqa: F401
        except ImportError as exc:
            raise InvalidInput(
                "single sign-on (oidc_issuer) needs the oidc extra: pip install 'modelyard[oidc]'"
            ) from exc
        self.config = config
        self._http = http or httpx.Client(timeout=HTTP_TIMEOUT_S, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: Any = None
        self._keys_fetched_at = float("-inf")
        self.jwks_fetches = 0

    # -- the issuer's documents ------------------------------------------------------
    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise BackendUnavailable(f"the identity provider's {what} ({url}): {exc}") from exc
        if not isinstance(body, dict):
            raise BackendUnavailable(f"the identity provider's {what} ({url}) is not an object")
        return body

    def metadata(self) -> dict[str, Any]:
        """The discovery document (cached for an hour)."""
        with self._lock:
            cached = self._metadata
        if cached is not None and time.monotonic() - cached[0] < METADATA_MAX_AGE_S:
            return cached[1]
        url = f"{self.config.issuer}/.well-known/openid-configuration"
        document = self._get_json(url, "discovery document")
        if document.get("issuer") != self.config.issuer:
            raise BackendUnavailable(
                f"the discovery document at {url} names the issuer {document.get('issuer')!r}, "
                f"not {self.config.issuer!r} (oidc_issuer must match it exactly)"
            )
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(field), str):
                raise BackendUnavailable(f"the discovery document at {url} has no {field}")
        with self._lock:
            self._metadata = (time.monotonic(), document)
        return document

    def _key_set(self, *, refresh: bool) -> Any:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        with self._lock:
            fresh = time.monotonic() - self._keys_fetched_at < JWKS_MIN_REFRESH_S
            if self._keys is not None and (not refresh or fresh):
                return self._keys
        document = self._get_json(self.metadata()["jwks_uri"], "key set (jwks_uri)")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, KeyError, TypeError, ValueError) as exc:
            raise BackendUnavailable(f"the identity provider's key set is unusable: {exc}") from exc
        with self._lock:
            self._keys, self._keys_fetched_at = keys, time.monotonic()
            self.jwks_fetches += 1
        return keys

    def _key_for(self, header: dict[str, Any]) -> Any:
        from joserfc.errors import InvalidKeyIdError

        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Unauthenticated("malformed token: 'kid' must be a string")
        for refresh in (False, True):
            try:
                return self._key_set(refresh=refresh).get_by_kid(kid)
            except InvalidKeyIdError:
                continue
        raise Unauthenticated(f"the token is signed with a key the issuer does not publish ({kid})")

    # -- verification ------------------------------------------------------------------
    def verify(
        self,
        token: str,
        *,
        audiences: tuple[str, ...] | None = None,
        nonce: str | None = None,
    ) -> dict[str, Any]:
        """The claims of a valid ``token``; ``Unauthenticated`` with the reason otherwise."""
        from joserfc import jwt
        from joserfc.errors import ClaimError, ExpiredTokenError, JoseError, MissingClaimError
        from joserfc.jwt import JWTClaimsRegistry

        if not looks_like_jwt(token):
            raise Unauthenticated("malformed token: not a signed JWT (header.payload.signature)")
        header = _b64json(token.split(".", 1)[0])
        alg = header.get("alg")
        if alg not in self.config.algorithms:
            raise Unauthenticated(
                f"the token's algorithm {alg!r} is not accepted "
                f"(allowed: {', '.join(self.config.algorithms)})"
            )
        key = self._key_for(header)
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except JoseError as exc:
            raise Unauthenticated(f"the token's signature does not verify ({exc.error})") from exc
        if not isinstance(decoded.claims, dict):
            raise Unauthenticated("malformed token: its payload is not a JSON object")
        claims = dict(decoded.claims)
        expected: dict[str, Any] = {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "values": list(audiences or self.config.audiences)},
            "exp": {"essential": True},
        }
        if nonce is not None:
            expected["nonce"] = {"essential": True, "value": nonce}
        registry = JWTClaimsRegistry(leeway=self.config.leeway_s, **expected)
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise Unauthenticated("the token has expired") from exc
        except MissingClaimError as exc:
            raise Unauthenticated(f"the token lacks the claim(s) {exc.description}") from exc
        except ClaimError as exc:
            raise Unauthenticated(
                f"the token's claim {exc.claim!r} is refused ({exc.description})"
            ) from exc
        return claims

    # -- the authorization code flow ------------------------------------------------------
    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_challenge: str
    ) -> str:
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.config.scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.metadata()['authorization_endpoint']}?{urlencode(query)}"

    def exchange(self, *, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """Trade an authorization code for tokens at the token endpoint (the back channel)."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        auth = None
        if self.config.client_secret is not None:
            auth = (self.config.client_id, self.config.client_secret)
        else:
            data["client_id"] = self.config.client_id
        try:
            response = self._http.post(self.metadata()["token_endpoint"], data=data, auth=auth)
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the identity provider's token endpoint: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict):
            reason = body.get("error_description") or body.get("error") if body else None
            raise Unauthenticated(
                f"the identity provider refused the sign-in code ({reason or response.status_code})"
            )
        if not isinstance(body.get("id_token"), str):
            raise Unauthenticated("the identity provider returned no ID token")
        return body

    def end_session_url(self, *, post_logout_redirect_uri: str) -> str | None:
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except BackendUnavailable:
            return None
        if not isinstance(endpoint, str):
            return None
        query = {
            "client_id": self.config.client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
        }
        return f"{endpoint}?{urlencode(query)}"
