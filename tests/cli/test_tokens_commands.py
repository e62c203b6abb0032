"""``modelyard tokens`` and ``modelyard server --help``."""

from __future__ import annotations


def test_tokens_create_list_revoke(cli):
    assert cli("users", "add", "ada", "--role", "admin", user="ada").code == 0
    created = cli("tokens", "create", "--name", "ci", "--expires-in", "7d", "--json", user="ada")
    assert created.code == 0, created.err
    token = created.json()
    assert token["token"].startswith("myd_") and token["status"] == "active"
    listed = cli("tokens", "list", "--json", user="ada").json()
    assert [t["id"] for t in listed] == [token["id"]] and "token" not in listed[0]
    assert cli("tokens", "revoke", token["id"], user="ada").code == 0
    assert cli("tokens", "list", "--json", user="ada").json()[0]["status"] == "revoked"
    bad = cli("tokens", "create", "--expires-in", "soon", user="ada")
    assert bad.code == 2 and "expires_in" in bad.err


def test_server_command_is_registered(cli):
    result = cli("server", "--help")
    assert result.code == 0 and "--port" in result.out
    result = cli("quickstart", "--help")
    assert "--keep-serving" in result.out
