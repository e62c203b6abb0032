"""Single sign-on fixtures: a real OIDC provider (Node.js oidc-provider) and a server trusting it.

The provider (``oidc_provider/provider.mjs``) signs with an RSA key these
fixtures generate, so tests can also forge tokens *with the issuer's real key*
whose claims are wrong (expired, another audience, another issuer): the
server must refuse them on the claims, not only on signatures.

Provider accounts (any password): alice → ml-validators, dana → ml-developers,
zed → marketing (mapped to nothing), vera → ml-validators (but vera is also a
local user of the store: SSO must not take her over). Machine client
``modelyard-batch`` (client credentials) → ml-developers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

import modelyard
from modelyard.testing.oidc import OidcProvider
from modelyard.testing.platform import PlatformServer, free_port

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"
CLIENT_ID = "modelyard"
CLIENT_SECRET = "modelyard-test-secret"
MACHINE = ("modelyard-batch", "modelyard-batch-secret")
API_AUDIENCE = "urn:modelyard:api"
ROLE_MAP = {
    "ml-validators": ["validator"],
    "ml-developers": ["developer"],
    "ml-approvers": ["approver"],
}


def make_jwks(kid: str) -> dict[str, Any]:
    """A private RSA key set with one key (what the provider signs with)."""
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
    return {"keys": [key.as_dict(private=True)]}


@dataclass
class SsoSite:
    url: str
    idp: OidcProvider
    server: PlatformServer
    store_url: str
    artifact_root: str
    root: Path
    jwks: dict[str, Any]
    admin_token: str

    @property
    def callback(self) -> str:
        return f"{self.url}/auth/oidc/callback"

    def signing_key(self) -> Any:
        from joserfc.jwk import RSAKey

        return RSAKey.import_key(self.jwks["keys"][0])

    def admin(self) -> httpx.Client:
        """The API as the local admin (platform token): reads users and the audit trail."""
        return self.api(self.admin_token)

    def api(self, bearer: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {bearer}"}, timeout=60
        )

    def tokens_for(self, login: str) -> dict[str, Any]:
        """The provider's token response for ``login`` (code flow + PKCE, driven by httpx)."""
        return id_token_for(self, login)

    def machine_token(self) -> str:
        """A JWT access token for the API from the client credentials grant."""
        return machine_token(self)

    def follow_to_callback(self, client: httpx.Client, url: str, login: str) -> str:
        """Through the provider's sign-in form until it redirects to the server's callback."""
        return follow_to_callback(client, url, login, self.callback)


def _first_admin(store_url: str, artifacts: str, root: Path, name: str) -> str:
    """The store's first admin and a token for them (local steps; the rest goes through the API)."""
    yard = modelyard.connect(store_url, artifact_root=artifacts, user=name, home=str(root))
    try:
        bootstrap = getattr(yard.users, "bootstrap", None)
        if bootstrap is not None:  # stores where the first admin comes with their token
            return bootstrap(name, expires_in="1d").secret
        yard.users.add(name, ["admin"])
        return yard.tokens.create(name, name="sso tests", expires_in="1d").secret
    finally:
        yard.close()


@pytest.fixture(scope="session")
def jwks_factory() -> Any:
    return make_jwks


@pytest.fixture(scope="module")
def sso_site(tmp_path_factory) -> Any:
    root = tmp_path_factory.mktemp("sso")
    store_url, artifacts = f"sqlite:///{root / 'yard.db'}", str(root / "artifacts")
    admin_token = _first_admin(store_url, artifacts, root, "root")
    port = free_port()
    jwks = make_jwks("test-1")
    callback = f"http://127.0.0.1:{port}/auth/oidc/callback"
    idp = OidcProvider(PROVIDER_DIR, jwks=jwks, redirect_uris=[callback], workdir=root / "idp")
    idp.start()
    env = {
        "MODELYARD_OIDC_ISSUER": idp.issuer,
        "MODELYARD_OIDC_CLIENT_ID": CLIENT_ID,
        "MODELYARD_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "MODELYARD_OIDC_AUDIENCES": json.dumps([CLIENT_ID, API_AUDIENCE]),
        "MODELYARD_OIDC_ROLE_MAP": json.dumps(ROLE_MAP),
    }
    server = PlatformServer(store_url, artifacts, home=root / "server", port=port, env=env)
    try:
        server.start()
        site = SsoSite(server.url, idp, server, store_url, artifacts, root, jwks, admin_token)
        with site.admin() as api:
            added = api.post("/api/v1/users", json={"name": "vera", "roles": ["validator"]})
            assert added.status_code == 201, added.text
        yield site
    finally:
        server.stop()
        idp.stop()


# -- driving the provider over HTTP, as a browser would ----------------------------------

_FORM = re.compile(r'<form[^>]*action="([^"]+)"', re.I)


def follow_to_callback(client: httpx.Client, url: str, login: str, callback: str) -> str:
    """Follow redirects through the provider's sign-in form until it redirects to ``callback``."""
    for _ in range(20):
        if url.startswith(callback):
            return url
        response = client.get(url)
        if response.status_code in (302, 303):
            url = urljoin(url, response.headers["location"])
            continue
        form = _FORM.search(response.text)
        assert response.status_code == 200 and form, response.text[:2000]
        action = urljoin(url, form.group(1))
        data = {"prompt": "login", "login": login, "password": "any password"}
        if 'name="login"' not in response.text:
            data = {"prompt": "consent"}
        posted = client.post(action, data=data)
        assert posted.status_code in (302, 303), posted.text[:2000]
        url = urljoin(action, posted.headers["location"])
    raise AssertionError("the provider never redirected back to the callback")


def id_token_for(site: SsoSite, login: str) -> dict[str, Any]:
    """The provider's token response for ``login``: the code flow + PKCE, driven by httpx."""
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": site.callback,
        "scope": "openid profile email groups",
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    with httpx.Client(timeout=60) as client:
        start = str(httpx.URL(f"{site.idp.issuer}/auth", params=query))
        back = follow_to_callback(client, start, login, site.callback)
        code = parse_qs(urlsplit(back).query)["code"][0]
        response = client.post(
            f"{site.idp.issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": site.callback,
                "code_verifier": verifier,
            },
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
    assert response.status_code == 200, response.text
    return response.json()


def machine_token(site: SsoSite) -> str:
    """A JWT access token for the API, from the client credentials grant."""
    response = httpx.post(
        f"{site.idp.issuer}/token",
        data={"grant_type": "client_credentials", "scope": "api", "resource": API_AUDIENCE},
        auth=MACHINE,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]
