"""``modelyard tokens`` and ``modelyard server --help``."""

from __future__ import annotations


def test_tokens_create_list_revoke(cli):
    boot = cli("users", "add", "ada", "--role", "admin", "--json", user="ada")
    assert boot.code == 0, boot.err
    ada = boot.json()["token"]
    created = cli("tokens", "create", "--name", "ci", "--expires-in", "7d", "--json", token=ada)
    assert created.code == 0, created.err
    token = created.json()
    assert token["token"].startswith("myd_") and token["status"] == "active"
    listed = cli("tokens", "list", "--json", token=ada).json()
    assert [t["name"] for t in listed] == ["ci", "first admin"] and "token" not in listed[0]
    assert listed[0]["id"] == token["id"]
    assert cli("tokens", "revoke", token["id"], token=ada).code == 0
    assert cli("tokens", "list", "--json", token=ada).json()[0]["status"] == "revoked"
    bad = cli("tokens", "create", "--expires-in", "soon", token=ada)
    assert bad.code == 2 and "expires_in" in bad.err
    secret = cli("tokens", "create", "--secret-only", token=ada)
    assert secret.code == 0 and secret.out.strip().startswith("myd_")
    assert len(secret.out.split()) == 1


def test_server_command_is_registered(cli):
    result = cli("server", "--help")
    assert result.code == 0 and "--port" in result.out
    result = cli("quickstart", "--help")
    assert "--keep-serving" in result.out
