"""The release workflow's register stage, against a real platform server, from the environment.

What the generated workflows run (`docs/deploy.md`): with only
``MODELYARD_STORE_URL=<server>`` and ``MODELYARD_TOKEN`` set, ``pipeline run
--ci`` trains, registers, validates and gates through the REST API as the
token's user, requests sign-offs and never makes them; ``models get``,
``models alias``, ``deploy known-answer`` and ``deploy wait-approvals`` then
work on the same server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelyard

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit_risk" / "pipeline.py"
PARAMS = ["--param", "rows=3000", "--param", "n_estimators=30"]


def _cli(site, home: Path, token_user: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "MODELYARD_STORE_URL": site.url,
        "MODELYARD_TOKEN": site.tokens[token_user],
        "MODELYARD_HOME": str(home),
    }
    env.pop("MODELYARD_ARTIFACT_ROOT", None)
    return subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_the_release_register_stage_runs_through_the_server(site, tmp_path: Path) -> None:
    home = tmp_path / "ci-home"
    done = _cli(site, home, "dev", "pipeline", "run", f"{EXAMPLE}:train", "--ci", *PARAMS)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["status"] == "FINISHED"
    steps = {s["name"]: s for s in result["steps"]}
    assert {s["status"] for s in steps.values()} == {"succeeded"}, steps
    # Not promoted, so no route changes: the release moves aliases after sign-off.
    assert "was not promoted" in json.dumps(steps["route-traffic"]["outputs"])

    admin = site.local("root")
    try:
        version = admin.models.get("credit-risk/1")
        assert version.created_by == "dev"  # the token's user, not MODELYARD_USER
        assert version.tags["gates"] == "passed"
        assert version.tags["approval"].startswith("requested: ")
        # CI never signs for people: no sign-off, so no champion yet.
        assert admin.models.missing_sign_offs("credit-risk/1", "champion")
        with pytest.raises(modelyard.NotFound):
            admin.models.get("credit-risk@champion")
        events = {e.action: e for e in admin.audit.events(subject="model/credit-risk")}
        assert events["gate.pass"].actor == "dev"
        requested = admin.audit.events(action="approval.request")
        assert requested and requested[0].actor == "dev"
        assert requested[0].subject == "model/credit-risk/1"
        assert admin.runs.get(result["run_id"]).tags["modelyard.ci"] == "true"
        assert admin.audit.verify().ok
    finally:
        admin.close()
    assert not (home / "yard.db").exists()  # nothing went to a local store

    # The rest of the stage: version, staging alias, known answer, wait for sign-offs.
    got = _cli(site, home, "dev", "models", "get", "credit-risk@latest", "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["version"] == 1
    alias = _cli(site, home, "dev", "models", "alias", "credit-risk", "staging", "1")
    assert alias.returncode == 0, alias.stderr
    known = str(tmp_path / "ka.json")
    answer = _cli(site, home, "dev", "deploy", "known-answer", "credit-risk/1", "-o", known)
    assert answer.returncode == 0, answer.stderr
    assert json.loads((tmp_path / "ka.json").read_text())
    waiting = _cli(
        site, home, "dev", "deploy", "wait-approvals", "credit-risk/1",
        "--timeout-s", "1", "--interval-s", "0.2",
    )  # fmt: skip
    assert waiting.returncode != 0
    assert "validator" in waiting.stderr + waiting.stdout
    for user, role in (("val", "validator"), ("appr", "approver")):
        with modelyard.connect(site.url, token=site.tokens[user], home=str(tmp_path / user)) as y:
            y.models.approve("credit-risk/1", role=role, comment="reviewed the validation report")
    signed = _cli(site, home, "dev", "deploy", "wait-approvals", "credit-risk/1", "--timeout-s=9")
    assert signed.returncode == 0, signed.stderr

    # Unchanged code, data and parameters: the next CI run trains and registers nothing;
    # only the steps that depend on people's sign-offs look again.
    again = _cli(site, home, "dev", "pipeline", "run", f"{EXAMPLE}:train", "--ci", *PARAMS)
    assert again.returncode == 0, again.stderr[-3000:]
    statuses = {s["name"]: s["status"] for s in json.loads(again.stdout)["steps"]}
    looked_again = {"request-approval", "promote"}
    assert {statuses[n] for n in looked_again} == {"succeeded"}, statuses
    assert {s for n, s in statuses.items() if n not in looked_again} == {"cached"}, statuses


def test_recording_a_registry_event_through_the_api_is_refused(site) -> None:
    with site.client("dev") as http:
        forged = http.post(
            "/api/v1/audit/events",
            json={"action": "approval.approve", "subject": "model/x/1", "detail": {}},
        )
        assert forged.status_code == 422
        assert "cannot be recorded" in forged.json()["message"]
        viewer = site.client("viewer")
        refused = viewer.post(
            "/api/v1/audit/events",
            json={"action": "gate.pass", "subject": "model/x", "detail": {}},
        )
        viewer.close()
        assert refused.status_code == 403
        ok = http.post(
            "/api/v1/audit/events",
            json={"action": "gate.pass", "subject": "model/x", "detail": {"auc": 0.8}},
        )
        assert ok.status_code == 201, ok.text
        assert ok.json()["actor"] == "dev" and ok.json()["payload"] == {"auc": 0.8}
