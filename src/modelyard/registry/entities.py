"""What the registry returns: plain frozen records, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATES = ("registered", "validated", "approved", "deployed", "archived")


@dataclass(frozen=True)
class ModelInfo:
    id: int
    name: str
    description: str
    owner: str
    risk_tier: int
    policy: dict[str, Any]
    created_by: str
    created_at: int
    updated_at: int
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "owner": self.owner,
            "risk_tier": self.risk_tier,
            "policy": self.policy,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "latest_version": self.latest_version,
            "aliases": dict(self.aliases),
        }


@dataclass(frozen=True)
class ApprovalInfo:
    role: str
    user: str
    decision: str
    comment: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "user": self.user,
            "decision": self.decision,
            "comment": self.comment,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class VersionArtifactInfo:
    name: str
    digest: str
    kind: str
    details: dict[str, Any]
    created_at: int


@dataclass(frozen=True)
class ModelVersionInfo:
    id: int
    name: str
    version: int
    artifact_digest: str
    flavor: str
    task: str
    manifest: dict[str, Any]
    run_id: str | None
    state: str
    description: str
    created_by: str
    created_at: int
    updated_at: int
    aliases: tuple[str, ...] = ()
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # source -> key -> value
    tags: dict[str, str] = field(default_factory=dict)
    datasets: tuple[tuple[str, str], ...] = ()  # (dataset ref, role)
    approvals: tuple[ApprovalInfo, ...] = ()
    artifacts: tuple[VersionArtifactInfo, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def signature(self) -> dict[str, Any] | None:
        return self.manifest.get("signature")

    def artifact(self, name: str) -> VersionArtifactInfo | None:
        return next((a for a in self.artifacts if a.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "artifact_digest": self.artifact_digest,
            "flavor": self.flavor,
            "task": self.task,
            "run_id": self.run_id,
            "state": self.state,
            "description": self.description,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "aliases": list(self.aliases),
            "metrics": self.metrics,
            "tags": self.tags,
            "datasets": [{"ref": r, "role": role} for r, role in self.datasets],
            "approvals": [a.to_dict() for a in self.approvals],
            "artifacts": [
                {"name": a.name, "digest": a.digest, "kind": a.kind, "details": a.details}
                for a in self.artifacts
            ],
            "signature": self.signature,
            "manifest": self.manifest,
        }


@dataclass(frozen=True)
class UserInfo:
    name: str
    display_name: str
    roles: tuple[str, ...]
    disabled: bool
    created_at: int
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "roles": list(self.roles),
            "disabled": self.disabled,
            "created_at": self.created_at,
            "created_by": self.created_by,
        }


@dataclass(frozen=True)
class PolicyChangeInfo:
    """A request to weaken a model's risk tier or policy, and its sign-offs."""

    id: int
    model: str
    before: dict[str, Any]
    after: dict[str, Any]
    required_roles: tuple[str, ...]
    status: str
    comment: str
    requested_by: str
    requested_at: int
    decided_by: str | None
    decided_at: int | None
    sign_offs: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "before": self.before,
            "after": self.after,
            "required_roles": list(self.required_roles),
            "status": self.status,
            "comment": self.comment,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at,
            "sign_offs": [dict(s) for s in self.sign_offs],
        }
