"""API bearer JWTs from a real OIDC provider: accepted with the mapped role, or refused with 401.

Every token here comes from the running provider, or is signed with its real
key but carries a wrong claim: the server must check claims, not only
signatures. Platform tokens (``myd_...``) keep working beside SSO.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from modelyard.registry.roles import PERMISSIONS

pytestmark = pytest.mark.slow


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _payload(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _forge(site, kid: str = "test-1", **changes) -> str:
    """A token signed with the issuer's real key, its claims changed (None removes one)."""
    from joserfc import jwt

    now = int(time.time())
    claims = {
        "iss": site.idp.issuer,
        "aud": "modelyard",
        "sub": "dana",
        "preferred_username": "dana",
        "groups": ["ml-developers"],
        "iat": now,
        "exp": now + 600,
    }
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": "RS256", "kid": kid}, claims, site.signing_key())


def test_an_id_token_from_the_provider_carries_the_mapped_role(sso_site) -> None:
    tokens = sso_site.tokens_for("alice")
    assert _payload(tokens["id_token"])["groups"] == ["ml-validators", "staff"]
    with sso_site.api(tokens["id_token"]) as api:
        me = api.get("/api/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["user"] == "alice"
        assert me.json()["roles"] == ["validator"]
        # A validator may not create models: 403 naming the permission.
        refused = api.post("/api/v1/models", json={"name": "alice-model"})
    assert refused.status_code == 403
    assert refused.json()["details"]["missing_permission"] == "model.create"


def test_a_machine_jwt_from_client_credentials_writes_with_its_mapped_role(sso_site) -> None:
    token = sso_site.machine_token()
    assert _payload(token)["aud"] == "urn:modelyard:api"
    with sso_site.api(token) as api:
        assert api.get("/api/v1/me").json()["roles"] == ["developer"]
        created = api.post("/api/v1/models", json={"name": "batch-model", "risk_tier": 3})
    assert created.status_code in (200, 201), created.text
    assert created.json()["created_by"] == "modelyard-batch"
    # The SSO user's row was created by the issuer, and the audit trail says so.
    with sso_site.admin() as admin:
        user = admin.get("/api/v1/users/modelyard-batch").json()
    assert user["roles"] == ["developer"]
    assert user["created_by"] == f"sso:{sso_site.idp.issuer}"


def test_a_group_that_maps_to_no_role_grants_nothing(sso_site) -> None:
    tokens = sso_site.tokens_for("zed")
    with sso_site.api(tokens["id_token"]) as api:
        write = api.post("/api/v1/models", json={"name": "zed-model"})
        read = api.get("/api/v1/models")
    assert write.status_code == 403
    assert write.json()["details"]["missing_permission"] == "model.create"
    assert "held: none" in write.json()["message"]
    assert read.status_code == 403


def test_platform_tokens_still_work_beside_sso(sso_site) -> None:
    with sso_site.api(sso_site.admin_token) as api:
        me = api.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json() == {
        "user": "root",
        "roles": ["admin"],
        "permissions": sorted(a for a in PERMISSIONS if "admin" in PERMISSIONS[a]),
    }


def test_sso_may_not_act_as_a_local_user(sso_site) -> None:
    tokens = sso_site.tokens_for("vera")  # the provider vouches for a "vera" too
    with sso_site.api(tokens["id_token"]) as api:
        response = api.get("/api/v1/me")
    assert response.status_code == 403
    assert "local user" in response.json()["message"]


def test_losing_a_group_at_the_provider_drops_the_role(sso_site) -> None:
    dana = _forge(sso_site)
    with sso_site.api(dana) as api:
        assert api.get("/api/v1/me").json()["roles"] == ["developer"]
    demoted = _forge(sso_site, groups=["staff"])
    with sso_site.api(demoted) as api:
        assert api.post("/api/v1/models", json={"name": "dana-model"}).status_code == 403
    with sso_site.admin() as admin:
        assert admin.get("/api/v1/users/dana").json()["roles"] == []
        events = admin.get(
            "/api/v1/audit/events", params={"subject": "user/dana", "order": "oldest"}
        ).json()["items"]
    assert [e["action"] for e in events] == ["user.add", "user.roles"]
    assert events[-1]["actor"] == f"sso:{sso_site.idp.issuer}"


def _tampered(site) -> str:
    header, payload, signature = site.tokens_for("alice")["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["groups"] = ["ml-approvers"]
    return ".".join([header, _b64(json.dumps(claims).encode()), signature])


def _alg_none(site) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = _payload(_forge(site))
    return f"{header}.{_b64(json.dumps(body).encode())}."


def _hs256_with_the_public_key(site) -> str:
    # The classic key-confusion attack: HMAC keyed with the issuer's public key.
    public_pem = site.signing_key().as_pem(private=False)
    header = _b64(json.dumps({"alg": "HS256", "kid": "test-1"}).encode())
    body = _b64(json.dumps(_payload(_forge(site))).encode())
    mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(mac)}"


def _foreign_key(site, jwks_factory) -> str:
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.import_key(jwks_factory("test-1")["keys"][0])  # same kid, other key
    return jwt.encode({"alg": "RS256", "kid": "test-1"}, _payload(_forge(site)), key)


REFUSED = {
    "expired": (lambda s, f: _forge(s, exp=int(time.time()) - 3600), "expired"),
    "wrong audience": (lambda s, f: _forge(s, aud="another-app"), "aud"),
    "no audience": (lambda s, f: _forge(s, aud=None), "aud"),
    "wrong issuer": (lambda s, f: _forge(s, iss="https://evil.example"), "iss"),
    "not yet valid": (lambda s, f: _forge(s, nbf=int(time.time()) + 3600), "nbf"),
    "tampered": (lambda s, f: _tampered(s), "signature"),
    "alg none": (lambda s, f: _alg_none(s), "'none' is not accepted"),
    "HS256 keyed with the public key": (
        lambda s, f: _hs256_with_the_public_key(s),
        "'HS256' is not accepted",
    ),
    "signed by another key": (_foreign_key, "signature"),
    "unknown key id": (lambda s, f: _forge(s, kid="nope"), "does not publish"),
    "garbage": (lambda s, f: "eyJ.not-a.jwt", "malformed"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_bad_token_is_refused_with_401(sso_site, jwks_factory, case) -> None:
    make, reason = REFUSED[case]
    token = make(sso_site, jwks_factory)
    with sso_site.api(token) as api:
        response = api.get("/api/v1/me")
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert reason in response.json()["message"], response.json()


def test_an_sso_user_may_not_mint_a_platform_token_that_outlives_the_provider(sso_site) -> None:
    with sso_site.api(_forge(sso_site)) as api:
        response = api.post("/api/v1/tokens", json={"name": "forever", "expires_in": "never"})
    assert response.status_code == 403
    assert "may not create their own API tokens" in response.json()["message"]
    # An admin still can, for a machine that cannot use client credentials.
    with sso_site.api(sso_site.admin_token) as api:
        made = api.post("/api/v1/tokens", json={"user": "dana", "name": "ci", "expires_in": "1d"})
    assert made.status_code == 201, made.text


def test_the_remote_client_works_with_a_jwt(sso_site, tmp_path) -> None:
    import modelyard

    remote = modelyard.connect(sso_site.url, token=sso_site.machine_token(), home=str(tmp_path))
    try:
        remote.models.create("remote-model", risk_tier=3)
        assert "remote-model" in [m.name for m in remote.models.list()]
    finally:
        remote.close()
