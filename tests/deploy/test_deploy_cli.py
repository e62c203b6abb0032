"""``modelyard deploy generate`` from the command line: files, errors and canary routes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from modelyard.cli.main import main


@pytest.fixture
def env(demo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    from modelyard.cli._context import yard

    yard.cache_clear()
    for key, value in demo.env(home=tmp_path / "home").items():
        monkeypatch.setenv(key, value)
    yield tmp_path
    yard.cache_clear()


def test_generate_writes_every_target(env: Path, capsys) -> None:
    out = env / "out"
    code = main(
        ["deploy", "generate", "credit-risk@champion", "--target", "all", "-o", str(out), "--json"]
    )
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["models"] == ["credit-risk@champion -> credit-risk/1"]
    for path in (
        "Dockerfile",
        ".dockerignore",
        "kubernetes/overlays/prod/kustomization.yaml",
        "terraform/main.tf",
        "terraform/README.md",
        "grafana/serving.json",
    ):
        assert (out / path).is_file(), path


def test_generate_from_a_deployment_file_with_a_canary(env: Path, capsys) -> None:
    spec = env / "endpoint.yaml"
    spec.write_text(
        yaml.safe_dump(
            {"name": "loans", "routes": [{"name": "champion", "model": "credit-risk@champion"}]}
        )
    )
    out = env / "out"
    code = main(
        ["deploy", "generate", str(spec), "--target", "docker", "-o", str(out),
         "--canary", "credit-risk/1", "--canary-weight", "25"]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    served = yaml.safe_load((out / "deployment.yaml").read_text())
    assert served["name"] == "loans"
    assert [(r["name"], r["weight"]) for r in served["routes"]] == [
        ("champion", 75),
        ("canary", 25),
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["credit-risk@champion", "--target", "helm"], 2, "--target must be one of"),
        (["credit-risk@nope", "--target", "docker"], 2, "routes[0].model 'credit-risk@nope'"),
        (["credit-risk@champion", "--target", "docker", "--project", "X"], 2, "--project must be"),
        (["missing.yaml", "--target", "docker"], 2, "cannot read deployment file"),
    ],
)
def test_generate_errors_are_one_clear_line(env: Path, capsys, args, code, message) -> None:
    assert main(["deploy", "generate", *args, "-o", str(env / "out")]) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_known_answer_command_writes_the_versions_answer(env: Path, capsys) -> None:
    path = env / "ka.json"
    assert main(["deploy", "known-answer", "credit-risk/1", "-o", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["format"] == "modelyard.known-answer/v1" and data["version"] == 1
    assert len(data["records"]) == len(data["probabilities"]) == 5
    assert all(abs(sum(row) - 1) < 1e-9 for row in data["probabilities"])


def test_wait_approvals_command(env: Path, capsys) -> None:
    assert main(["deploy", "wait-approvals", "credit-risk/1", "--timeout-s", "0"]) == 0
    assert "signed off (approver, validator)" in capsys.readouterr().out


def test_ci_command_writes_both_providers(env: Path, capsys) -> None:
    for provider in ("github", "cloudbuild"):
        code = main(
            ["deploy", "ci", "credit-risk@champion", "--provider", provider, "-o", str(env / "ci")]
        )
        assert code == 0, capsys.readouterr().err
    assert (env / "ci" / ".github" / "workflows" / "modelyard-credit-risk-release.yml").is_file()
    assert (env / "ci" / "cloudbuild.yaml").is_file()
    assert main(["deploy", "ci", "credit-risk@champion", "--provider", "jenkins", "-o", "x"]) == 2
    assert "--provider must be one of" in capsys.readouterr().err


def test_generate_from_a_stored_deployment(env: Path, demo, capsys) -> None:
    yard = demo.connect()
    try:
        yard.deployments.apply(
            {
                "name": "loans-stored",
                "routes": [{"name": "champion", "model": "credit-risk@champion"}],
            }
        )
    finally:
        yard.close()
    out = env / "out"
    assert (
        main(["deploy", "generate", "loans-stored", "--target", "kubernetes", "-o", str(out)]) == 0
    )
    spec = yaml.safe_load((out / "kubernetes/base/deployment-spec.yaml").read_text())
    assert spec["name"] == "loans-stored"
    deployment = yaml.safe_load((out / "kubernetes/base/deployment.yaml").read_text())
    assert deployment["metadata"]["name"] == "loans-stored"
