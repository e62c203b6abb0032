"""Identity is proven, not declared (threat model: "Identity on a local store").

Once a store has users, every command and every ``connect()`` needs a token
(``MODELYARD_TOKEN``, ``modelyard login``, or ``token=``): a name in
``MODELYARD_USER`` is a claim and is refused with a message saying what to
do, before anything is written. The first admin is made once, on a store with
no users, and gets a token printed once. Pipelines never sign off.
"""

from __future__ import annotations

import inspect
import json
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import modelyard
from modelyard.cli import _context
from modelyard.cli.main import main
from modelyard.errors import Conflict, InvalidInput, PermissionDenied, Unauthenticated

STORE = ".modelyard/yard.db"  # the embedded default, under the test's own working directory
TOLD = "modelyard login"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., Result]]:
    """The real ``modelyard`` command, in-process, with the environment a test gives it."""
    monkeypatch.setenv("COLUMNS", "250")

    def run(*args: str, user: str | None = None, token: str | None = None) -> Result:
        _context.yard.cache_clear()
        for key, value in (("MODELYARD_USER", user), ("MODELYARD_TOKEN", token)):
            if value is None:
                monkeypatch.delenv(key, raising=False)
            else:
                monkeypatch.setenv(key, value)
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, " ".join(captured.err.split()))

    yield run
    _context.yard.cache_clear()


@pytest.fixture
def governed(cli) -> dict[str, str]:
    """A local store with root (admin, developer), vera (validator), aaron (approver) and
    version credit-risk/1 registered by root; the people's tokens."""
    from modelyard.data import synthetic
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    boot = cli("users", "add", "root", "--role", "admin", "--role", "developer", "--json")
    assert boot.code == 0, boot.err
    tokens = {"root": json.loads(boot.out)["token"]}
    for name, role in (("vera", "validator"), ("aaron", "approver")):
        assert cli("users", "add", name, "--role", role, token=tokens["root"]).code == 0
        made = cli("tokens", "create", "--user", name, "--json", token=tokens["root"])
        assert made.code == 0, made.err
        tokens[name] = json.loads(made.out)["token"]
    x, y = split_xy(synthetic.generate(1_500, seed=3))
    with modelyard.connect(token=tokens["root"]) as root:
        assert root.user == "root"
        root.models.register("credit-risk", logistic_pipeline().fit(x, y), example=x.head(50))
    return tokens


def _written(token: str) -> tuple[int, int]:
    """(sign-offs on credit-risk/1, audit events): what a refused command must leave as is."""
    with modelyard.connect(token=token) as yard:
        return len(yard.models.get("credit-risk/1").approvals), len(yard.audit.events(limit=10**6))


def test_approve_without_a_token_on_a_governed_local_store_fails_clearly_and_writes_nothing(
    cli, governed
) -> None:
    before = _written(governed["root"])
    refused = cli("models", "approve", "credit-risk/1", "--role", "validator", "-m", "ok")
    assert refused.code == 8
    assert "this store has users" in refused.err
    assert TOLD in refused.err and "MODELYARD_TOKEN" in refused.err
    assert "Traceback" not in refused.err
    assert _written(governed["root"]) == before


def test_modelyard_user_alone_is_refused_even_naming_a_real_validator(cli, governed) -> None:
    before = _written(governed["root"])
    for name in ("vera", "aaron", "someone-else"):
        refused = cli("models", "approve", "credit-risk/1", "-m", "ok", user=name)
        assert refused.code == 8, refused
        assert f"here '{name}') is a claim, not a proof" in refused.err
        assert TOLD in refused.err
    assert _written(governed["root"]) == before
    # The same holds for the library: a name is not an identity.
    with pytest.raises(Unauthenticated, match="modelyard login"):
        modelyard.connect(user="vera")


def test_a_wrong_or_revoked_token_is_refused(cli, governed) -> None:
    before = _written(governed["root"])
    wrong = cli("models", "approve", "credit-risk/1", "-m", "ok", token="myd_" + "x" * 43)
    assert wrong.code == 8 and "MODELYARD_TOKEN is refused: unknown API token" in wrong.err
    malformed = cli("models", "list", token="vera")
    assert malformed.code == 8 and "tokens start with 'myd_'" in malformed.err
    with pytest.raises(Unauthenticated, match="token= is refused: unknown API token"):
        modelyard.connect(token="myd_" + "y" * 43)
    listed = cli("tokens", "list", "--user", "vera", "--json", token=governed["root"])
    token_id = json.loads(listed.out)[0]["id"]
    assert cli("tokens", "revoke", token_id, token=governed["root"]).code == 0
    revoked = cli("models", "approve", "credit-risk/1", "-m", "ok", token=governed["vera"])
    assert revoked.code == 8 and "revoked" in revoked.err
    assert _written(governed["root"])[0] == before[0]


