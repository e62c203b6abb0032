"""The tier flip of issue 13, and policy changes under four-eyes.

The attack: an admin lowers a tier-1 model to tier 3, moves ``champion`` to
their own unapproved version, and raises the tier back to 1 -- three 200s,
and champion stayed on the unapproved version. Now the first step is refused
without a second person; with one, the lowering is a request that others
sign off; and raising the tier re-checks every protected alias.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from governed import add_users, open_store, seed_digest, signed_off_champion, tiny_model

from modelyard.errors import Conflict, InvalidInput, NotFound, PermissionDenied


@pytest.fixture
def store(store_url: str, tmp_path: Path):
    """A tier-1 model whose champion (v1, registered by dev) has both sign-offs; v2 is root's."""
    owner, yard = signed_off_champion(store_url, tmp_path)
    digest = yard.models.get("credit-risk/1").artifact_digest
    yard.models.register_artifact("credit-risk", digest)  # v2, root's own, unapproved
    yield yard
    owner.close()


def _actions(yard, after_seq: int) -> list[str]:
    events = yard.audit.events(subject="model/credit-risk", after_seq=after_seq, limit=100)
    return [e.action for e in reversed(events)]


def test_the_issue_sequence_is_refused_at_the_first_step(store) -> None:
    root = store  # an admin, acting alone
    seq = root.audit.events(limit=1)[0].seq
    with pytest.raises(PermissionDenied, match="four-eyes: risk tier lowered from 1 to 3") as err:
        root.models.update("credit-risk", risk_tier=3)
    assert err.value.details["rule"] == "four-eyes"
    assert root.models.get_model("credit-risk").risk_tier == 1
    with pytest.raises(PermissionDenied, match="needs sign-off by validator and approver"):
        root.models.set_alias("credit-risk", "champion", 2)
    assert root.models.get("credit-risk@champion").version == 1
    assert _actions(root, seq) == []  # nothing changed, so nothing was recorded


def test_lowering_needs_a_request_signed_off_by_others(store) -> None:
    root = store
    change = root.models.request_policy_change(
        "credit-risk", risk_tier=3, comment="the model is now advisory only"
    )
    assert change.status == "pending"
    assert change.required_roles == ("validator", "approver")  # what tier 1 needs to promote
    assert root.models.get_model("credit-risk").risk_tier == 1
    with pytest.raises(PermissionDenied, match="requested policy change 1 and cannot sign"):
        root.models.sign_off_policy_change("credit-risk", change.id)
    with pytest.raises(PermissionDenied, match="holds none of the roles"):
        root.view_as("dev").models.sign_off_policy_change("credit-risk", change.id)
    both = root.view_as("both")
    both.models.sign_off_policy_change("credit-risk", change.id, role="validator")
    with pytest.raises(PermissionDenied, match="four-eyes: both already signed off"):
        both.models.sign_off_policy_change("credit-risk", change.id, role="approver")
    assert root.models.get_model("credit-risk").risk_tier == 1
    applied = root.view_as("appr").models.sign_off_policy_change(
        "credit-risk", change.id, comment="agreed"
    )
    assert applied.status == "applied" and applied.decided_by == "appr"
    assert [(s["role"], s["user"]) for s in applied.sign_offs] == [
        ("validator", "both"),
        ("approver", "appr"),
    ]
    assert root.models.get_model("credit-risk").risk_tier == 3
    update = root.audit.events(subject="model/credit-risk", action="model.update")[0]
    assert update.actor == "appr"
    assert update.payload["requested_by"] == "root"
    assert update.payload["signed_off_by"] == {"validator": "both", "approver": "appr"}
    with pytest.raises(Conflict, match="applied already"):
        root.view_as("val2").models.sign_off_policy_change("credit-risk", change.id)


def test_raising_the_tier_refuses_or_detaches_an_unqualified_champion(store) -> None:
    root = store
    change = root.models.request_policy_change("credit-risk", risk_tier=3)
    root.view_as("val").models.sign_off_policy_change("credit-risk", change.id)
    root.view_as("appr").models.sign_off_policy_change("credit-risk", change.id)
    # At tier 3 champion needs no sign-off: root moves it to their own version.
    root.models.set_alias("credit-risk", "champion", 2)
    with pytest.raises(Conflict, match=r"champion -> credit-risk/2 lacks sign-off") as err:
        root.models.update("credit-risk", risk_tier=1)
    assert err.value.details == {"unqualified_aliases": ["champion"]}
    assert root.models.get_model("credit-risk").risk_tier == 3
    raised = root.models.update("credit-risk", risk_tier=1, detach_unqualified=True)
    assert raised.risk_tier == 1 and "champion" not in raised.aliases
    with pytest.raises(NotFound, match="no alias 'champion'"):
        root.models.get("credit-risk@champion")
    detach = root.audit.events(subject="model/credit-risk", action="alias.detach")[0]
    assert detach.subject == "model/credit-risk@champion"
    assert detach.payload["before"] == 2 and detach.payload["after"] is None
    assert "validator and approver" in detach.payload["reason"]
    # A champion that qualifies survives a raise.
    root.view_as("appr").models.set_alias("credit-risk", "champion", 1)
    assert root.models.update("credit-risk", risk_tier=1).aliases == {"champion": 1}


