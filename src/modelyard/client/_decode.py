"""API JSON back into the entities the local services return (the same frozen dataclasses)."""

from __future__ import annotations

from typing import Any

from modelyard.data.entities import DatasetSummary, DatasetVersionInfo
from modelyard.registry.audit import AuditRecord, VerifyResult
from modelyard.registry.entities import (
    ApprovalInfo,
    ModelInfo,
    ModelVersionInfo,
    PolicyChangeInfo,
    UserInfo,
    VersionArtifactInfo,
)
from modelyard.registry.tokens import TokenInfo
from modelyard.tracking.entities import MetricPoint, RunArtifactInfo, RunInfo, RunInputInfo


def dataset_version(d: dict[str, Any]) -> DatasetVersionInfo:
    return DatasetVersionInfo(
        id=d["id"],
        name=d["name"],
        version=d["version"],
        digest=d["digest"],
        uris=tuple(d["uris"]),
        stored_digest=d["stored_digest"],
        format=d["format"],
        arrow_schema=d["arrow_schema"],
        num_rows=d["num_rows"],
        num_bytes=d["num_bytes"],
        profile=d["profile"],
        parents=tuple(d["parents"]),
        producing_run_id=d["producing_run_id"],
        created_by=d["created_by"],
        created_at=d["created_at"],
        description=d["description"],
    )


def dataset_summary(d: dict[str, Any]) -> DatasetSummary:
    return DatasetSummary(
        d["name"],
        d["description"],
        d["latest_version"],
        d["versions"],
        d["latest_rows"],
        d["updated_at"],
    )


def run(d: dict[str, Any]) -> RunInfo:
    return RunInfo(
        id=d["id"],
        experiment=d["experiment"],
        name=d["name"],
        status=d["status"],
        user=d["user"],
        start_time=d["start_time"],
        end_time=d["end_time"],
        parent_run_id=d["parent_run_id"],
        git_commit=d["git_commit"],
        git_dirty=d["git_dirty"],
        params=d["params"],
        metrics=d["metrics"],
        tags=d["tags"],
        inputs=tuple(
            RunInputInfo(i["dataset"], i["version"], i["digest"], i["role"]) for i in d["inputs"]
        ),
        artifacts=tuple(
            RunArtifactInfo(a["path"], a["digest"], a["size"], a["is_dir"]) for a in d["artifacts"]
        ),
        python_version=d["python_version"],
        error=d["error"],
    )


def metric_point(d: dict[str, Any]) -> MetricPoint:
    return MetricPoint(d["key"], d["value"], d["step"], d["timestamp"])


def model(d: dict[str, Any]) -> ModelInfo:
    return ModelInfo(
        id=d["id"],
        name=d["name"],
        description=d["description"],
        owner=d["owner"],
        risk_tier=d["risk_tier"],
        policy=d["policy"],
        created_by=d["created_by"],
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        latest_version=d["latest_version"],
        aliases=d["aliases"],
    )


def version(d: dict[str, Any]) -> ModelVersionInfo:
    return ModelVersionInfo(
        id=d["id"],
        name=d["name"],
        version=d["version"],
        artifact_digest=d["artifact_digest"],
        flavor=d["flavor"],
        task=d["task"],
        manifest=d["manifest"],
        run_id=d["run_id"],
        state=d["state"],
        description=d["description"],
        created_by=d["created_by"],
        created_at=d["created_at"],
        updated_at=d["updated_at"],
        aliases=tuple(d["aliases"]),
        metrics=d["metrics"],
        tags=d["tags"],
        datasets=tuple((x["ref"], x["role"]) for x in d["datasets"]),
        approvals=tuple(
            ApprovalInfo(a["role"], a["user"], a["decision"], a["comment"], a["created_at"])
            for a in d["approvals"]
        ),
        artifacts=tuple(
            VersionArtifactInfo(a["name"], a["digest"], a["kind"], a["details"], a["created_at"])
            for a in d["artifacts"]
        ),
    )


def user(d: dict[str, Any]) -> UserInfo:
    return UserInfo(
        d["name"],
        d["display_name"],
        tuple(d["roles"]),
        d["disabled"],
        d["created_at"],
        d["created_by"],
    )


def token(d: dict[str, Any]) -> TokenInfo:
    return TokenInfo(
        d["id"],
        d["user"],
        d["name"],
        d["created_at"],
        d["expires_at"],
        d["revoked_at"],
        d["last_used_at"],
    )


def audit_record(d: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        d["seq"],
        d["time"],
        d["actor"],
        d["action"],
        d["subject"],
        d["payload"],
        d["prev_hash"],
        d["hash"],
    )


def verify_result(d: dict[str, Any]) -> VerifyResult:
    return VerifyResult(
        d["ok"], d["events"], d["head"], d["first_bad_seq"], d["problem"], d.get("checkpoint_seq")
    )


def policy_change(d: dict[str, Any]) -> PolicyChangeInfo:
    return PolicyChangeInfo(
        id=d["id"],
        model=d["model"],
        before=d["before"],
        after=d["after"],
        required_roles=tuple(d["required_roles"]),
        status=d["status"],
        comment=d["comment"],
        requested_by=d["requested_by"],
        requested_at=d["requested_at"],
        decided_by=d["decided_by"],
        decided_at=d["decided_at"],
        sign_offs=tuple(d["sign_offs"]),
    )
