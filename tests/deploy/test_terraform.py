"""The Terraform stack: it parses, names every resource the issue lists, and grants least privilege.

``terraform validate`` needs the Google provider, which cannot be downloaded
here; the files are parsed with python-hcl2 and, when terraform is installed,
checked with ``terraform fmt -check`` (which needs no provider).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from modelyard.testing.environment import require_tool


def _unquote(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        return value
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k != "__is_block__"}
    return value


def parse(folder: Path) -> dict[str, Any]:
    """Resources by (type, name), variables, outputs and locals of every .tf file."""
    stack: dict[str, Any] = {"resource": {}, "variable": {}, "output": {}, "locals": {}}
    for path in sorted(folder.glob("*.tf")):
        with path.open() as fh:
            data = _unquote(hcl2.load(fh))
        for block in data.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    stack["resource"][(rtype, name)] = body
        for kind in ("variable", "output"):
            for block in data.get(kind, []):
                stack[kind].update(block)
        for block in data.get("locals", []):
            stack["locals"].update(block)
    return stack


@pytest.fixture(scope="module")
def endpoint_stack(generated: Path) -> dict[str, Any]:
    return parse(generated / "terraform")


@pytest.fixture(scope="module")
def platform_stack(platform_tree: Path) -> dict[str, Any]:
    return parse(platform_tree / "terraform")


def types(stack: dict[str, Any]) -> set[str]:
    return {rtype for rtype, _ in stack["resource"]}


def test_every_listed_resource_exists(endpoint_stack) -> None:
    assert {
        "google_storage_bucket",  # artifacts
        "google_sql_database_instance",  # Cloud SQL for PostgreSQL
        "google_sql_database",
        "google_sql_user",
        "google_artifact_registry_repository",
        "google_cloud_run_v2_service",  # endpoint and platform server
        "google_cloud_run_v2_job",  # batch and monitoring
        "google_cloud_scheduler_job",
        "google_secret_manager_secret",
        "google_service_account",
    } <= types(endpoint_stack)
    resources = endpoint_stack["resource"]
    assert {("google_cloud_run_v2_service", n) for n in ("endpoint", "server")} <= set(resources)
    assert {("google_cloud_run_v2_job", n) for n in ("batch", "monitor")} <= set(resources)
    assert {("google_cloud_scheduler_job", n) for n in ("batch", "monitor")} <= set(resources)
    db = resources[("google_sql_database_instance", "registry")]
    assert db["database_version"] == "${var.db_version}"
    assert endpoint_stack["variable"]["db_version"]["default"].startswith("POSTGRES_")


def test_the_bucket_is_private(endpoint_stack) -> None:
    bucket = endpoint_stack["resource"][("google_storage_bucket", "artifacts")]
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["versioning"][0]["enabled"] is True
    assert bucket["force_destroy"] is False


def test_the_database_has_no_public_ip_and_keeps_backups(endpoint_stack) -> None:
    db = endpoint_stack["resource"][("google_sql_database_instance", "registry")]
    settings = db["settings"][0]
    ip = settings["ip_configuration"][0]
    assert ip["ipv4_enabled"] is False and ip["ssl_mode"] == "ENCRYPTED_ONLY"
    assert "authorized_networks" not in ip
    backups = settings["backup_configuration"][0]
    assert backups["enabled"] is True and backups["point_in_time_recovery_enabled"] is True
    assert db["deletion_protection"] == "${var.deletion_protection}"
    assert endpoint_stack["variable"]["deletion_protection"]["default"] is True


def _members(stack: dict[str, Any]) -> list[tuple[str, str, dict]]:
    return [
        (rtype, name, body)
        for (rtype, name), body in stack["resource"].items()
        if rtype.endswith("_iam_member") or rtype.endswith("_iam_binding")
    ]


@pytest.mark.parametrize("which", ["endpoint_stack", "platform_stack"])
def test_least_privilege(which: str, request: pytest.FixtureRequest, generated: Path) -> None:
    stack = request.getfixturevalue(which)
    folder = (
        generated / "terraform"
        if which == "endpoint_stack"
        else request.getfixturevalue("platform_tree") / "terraform"
    )
    text = "\n".join(p.read_text() for p in folder.glob("*.tf"))
    code = "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))
    # Nobody public, in a member or anywhere else outside the variables' refusal.
    for rtype, name, body in _members(stack):
        assert body.get("member") not in ("allUsers", "allAuthenticatedUsers"), (rtype, name)
        assert body["role"] not in ("roles/owner", "roles/editor", "roles/viewer"), (rtype, name)
        # Granted on one resource, never on the project, folder or organisation.
        assert not rtype.startswith(
            ("google_project_iam", "google_folder_iam", "google_organization")
        ), (rtype, name)
    assert not re.search(r"google_project_iam_(member|binding|policy)", code)
    assert not re.search(r'role\s*=\s*"roles/(owner|editor)"', code)
    assert "google_storage_bucket_iam_policy" not in code


def test_each_workload_gets_only_what_it_needs(endpoint_stack) -> None:
    grants: dict[str, set[tuple[str, str]]] = {}
    for rtype, _, body in _members(endpoint_stack):
        member = body["member"]
        match = re.search(r"google_service_account\.(\w+)\.email", member)
        who = match.group(1) if match else member
        grants.setdefault(who, set()).add((rtype, body["role"]))
    assert grants["endpoint"] == {
        ("google_storage_bucket_iam_member", "roles/storage.objectViewer"),
        ("google_storage_bucket_iam_member", "roles/storage.objectCreator"),
        ("google_secret_manager_secret_iam_member", "roles/secretmanager.secretAccessor"),
    }
    assert grants["scheduler"] == {("google_cloud_run_v2_job_iam_member", "roles/run.invoker")}
    assert ("google_storage_bucket_iam_member", "roles/storage.objectAdmin") in grants["jobs"]
    assert ("google_storage_bucket_iam_member", "roles/storage.objectAdmin") in grants["server"]
    secrets = {
        body["secret_id"]: body["member"]
        for rtype, _, body in _members(endpoint_stack)
        if rtype == "google_secret_manager_secret_iam_member"
    }
    assert all(s.startswith("${google_secret_manager_secret.") for s in secrets)
    # Bucket roles are bound to this bucket only.
    for rtype, _, body in _members(endpoint_stack):
        if rtype == "google_storage_bucket_iam_member":
            assert body["bucket"] == "${google_storage_bucket.artifacts.name}"


def test_scheduler_starts_the_jobs_as_its_own_account(endpoint_stack) -> None:
    for name in ("batch", "monitor"):
        job = endpoint_stack["resource"][("google_cloud_scheduler_job", name)]
        target = job["http_target"][0]
        assert target["uri"].endswith(f"${{google_cloud_run_v2_job.{name}.id}}:run")
        token = target["oauth_token"][0]
        assert token["service_account_email"] == "${google_service_account.scheduler.email}"
    assert endpoint_stack["variable"]["batch_schedule"]["default"] == "0 2 * * *"
    assert endpoint_stack["variable"]["monitor_schedule"]["default"] == "0 * * * *"


def test_services_read_the_store_url_from_secret_manager(endpoint_stack) -> None:
    for name in ("endpoint", "server"):
        service = endpoint_stack["resource"][("google_cloud_run_v2_service", name)]
        template = service["template"][0]
        assert template["service_account"] == f"${{google_service_account.{name}.email}}"
        (container,) = template["containers"]
        env = {e["name"]: e for e in container["env"]}
        ref = env["MODELYARD_STORE_URL"]["value_source"][0]["secret_key_ref"][0]
        assert ref["secret"] == "${google_secret_manager_secret.store_url.secret_id}"
        assert service["ingress"] == "${var.ingress}"
    endpoint = endpoint_stack["resource"][("google_cloud_run_v2_service", "endpoint")]
    probes = endpoint["template"][0]["containers"][0]
    assert probes["startup_probe"][0]["http_get"][0]["path"] == "/v2/health/ready"
    assert probes["liveness_probe"][0]["http_get"][0]["path"] == "/v2/health/live"


@pytest.mark.parametrize("which", ["endpoint_stack", "platform_stack"])
def test_variables_are_described_and_validated(which: str, request) -> None:
    stack = request.getfixturevalue(which)
    assert stack["variable"] and stack["output"]
    for name, body in stack["variable"].items():
        assert body.get("description"), f"variable {name} has no description"
        if body.get("type") != "bool":
            assert body.get("validation"), f"variable {name} has no validation"
    for name, body in stack["output"].items():
        assert body.get("description"), f"output {name} has no description"
    invokers = stack["variable"]["invoker_members"]["validation"][0]["condition"]
    assert "allUsers" in invokers and "allAuthenticatedUsers" in invokers


def test_platform_stack_has_no_model_resources(platform_stack) -> None:
    resources = platform_stack["resource"]
    assert ("google_cloud_run_v2_service", "server") in resources
    assert ("google_cloud_run_v2_service", "endpoint") not in resources
    assert "google_cloud_scheduler_job" not in types(platform_stack)
    assert {"google_storage_bucket", "google_sql_database_instance"} <= types(platform_stack)


def test_readme_and_gitignore(generated: Path) -> None:
    readme = (generated / "terraform" / "README.md").read_text()
    assert "terraform init" in readme and "terraform apply" in readme
    assert "terraform.tfvars" in (generated / "terraform" / ".gitignore").read_text()
    example = (generated / "terraform" / "terraform.tfvars.example").read_text()
    assert "allUsers" not in example


def test_terraform_fmt_accepts_the_files(generated: Path, platform_tree: Path, tmp_path) -> None:
    terraform = require_tool(
        "terraform", "install terraform (the files are still parsed with python-hcl2 elsewhere)"
    )
    for folder in (generated / "terraform", platform_tree / "terraform"):
        shutil.copy(folder / "terraform.tfvars.example", tmp_path / "example.tfvars")
        for target in (folder, tmp_path):
            result = subprocess.run(
                [terraform, "fmt", "-check", "-diff", str(target)],
                capture_output=True,
                text=True,
                timeout=60,
                env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CHECKPOINT_DISABLE": "1"},
            )
            assert result.returncode == 0, result.stdout + result.stderr