def test_a_token_makes_the_sign_off_and_the_audit_names_its_owner(cli, governed) -> None:
    signed = cli(
        "models", "approve", "credit-risk/1", "--role", "validator", "-m", "ok",
        user="aaron", token=governed["vera"],
    )  # fmt: skip
    assert signed.code == 0, signed.err
    assert "signed off by vera as validator" in signed.out  # the token wins over the claim
    with modelyard.connect(token=governed["root"]) as root:
        approvals = root.models.get("credit-risk/1").approvals
        event = root.audit.events(action="approval.approve", limit=1)[0]
    assert [(a.user, a.role) for a in approvals] == [("vera", "validator")]
    assert event.actor == "vera"


def test_the_first_admin_is_made_once(cli) -> None:
    first = cli("users", "add", "root", "--role", "admin")
    assert first.code == 0, first.err
    printed = [w for w in first.out.split() if w.startswith("myd_")]
    assert len(printed) == 1, first.out
    assert "shown once" in first.out
    with modelyard.connect(token=printed[0]) as root:
        assert root.user == "root" and root.proven

    again = cli("users", "add", "mallory", "--role", "admin")
    assert again.code == 8 and TOLD in again.err
    claimed = cli("users", "add", "mallory", "--role", "admin", user="root")
    assert claimed.code == 8
    with modelyard.connect(token=printed[0]) as root:
        assert [u.name for u in root.users.list()] == ["root"]
        # Asked of the library directly, bootstrap refuses too, in the transaction.
        with pytest.raises(Conflict, match="made only once"):
            root.users.bootstrap("mallory")
        with pytest.raises(PermissionDenied, match="may not add users"):
            root.with_token(_viewer_token(root)).users.add("mallory", ["admin"])


def _viewer_token(admin: modelyard.Yard) -> str:
    admin.users.add("vic", ["viewer"])
    return admin.tokens.create("vic", expires_in="1h").secret


def test_the_first_user_must_be_an_admin_and_add_in_open_mode_points_to_bootstrap(cli) -> None:
    refused = cli("users", "add", "root", "--role", "viewer")
    assert refused.code == 2 and "first user must hold the admin role" in refused.err
    with modelyard.connect() as yard:
        with pytest.raises(InvalidInput, match=r"yard.users.bootstrap\('root'\)"):
            yard.users.add("root", ["admin"])
        assert yard.users.is_open()


def test_login_saves_the_token_0600_and_later_commands_use_it(cli, governed, tmp_path) -> None:
    logged = cli("login", "--token", governed["vera"], user="aaron")
    assert logged.code == 0, logged.err
    assert "logged in as vera" in logged.out
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "modelyard" / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())["stores"]
    assert saved == {
        f"sqlite:///{(tmp_path / STORE).resolve().as_posix()}": {
            "token": governed["vera"],
            "user": "vera",
        }
    }

    info = cli("info", "--json")
    assert json.loads(info.out)["identity"] == "a token (modelyard login)"
    signed = cli("models", "approve", "credit-risk/1", "--role", "validator", "-m", "ok")
    assert signed.code == 0, signed.err
    assert "signed off by vera as validator" in signed.out
    with modelyard.connect() as yard:  # the library reads the same login
        assert yard.user == "vera"

    # MODELYARD_TOKEN wins over the saved login.
    with modelyard.connect() as yard:
        assert yard.user == "vera"
    os.environ["MODELYARD_TOKEN"] = governed["aaron"]
    try:
        with modelyard.connect() as yard:
            assert yard.user == "aaron"
    finally:
        del os.environ["MODELYARD_TOKEN"]

    out = cli("logout")
    assert out.code == 0 and "logged out vera" in out.out
    assert json.loads(path.read_text())["stores"] == {}
    assert cli("models", "list").code == 8


def test_a_wrong_token_is_not_saved_by_login(cli, governed) -> None:
    refused = cli("login", "--token", "myd_" + "z" * 43)
    assert refused.code == 8 and "unknown API token" in refused.err
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "modelyard" / "credentials"
    assert not path.exists()


def test_a_credentials_file_others_can_read_is_refused(cli, governed) -> None:
    assert cli("login", "--token", governed["vera"]).code == 0
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "modelyard" / "credentials"
    path.chmod(0o644)
    refused = cli("models", "list")
    assert refused.code == 2 and "may be read by other users" in refused.err
    assert "chmod 600" in refused.err