def test_unprotecting_champion_or_dropping_a_sign_off_is_a_weakening(store) -> None:
    root = store
    with pytest.raises(PermissionDenied, match="alias 'champion' no longer protected"):
        root.models.update("credit-risk", policy={"protected_aliases": []})
    with pytest.raises(PermissionDenied, match="sign-off by a validator no longer required"):
        root.models.update("credit-risk", policy={"required_roles": ["approver"]})
    # Tightening goes through at once: protect staging too.
    info = root.models.update("credit-risk", policy={"protected_aliases": ["champion", "staging"]})
    assert info.policy == {"protected_aliases": ["champion", "staging"]}
    with pytest.raises(PermissionDenied, match="may not set alias 'staging'"):
        root.view_as("dev").models.set_alias("credit-risk", "staging", 2)


def test_a_request_goes_stale_when_the_policy_moves(store) -> None:
    root = store
    change = root.models.request_policy_change("credit-risk", risk_tier=2)
    root.models.update("credit-risk", policy={"protected_aliases": ["champion", "staging"]})
    with pytest.raises(Conflict, match="changed after change 1 was requested"):
        root.view_as("appr").models.sign_off_policy_change("credit-risk", change.id)
    with pytest.raises(InvalidInput, match="needs a comment"):
        root.models.reject_policy_change("credit-risk", change.id, comment=" ")
    with pytest.raises(PermissionDenied, match="may not reject policy change 1"):
        root.view_as("dev").models.reject_policy_change("credit-risk", change.id, comment="no")
    closed = root.models.reject_policy_change("credit-risk", change.id, comment="superseded")
    assert closed.status == "rejected"
    assert [c.status for c in root.models.policy_changes("credit-risk")] == ["rejected"]
    assert root.models.policy_changes("credit-risk", status="pending") == []


def test_bad_requests_name_the_problem(store) -> None:
    root = store
    with pytest.raises(Conflict, match="relaxes nothing"):
        root.models.request_policy_change("credit-risk", risk_tier=1)
    with pytest.raises(InvalidInput, match="needs risk_tier, policy or both"):
        root.models.request_policy_change("credit-risk")
    with pytest.raises(InvalidInput, match="risk_tier must be 1"):
        root.models.request_policy_change("credit-risk", risk_tier=4)
    with pytest.raises(PermissionDenied, match="may not request a change"):
        root.view_as("dev").models.request_policy_change("credit-risk", risk_tier=3)
    with pytest.raises(NotFound, match="has no policy change 7"):
        root.view_as("appr").models.sign_off_policy_change("credit-risk", 7)
    with pytest.raises(InvalidInput, match="status must be one of"):
        root.models.policy_changes("credit-risk", status="open")


def test_the_issue_sequence_over_the_rest_api(site) -> None:
    """Three requests that all returned 200 in issue 13: now the first and second are refused."""
    root = site.local("root")
    try:
        model, example = tiny_model()
        root.models.create("flip", risk_tier=1)
        root.models.register("flip", model, example=example.head(20))
    finally:
        root.close()
    with site.client("root") as admin:
        lowered = admin.patch("/api/v1/models/flip", json={"risk_tier": 3})
        assert lowered.status_code == 403, lowered.text
        assert "four-eyes" in lowered.json()["message"]
        moved = admin.put("/api/v1/models/flip/aliases/champion", json={"version": 1})
        assert moved.status_code == 403, moved.text
        assert admin.get("/api/v1/models/flip").json()["risk_tier"] == 1
        requested = admin.post("/api/v1/models/flip/policy-changes", json={"risk_tier": 3})
        assert requested.status_code == 201, requested.text
        change = requested.json()["id"]
    with site.client("val") as val:
        signed = val.post(f"/api/v1/models/flip/policy-changes/{change}/sign-off", json={})
        assert signed.status_code == 200 and signed.json()["status"] == "pending"
    with site.client("appr") as appr:
        signed = appr.post(f"/api/v1/models/flip/policy-changes/{change}/sign-off", json={})
        assert signed.status_code == 200 and signed.json()["status"] == "applied"
    with site.client("viewer") as viewer:
        assert viewer.get("/api/v1/models/flip").json()["risk_tier"] == 3
        listed = viewer.get("/api/v1/models/flip/policy-changes").json()
        assert [c["status"] for c in listed] == ["applied"]


