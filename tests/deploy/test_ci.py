"""CI/CD templates: GitHub workflows validate against the workflow schema, Cloud Build parses.

Also the helpers the workflows call: the pull-request summary, the wait for
the policy's sign-offs, and the canary watch (against a fake Prometheus on
loopback).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from modelyard.cli.main import main
from modelyard.errors import InvalidInput, ModelyardError
from modelyard.testing.environment import require


@pytest.fixture(scope="module")
def workflows(demo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modelyard.deploy import ci
    from modelyard.deploy.options import DeployOptions, write_tree
    from modelyard.deploy.spec import endpoint_workload, load_target, resolve_models

    out = tmp_path_factory.mktemp("ci")
    yard = demo.connect()
    try:
        spec = load_target("credit-risk@champion", yard)
        workload = endpoint_workload(spec, resolve_models(spec, yard))
    finally:
        yard.close()
    for provider in ("github", "cloudbuild"):
        files = ci.render(
            workload,
            DeployOptions(),
            provider,
            target="credit-risk@champion",
            pipeline="pipelines/train.py:train",
            deploy_dir="deploy/credit-risk",
            generated_by="test",
        )
        write_tree(files, out)
    return out


def _check_jsonschema() -> str:
    found = shutil.which("check-jsonschema") or str(
        Path(sys.executable).with_name("check-jsonschema")
    )
    if not Path(found).exists():
        require("check-jsonschema", "pip install -e '.[dev]' (make test installs it)")
    return found


def test_github_workflows_validate_against_the_workflow_schema(workflows: Path) -> None:
    files = sorted((workflows / ".github" / "workflows").glob("*.yml"))
    assert [f.name for f in files] == [
        "modelyard-credit-risk-pr.yml",
        "modelyard-credit-risk-release.yml",
    ]
    result = subprocess.run(
        [_check_jsonschema(), "--builtin-schema", "vendor.github-workflows", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key "on" as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_pull_request_workflow_runs_the_gates_and_comments(workflows: Path) -> None:
    flow = _load(workflows / ".github/workflows/modelyard-credit-risk-pr.yml")
    assert "pull_request" in flow["on"]
    assert flow["permissions"] == {"contents": "read", "pull-requests": "write"}
    job = flow["jobs"]["validate"]
    assert 'modelyard pipeline run "$PIPELINE" --ci' in _runs(job)
    assert "modelyard deploy ci-summary" in _runs(job)
    comment = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script"))
    assert "createComment" in comment["with"]["script"]
    assert flow["jobs"]["validate"]["steps"][-1]["if"] == "steps.pipeline.outcome != 'success'"


def test_release_workflow_stages_approves_canaries_and_rolls_back(workflows: Path) -> None:
    flow = _load(workflows / ".github/workflows/modelyard-credit-risk-release.yml")
    assert flow["on"]["push"]["branches"] == ["main"]
    jobs = flow["jobs"]
    assert list(jobs) == [
        "register",
        "image",
        "staging",
        "approvals",
        "canary",
        "promote",
        "rollback",
    ]
    assert "modelyard deploy known-answer" in _runs(jobs["register"])
    staging = _runs(jobs["staging"])
    assert "kustomize edit set image" in staging and "rollout status" in staging
    assert "modelyard smoke http://127.0.0.1:8080" in staging
    assert "--expect-known-answer known-answer.json" in staging
    assert jobs["approvals"]["environment"] == "production"
    assert "modelyard deploy wait-approvals" in _runs(jobs["approvals"])
    canary = _runs(jobs["canary"])
    assert "--canary" in canary and "modelyard deploy canary-check" in canary
    assert 'models alias "$MODEL" champion' in _runs(jobs["promote"])
    assert jobs["promote"]["needs"] == ["register", "canary"]
    assert "needs.canary.result == 'failure'" in jobs["rollback"]["if"]
    assert "rollout undo" in _runs(jobs["rollback"])
    assert flow["permissions"]["id-token"] == "write"


_BUILTINS = {"PROJECT_ID", "SHORT_SHA", "COMMIT_SHA", "BUILD_ID", "_PR_NUMBER"}


@pytest.mark.parametrize("name", ["cloudbuild.yaml", "cloudbuild-pr.yaml"])
def test_cloud_build_files_parse_and_use_only_defined_substitutions(workflows, name) -> None:
    text = (workflows / name).read_text()
    build = yaml.safe_load(text)
    assert build["steps"] and all(s["name"] and s.get("id") for s in build["steps"])
    ids = [s["id"] for s in build["steps"]]
    assert len(ids) == len(set(ids))
    defined = set(build.get("substitutions", {})) | _BUILTINS
    # Cloud Build expands $NAME and ${NAME}; the shell's own $ must be written $$.
    stripped = text.replace("$$", "")
    for match in re.finditer(r"\$(\{(\w+)\}|(\w+))", stripped):
        used = match.group(2) or match.group(3)
        assert used in defined, f"{name}: ${used} is not a substitution (escape shell $ as $$)"
    for key in build.get("substitutions", {}):
        assert key.startswith("_") and key.upper() == key


def test_cloud_build_release_order(workflows: Path) -> None:
    build = yaml.safe_load((workflows / "cloudbuild.yaml").read_text())
    assert [s["id"] for s in build["steps"]] == [
        "register",
        "build",
        "push",
        "staging",
        "smoke-staging",
        "approvals",
        "canary",
        "watch-promote-or-rollback",
    ]
    last = build["steps"][-1]["args"][-1]
    assert "--to-tags canary" not in last and "--to-latest" in last and "--to-revisions" in last
    assert "modelyard smoke" in last and "exit 1" in last


def test_ci_options_are_checked(demo) -> None:
    from modelyard.deploy import ci
    from modelyard.deploy.options import DeployOptions
    from modelyard.deploy.spec import platform_workload

    with pytest.raises(InvalidInput, match="model endpoints"):
        ci.render(
            platform_workload(), DeployOptions(), "github", target="x", pipeline="a.py:f",
            deploy_dir="d", generated_by="t",
        )  # fmt: skip


def test_pipeline_summary_markdown(tmp_path: Path, capsys) -> None:
    result = {
        "run_id": "abc",
        "pipeline": "train",
        "status": "FAILED",
        "seconds": 12.5,
        "params": {"rows": 1000},
        "steps": [
            {"name": "train", "status": "FINISHED", "seconds": 3.2, "outputs": {"auc": 0.81}},
            {"name": "gates", "status": "FAILED", "seconds": 0.4, "error": "auc >= 0.85 | failed"},
        ],
    }
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result))
    assert main(["deploy", "ci-summary", str(path), "--title", "credit-risk"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("### ❌ credit-risk: FAILED")
    assert "| gates | FAILED | 0.4 | auc >= 0.85 \\| failed |" in text
    (tmp_path / "empty.json").write_text("")
    assert main(["deploy", "ci-summary", str(tmp_path / "empty.json")]) == 0
    assert "no result" in capsys.readouterr().out


def test_wait_for_approvals_returns_once_signed_off(demo) -> None:
    from modelyard.deploy.ci import wait_for_approvals

    yard = demo.connect()
    try:
        roles = wait_for_approvals(yard, "credit-risk/1", timeout_s=0)
    finally:
        yard.close()
    assert roles == ["approver", "validator"]


def test_wait_for_approvals_times_out_naming_the_missing_roles(tmp_path: Path) -> None:
    import modelyard
    from modelyard.data import synthetic
    from modelyard.demo.credit_models import logistic_pipeline, split_xy
    from modelyard.deploy.ci import wait_for_approvals
    from modelyard.testing.identity import govern

    url = f"sqlite:///{tmp_path / 'y.db'}"
    people = {"alice": ["admin", "developer"], "vera": ["validator"]}
    tokens = govern(url, people, artifact_root=str(tmp_path / "a"))
    yard = modelyard.connect(url, artifact_root=str(tmp_path / "a"), token=tokens["alice"])
    try:
        X, y = split_xy(synthetic.generate(500, seed=1))
        version = yard.models.register("m", logistic_pipeline().fit(X, y), example=X)
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 1:  # a sign-off arrives while the release waits
                vera = yard.with_token(tokens["vera"])
                try:
                    vera.models.approve(version.ref, role="validator")
                finally:
                    vera.close()

        with pytest.raises(ModelyardError, match=r"still lacks sign-off by approver"):
            wait_for_approvals(yard, version.ref, timeout_s=0.3, interval_s=0.1, sleep=sleep)
        assert sleeps
    finally:
        yard.close()


# ---------------------------------------------------------------- canary watch


class _Prometheus(BaseHTTPRequestHandler):
    answers: dict[str, float | None] = {}
    firing: list[dict] = []

    def do_GET(self) -> None:
        parsed = urlparse(self.path)
        if parsed.path == "/api/v1/alerts":
            body = {"status": "success", "data": {"alerts": self.firing}}
        else:
            query = parse_qs(parsed.query)["query"][0]
            value = next((v for k, v in self.answers.items() if k in query), None)
            result = [] if value is None else [{"metric": {}, "value": [0, str(value)]}]
            body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def prometheus() -> Iterator[type[_Prometheus]]:
    handler = type("Handler", (_Prometheus,), {"answers": {}, "firing": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_canary_watch_passes_a_healthy_canary(prometheus) -> None:
    from modelyard.deploy.canary import watch_canary

    prometheus.answers.update({'status=~"5.."': 0.001, "histogram_quantile": 0.05})
    result = watch_canary(
        prometheus.url, "credit-risk", duration_s=0.2, interval_s=0.05, sleep=lambda s: None
    )
    assert result.rounds >= 1 and result.worst_p95_ms == pytest.approx(50)


@pytest.mark.parametrize(
    ("answers", "firing", "message"),
    [
        ({'status=~"5.."': 0.2}, [], r"error rate 20\.00% exceeds 1\.00%"),
        ({"histogram_quantile": 0.5}, [], r"p95 latency 500 ms exceeds the 200 ms budget"),
        (
            {},
            [
                {
                    "state": "firing",
                    "labels": {"alertname": "ModelyardHighErrorRate", "endpoint": "credit-risk"},
                }
            ],
            "alerts firing: ModelyardHighErrorRate",
        ),
    ],
)
def test_canary_watch_fails_at_the_first_breach(prometheus, answers, firing, message) -> None:
    from modelyard.deploy.canary import CanaryBreach, watch_canary

    prometheus.answers.update(answers)
    prometheus.firing.extend(firing)
    with pytest.raises(CanaryBreach, match=message):
        watch_canary(prometheus.url, "credit-risk", duration_s=60, sleep=lambda s: None)


def test_canary_check_cli_exits_non_zero_on_a_breach(prometheus, capsys) -> None:
    prometheus.answers.update({'status=~"5.."': 0.5})
    code = main(
        ["deploy", "canary-check", "--prometheus", prometheus.url, "--endpoint", "credit-risk"]
    )
    assert code == 1
    assert "error rate 50.00%" in capsys.readouterr().err