def test_a_claimed_yard_cannot_act_once_the_store_has_users(cli, tmp_path) -> None:
    """A Yard opened before the first admin existed, or built directly, cannot act after."""
    from modelyard.config import load_settings
    from modelyard.yard import Yard

    early = modelyard.connect(user="root")
    try:
        assert not early.proven and early.users.is_open()
        secret = early.users.bootstrap("root").secret
        with pytest.raises(Unauthenticated, match="claim, not a proof"):
            early.models.create("credit-risk")
        with pytest.raises(Unauthenticated, match="claim, not a proof"):
            early.tokens.create()
        with (
            Yard(load_settings(user="root")) as direct,
            pytest.raises(Unauthenticated, match="modelyard login"),
        ):
            direct.models.list()
        with early.with_token(secret) as proven:
            assert proven.models.create("credit-risk").name == "credit-risk"
    finally:
        early.close()


def test_a_store_with_no_users_needs_no_token(cli) -> None:
    made = cli("models", "create", "credit-risk", user="alice")
    assert made.code == 0, made.err
    listed = cli("users", "list")
    assert listed.code == 0 and "open mode" in listed.out
    with modelyard.connect(user="alice") as yard:
        assert not yard.proven and yard.models.get_model("credit-risk").name == "credit-risk"


def test_a_login_saved_for_a_deleted_store_does_not_lock_a_fresh_one_out(cli, governed) -> None:
    import shutil

    assert cli("login", "--token", governed["root"]).code == 0
    shutil.rmtree(".modelyard")
    fresh = cli("models", "create", "credit-risk")
    assert fresh.code == 0, fresh.err


def test_a_pipeline_cannot_sign_off(tmp_path) -> None:
    """No lifecycle action signs off; request_approval records a request and nothing more."""
    from modelyard.pipelines import actions, pipeline, run_pipeline, step

    assert not hasattr(actions, "approve_version")
    assert not [n for n in actions.__all__ if "approve" in n and n != "request_approval"]
    source = inspect.getsource(actions)
    assert ".approve(" not in source and "view_as(" not in source and "as_user(" not in source

    from modelyard.data import synthetic
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    @step
    def fit_small() -> object:
        x, y = split_xy(synthetic.generate(1_500, seed=4))
        return logistic_pipeline().fit(x, y)

    @pipeline(name="sign-off-request")
    def flow() -> None:
        model = fit_small()
        version = actions.register_version(
            model, name="credit-risk", example=synthetic.generate(60, seed=5),
            target=synthetic.TARGET,
        )  # fmt: skip
        actions.request_approval(version)
        actions.promote(version)

    with modelyard.connect(user="root") as claimed:
        secret = claimed.users.bootstrap("root", ["admin", "developer"]).secret
    with modelyard.connect(token=secret) as root:
        ran = run_pipeline(root, flow, {})
        assert ran.ok, ran.failure_message()
        version = root.models.get("credit-risk/1")
        assert version.approvals == ()
        assert version.aliases == ()
        assert version.tags["approval"] == "requested: validator, approver"
        requested = root.audit.events(action="approval.request")
        assert [e.payload["missing"] for e in requested] == [["validator", "approver"]]
        assert root.audit.events(action="approval.approve") == []
        assert ran.steps["promote"].outputs["alias"] == ""


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_racing_first_admins_make_exactly_one(backend, request, tmp_path) -> None:
    """Eight first-admin requests at once: one admin, seven refusals, an intact chain."""
    from concurrent.futures import ThreadPoolExecutor

    url = (
        request.getfixturevalue("postgres_url")
        if backend == "postgres"
        else f"sqlite:///{tmp_path / 'race.db'}"
    )
    with modelyard.connect(url, artifact_root=str(tmp_path / "a")) as first:
        assert first.users.is_open()  # migrated, still open
    yards = [
        modelyard.connect(url, artifact_root=str(tmp_path / "a"), user=f"admin{i}")
        for i in range(8)
    ]
    try:

        def bootstrap(yard):
            try:
                return yard.users.bootstrap(yard.user).secret
            except Conflict:
                return None

        with ThreadPoolExecutor(max_workers=8) as pool:
            made = [s for s in pool.map(bootstrap, yards) if s is not None]
    finally:
        for yard in yards:
            yard.close()
    assert len(made) == 1
    with modelyard.connect(url, artifact_root=str(tmp_path / "a"), token=made[0]) as admin:
        assert len(admin.users.list()) == 1
        assert admin.audit.verify().ok
