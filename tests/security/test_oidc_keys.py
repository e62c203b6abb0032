"""The issuer's keys: discovered, cached, fetched again on an unknown key id (rotation).

Runs ``OidcClient`` in-process against the real provider, which is restarted
on the same port with a new signing key, as an issuer rotating keys would.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from modelyard.config import Settings
from modelyard.errors import BackendUnavailable
from modelyard.registry.tokens import Unauthenticated
from modelyard.server import oidc as oidc_module
from modelyard.server.oidc import OidcClient, OidcConfig
from modelyard.testing.oidc import OidcProvider

PROVIDER_DIR = Path(__file__).parent / "oidc_provider"

pytestmark = pytest.mark.slow


def _client(issuer: str) -> OidcClient:
    settings = Settings(
        oidc_issuer=issuer,
        oidc_client_id="modelyard",
        oidc_audiences=["urn:modelyard:api"],
        oidc_role_map={"ml-developers": ["developer"]},
    )
    config = OidcConfig.from_settings(settings)
    assert config is not None
    return OidcClient(config)


def _machine_token(issuer: str) -> str:
    response = httpx.post(
        f"{issuer}/token",
        data={"grant_type": "client_credentials", "scope": "api"},
        auth=("modelyard-batch", "modelyard-batch-secret"),
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def test_a_rotated_key_is_fetched_once_and_forged_kids_do_not_hammer_the_issuer(
    tmp_path, jwks_factory, monkeypatch
) -> None:
    with OidcProvider(
        PROVIDER_DIR, jwks=jwks_factory("key-1"), redirect_uris=[], workdir=tmp_path
    ) as idp:
        client = _client(idp.issuer)
        first = client.verify(_machine_token(idp.issuer))
        assert first["sub"] == "modelyard-batch"
        assert client.config.roles_of(first) == frozenset({"developer"})
        assert client.jwks_fetches == 1
        client.verify(_machine_token(idp.issuer))
        assert client.jwks_fetches == 1  # cached

        idp.restart(jwks_factory("key-2"))
        # The refresh is rate-limited; let the limit pass without waiting for it.
        monkeypatch.setattr(oidc_module, "JWKS_MIN_REFRESH_S", 0.0)
        rotated = client.verify(_machine_token(idp.issuer))
        assert rotated["sub"] == "modelyard-batch"
        assert client.jwks_fetches == 2

        monkeypatch.setattr(oidc_module, "JWKS_MIN_REFRESH_S", 3600.0)
        from joserfc import jwt
        from joserfc.jwk import RSAKey

        other = RSAKey.import_key(jwks_factory("nope")["keys"][0])
        claims = client.verify(_machine_token(idp.issuer))
        forged = jwt.encode({"alg": "RS256", "kid": "nope"}, claims, other)
        for _ in range(5):
            with pytest.raises(Unauthenticated, match="does not publish"):
                client.verify(forged)
        assert client.jwks_fetches == 2


def test_an_unreachable_issuer_is_a_503_not_a_crash(tmp_path) -> None:
    from modelyard.testing.platform import free_port

    client = _client(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailable, match="discovery document"):
        client.metadata()


def test_a_discovery_document_naming_another_issuer_is_refused(tmp_path, jwks_factory) -> None:
    with OidcProvider(
        PROVIDER_DIR, jwks=jwks_factory("key-1"), redirect_uris=[], workdir=tmp_path
    ) as idp:
        # Same server, reached by another name: the issuer must match exactly.
        client = _client(idp.issuer.replace("127.0.0.1", "localhost"))
        with pytest.raises(BackendUnavailable, match="names the issuer"):
            client.metadata()
