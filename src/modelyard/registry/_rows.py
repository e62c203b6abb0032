"""Registry rows into entities, and references into rows: shared by the registry modules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from modelyard._util.names import Ref, check_name, parse_ref
from modelyard.errors import InvalidInput, NotFound
from modelyard.registry.entities import (
    ApprovalInfo,
    ModelInfo,
    ModelVersionInfo,
    VersionArtifactInfo,
)
from modelyard.store.models import (
    Alias,
    Approval,
    Dataset,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    VersionArtifact,
    VersionDataset,
    VersionMetric,
    VersionTag,
)


def model_row(session: Session, name: str, *, lock: bool = False) -> RegisteredModel:
    check_name(name, "model name")
    query = select(RegisteredModel).where(RegisteredModel.name == name)
    if lock:
        # The model row is the governance lock of a model: sign-offs, protected-alias
        # moves and policy changes all take it first. populate_existing: a copy loaded
        # before the lock was granted may be stale (another writer just committed).
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"no model {name!r}; see 'modelyard models list'")
    return row


def version_row(session: Session, ref: str | Ref | ModelVersionInfo) -> ModelVersion:
    """Resolve ``name/3``, ``name@alias``, ``name@latest`` (or an entity) to its row."""
    if isinstance(ref, ModelVersionInfo):
        ref = Ref(ref.name, version=ref.version)
    parsed = ref if isinstance(ref, Ref) else parse_ref(ref, "model reference")
    model = model_row(session, parsed.name)
    query = select(ModelVersion).where(ModelVersion.model_id == model.id)
    if parsed.version is not None:
        row = session.scalar(query.where(ModelVersion.version == parsed.version))
        if row is None:
            raise NotFound(
                f"no version {parsed.version} of model {parsed.name!r}; "
                f"see 'modelyard models versions {parsed.name}'"
            )
        return row
    if parsed.is_latest:
        row = session.scalar(query.order_by(ModelVersion.version.desc()).limit(1))
        if row is None:
            raise NotFound(f"model {parsed.name!r} has no versions yet")
        return row
    alias = session.get(Alias, (model.id, parsed.alias))
    if alias is None:
        known = session.scalars(select(Alias.alias).where(Alias.model_id == model.id)).all()
        hint = f" (aliases: {', '.join(sorted(known))})" if known else " (it has no aliases)"
        raise NotFound(f"model {parsed.name!r} has no alias {parsed.alias!r}{hint}")
    row = session.get(ModelVersion, alias.version_id)
    assert row is not None  # foreign key
    return row


def model_info(session: Session, row: RegisteredModel) -> ModelInfo:
    latest = session.scalar(
        select(func.max(ModelVersion.version)).where(ModelVersion.model_id == row.id)
    )
    aliases = dict(
        session.execute(
            select(Alias.alias, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == Alias.version_id)
            .where(Alias.model_id == row.id)
            .order_by(Alias.alias)
        ).all()
    )
    return ModelInfo(
        id=row.id,
        name=row.name,
        description=row.description,
        owner=row.owner,
        risk_tier=row.risk_tier,
        policy=row.policy or {},
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        latest_version=latest,
        aliases=aliases,
    )


_VID = bindparam("vid")
_Q_NAME = select(RegisteredModel.name).where(RegisteredModel.id == bindparam("mid"))
_Q_ALIASES = select(Alias.alias).where(Alias.version_id == _VID).order_by(Alias.alias)
_Q_METRICS = select(VersionMetric.source, VersionMetric.key, VersionMetric.value).where(
    VersionMetric.version_id == _VID
)
_Q_TAGS = select(VersionTag.key, VersionTag.value).where(VersionTag.version_id == _VID)
_Q_DATASETS = (
    select(Dataset.name, DatasetVersion.version, VersionDataset.role)
    .join(DatasetVersion, DatasetVersion.id == VersionDataset.dataset_version_id)
    .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
    .where(VersionDataset.version_id == _VID)
    .order_by(Dataset.name, DatasetVersion.version)
)
_Q_APPROVALS = (
    select(Approval.role, Approval.user, Approval.decision, Approval.comment, Approval.created_at)
    .where(Approval.version_id == _VID)
    .order_by(Approval.id)
)
_Q_ARTIFACTS = (
    select(
        VersionArtifact.name,
        VersionArtifact.digest,
        VersionArtifact.kind,
        VersionArtifact.details,
        VersionArtifact.created_at,
    )
    .where(VersionArtifact.version_id == _VID)
    .order_by(VersionArtifact.name)
)


def version_info(session: Session, row: ModelVersion, name: str | None = None) -> ModelVersionInfo:
    """The full record of a version: seven prebuilt Core queries on the session's connection."""
    conn = session.connection()
    params = {"vid": row.id}
    if name is None:
        name = conn.execute(_Q_NAME, {"mid": row.model_id}).scalar()
    metrics: dict[str, dict[str, float]] = {}
    for source, key, value in conn.execute(_Q_METRICS, params):
        metrics.setdefault(source, {})[key] = value
    return ModelVersionInfo(
        id=row.id,
        name=name or "",
        version=row.version,
        artifact_digest=row.artifact_digest,
        flavor=row.flavor,
        task=row.task,
        manifest=row.manifest or {},
        run_id=row.run_id,
        state=row.state,
        description=row.description,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        aliases=tuple(conn.execute(_Q_ALIASES, params).scalars()),
        metrics=metrics,
        tags={k: v for k, v in conn.execute(_Q_TAGS, params)},
        datasets=tuple((f"{n}/{v}", role) for n, v, role in conn.execute(_Q_DATASETS, params)),
        approvals=tuple(ApprovalInfo(*r) for r in conn.execute(_Q_APPROVALS, params)),
        artifacts=tuple(
            VersionArtifactInfo(n, d, k, details or {}, t)
            for n, d, k, details, t in conn.execute(_Q_ARTIFACTS, params)
        ),
    )


def dataset_refs(conn: Any, roles: dict[int, str]) -> tuple[tuple[str, str], ...]:
    """("name/version", role) for dataset version ids, sorted like ``version_info``."""
    rows = conn.execute(
        select(DatasetVersion.id, Dataset.name, DatasetVersion.version)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetVersion.id.in_(roles))
        .order_by(Dataset.name, DatasetVersion.version)
    ).all()
    return tuple((f"{name}/{version}", roles[i]) for i, name, version in rows)


def version_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"version must be a whole number >= 1; got {value!r}")
    return value