def test_remote_client_requests_and_signs_off(site) -> None:
    import modelyard

    remote_root = modelyard.connect(site.url, token=site.tokens["root"])
    remote_root.models.create("remote-flip", risk_tier=2)
    change = remote_root.models.request_policy_change("remote-flip", risk_tier=3, comment="x")
    assert change.required_roles == ("approver",)
    with pytest.raises(PermissionDenied):
        remote_root.models.update("remote-flip", risk_tier=3)
    remote_appr = modelyard.connect(site.url, token=site.tokens["appr"])
    assert remote_appr.models.sign_off_policy_change("remote-flip", change.id).status == "applied"
    assert remote_appr.models.get_model("remote-flip").risk_tier == 3


def test_the_policy_commands(
    store, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from modelyard.cli import _context
    from modelyard.cli.main import main

    tokens = {
        u: store.tokens.create(u, name="cli", expires_in="1d").secret
        for u in ("root", "appr", "val")
    }
    monkeypatch.setenv("MODELYARD_STORE_URL", store_url)
    monkeypatch.setenv("MODELYARD_ARTIFACT_ROOT", str(tmp_path / "artifacts"))
    monkeypatch.setenv("COLUMNS", "200")

    def run(user: str, *args: str) -> tuple[int, str]:
        monkeypatch.setenv("MODELYARD_USER", user)
        monkeypatch.setenv("MODELYARD_TOKEN", tokens[user])
        _context.yard.cache_clear()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, " ".join((captured.out + captured.err).split())

    try:
        code, text = run("root", "models", "policy", "set", "credit-risk", "--risk-tier", "3")
        assert code != 0 and "four-eyes: risk tier lowered from 1 to 3" in text
        code, text = run("root", "models", "policy", "set", "credit-risk", "--policy", "[1]")
        assert code != 0 and "--policy must be a JSON object" in text
        code, text = run("root", "models", "policy", "request", "credit-risk", "--risk-tier", "3")
        assert code == 0 and "policy change 1 of credit-risk: pending" in text
        code, text = run("val", "models", "policy", "sign-off", "credit-risk", "1")
        assert code == 0 and "signed off by val as validator" in text
        code, text = run("appr", "models", "policy", "sign-off", "credit-risk", "1", "--json")
        assert code == 0 and '"status": "applied"' in text
        code, text = run("root", "models", "policy", "list", "credit-risk")
        assert code == 0 and "applied" in text
        code, text = run("root", "models", "policy", "set", "credit-risk", "--risk-tier", "1")
        assert code == 0 and "tier 1" in text  # champion (v1) has its sign-offs: it stays
    finally:
        _context.yard.cache_clear()


def test_raising_the_tier_and_moving_champion_at_once_never_ends_unqualified(
    store_url: str, tmp_path: Path
) -> None:
    """Both writes take the model's lock: whichever goes second sees the other and refuses."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    owner = open_store(store_url, tmp_path)
    try:
        yard = add_users(owner)
        digest = seed_digest(yard)
        rounds = 10
        for i in range(rounds):
            yard.models.create(f"race-{i}", risk_tier=3)
            yard.models.register_artifact(f"race-{i}", digest)  # v1: no sign-off at all
        start = threading.Barrier(2 * rounds)

        def attempt(job: tuple[int, str]) -> str:
            i, what = job
            start.wait()
            try:
                if what == "move":
                    yard.view_as("appr").models.set_alias(f"race-{i}", "champion", 1)
                else:
                    yard.models.update(f"race-{i}", risk_tier=1)
            except (PermissionDenied, Conflict):
                return "refused"
            return "done"

        jobs = [(i, what) for i in range(rounds) for what in ("move", "raise")]
        with ThreadPoolExecutor(len(jobs)) as pool:
            outcomes = list(pool.map(attempt, jobs))
        assert all(
            sorted(outcomes[k : k + 2]) == ["done", "refused"] for k in range(0, len(jobs), 2)
        ), outcomes
        for i in range(rounds):
            info = yard.models.get_model(f"race-{i}")
            assert not (info.risk_tier == 1 and "champion" in info.aliases), info
    finally:
        owner.close()
