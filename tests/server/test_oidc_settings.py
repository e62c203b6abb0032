"""SSO settings are checked when the server starts: a mistake names the setting."""

from __future__ import annotations

import os

import pytest

from modelyard.config import load_settings
from modelyard.errors import InvalidInput
from modelyard.server.oidc import OidcConfig

BASE = {"oidc_issuer": "https://idp.bank.test/realms/ml", "oidc_client_id": "modelyard"}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("MODELYARD_")]:
        monkeypatch.delenv(key)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"oidc_algorithms": ["RS256", "none"]}, "oidc_algorithms: .*refused \\['none'\\]"),
        ({"oidc_algorithms": ["HS256"]}, "oidc_algorithms: .*HS\\* are never accepted"),
        ({"oidc_issuer": "http://idp.bank.test"}, "oidc_issuer: .*must be an https:// URL"),
        ({"oidc_client_id": None}, "oidc_client_id is required"),
        ({"oidc_leeway_s": 3600}, "oidc_leeway_s"),
    ],
)
def test_a_bad_setting_is_named(change, message) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_settings(**{**BASE, **change})


def test_an_unknown_role_in_the_map_is_named() -> None:
    settings = load_settings(**BASE, oidc_role_map={"ml-gods": ["superuser"]})
    with pytest.raises(InvalidInput, match=r"oidc_role_map\['ml-gods'\]: unknown role"):
        OidcConfig.from_settings(settings)


def test_settings_come_from_the_toml_file_and_the_environment(tmp_path, monkeypatch) -> None:
    (tmp_path / "modelyard.toml").write_text(
        "[modelyard]\n"
        'oidc_issuer = "https://idp.bank.test/realms/ml/"\n'
        'oidc_client_id = "modelyard"\n'
        'oidc_roles_claim = "realm_access.roles"\n'
        "[modelyard.oidc_role_map]\n"
        '"ml-validators" = ["validator"]\n'
        '"ml-leads" = ["developer", "approver"]\n'
    )
    monkeypatch.setenv("MODELYARD_OIDC_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("MODELYARD_OIDC_DEFAULT_ROLES", '["viewer"]')
    config = OidcConfig.from_settings(load_settings())
    assert config is not None
    assert config.issuer == "https://idp.bank.test/realms/ml"  # trailing slash dropped
    assert config.client_secret == "s3cret"
    assert config.audiences == ("modelyard",)  # the client id by default
    claims = {"realm_access": {"roles": ["ml-leads", "ml-other"]}}
    assert config.roles_of(claims) == frozenset({"viewer", "developer", "approver"})
    assert config.roles_of({"realm_access": {"roles": "ml-validators"}}) == frozenset(
        {"viewer", "validator"}
    )
    assert config.roles_of({}) == frozenset({"viewer"})
    assert "s3cret" not in repr(load_settings())


def test_sso_is_off_without_an_issuer() -> None:
    assert OidcConfig.from_settings(load_settings()) is None
