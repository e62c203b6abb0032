"""Pages of models and versions in a fixed number of queries, for list views.

``ModelRegistry.list`` and ``versions`` build each record with its own few
queries, which is fine for a handful and slow for a page of fifty on a
networked database (a page of versions was 350 round trips). These readers
return the same entities (``ModelInfo``, ``ModelVersionInfo``) for a whole
page with one query per related table: three for models, eight for versions,
whatever the page size. The platform server's lists use them.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select

from modelyard.registry import _rows
from modelyard.registry.entities import (
    ApprovalInfo,
    ModelInfo,
    ModelVersionInfo,
    VersionArtifactInfo,
)
from modelyard.registry.users import resolve_actor
from modelyard.store import MetadataStore
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

__all__ = ["models_page", "versions_page"]


def models_page(
    store: MetadataStore,
    user: str,
    *,
    name_like: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ModelInfo]:
    """Models ordered by name, as ``ModelRegistry.list`` returns them."""
    query = select(RegisteredModel).order_by(RegisteredModel.name)
    if name_like:
        query = query.where(RegisteredModel.name.like(name_like.replace("*", "%")))
    with store.read() as session:
        resolve_actor(session, user)
        rows = session.scalars(query.limit(limit).offset(offset)).all()
        ids = [r.id for r in rows]
        if not ids:
            return []
        latest = dict(
            session.execute(
                select(ModelVersion.model_id, func.max(ModelVersion.version))
                .where(ModelVersion.model_id.in_(ids))
                .group_by(ModelVersion.model_id)
            ).all()
        )
        aliases: dict[int, dict[str, int]] = defaultdict(dict)
        for model_id, alias, version in session.execute(
            select(Alias.model_id, Alias.alias, ModelVersion.version)
            .join(ModelVersion, ModelVersion.id == Alias.version_id)
            .where(Alias.model_id.in_(ids))
            .order_by(Alias.alias)
        ):
            aliases[model_id][alias] = version
        return [
            ModelInfo(
                id=row.id,
                name=row.name,
                description=row.description,
                owner=row.owner,
                risk_tier=row.risk_tier,
                policy=row.policy or {},
                created_by=row.created_by,
                created_at=row.created_at,
                updated_at=row.updated_at,
                latest_version=latest.get(row.id),
                aliases=aliases.get(row.id, {}),
            )
            for row in rows
        ]


def versions_page(
    store: MetadataStore, user: str, name: str, *, limit: int = 50, offset: int = 0
) -> list[ModelVersionInfo]:
    """A model's versions, newest first, as ``ModelRegistry.versions`` returns them."""
    with store.read() as session:
        resolve_actor(session, user)
        model = _rows.model_row(session, name)
        rows = session.scalars(
            select(ModelVersion)
            .where(ModelVersion.model_id == model.id)
            .order_by(ModelVersion.version.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        ids = [r.id for r in rows]
        if not ids:
            return []
        related = _related(session, ids)
        return [
            ModelVersionInfo(
                id=row.id,
                name=name,
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
                aliases=tuple(related["aliases"][row.id]),
                metrics=dict(related["metrics"][row.id]),
                tags=dict(related["tags"][row.id]),
                datasets=tuple(related["datasets"][row.id]),
                approvals=tuple(related["approvals"][row.id]),
                artifacts=tuple(related["artifacts"][row.id]),
            )
            for row in rows
        ]


def _related(session: Any, ids: list[int]) -> dict[str, dict[int, Any]]:
    """Aliases, metrics, tags, datasets, approvals and artifacts of many versions at once.

    Each list keeps the order ``_rows.version_info`` gives it.
    """
    aliases: dict[int, list[str]] = defaultdict(list)
    for vid, alias in session.execute(
        select(Alias.version_id, Alias.alias).where(Alias.version_id.in_(ids)).order_by(Alias.alias)
    ):
        aliases[vid].append(alias)
    metrics: dict[int, dict[str, dict[str, float]]] = defaultdict(dict)
    for vid, source, key, value in session.execute(
        select(
            VersionMetric.version_id, VersionMetric.source, VersionMetric.key, VersionMetric.value
        )
        .where(VersionMetric.version_id.in_(ids))
        .order_by(VersionMetric.version_id, VersionMetric.source, VersionMetric.key)
    ):
        metrics[vid].setdefault(source, {})[key] = value
    tags: dict[int, dict[str, str]] = defaultdict(dict)
    for vid, key, value in session.execute(
        select(VersionTag.version_id, VersionTag.key, VersionTag.value)
        .where(VersionTag.version_id.in_(ids))
        .order_by(VersionTag.version_id, VersionTag.key)
    ):
        tags[vid][key] = value
    datasets: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for vid, dname, dversion, role in session.execute(
        select(VersionDataset.version_id, Dataset.name, DatasetVersion.version, VersionDataset.role)
        .join(DatasetVersion, DatasetVersion.id == VersionDataset.dataset_version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(VersionDataset.version_id.in_(ids))
        .order_by(Dataset.name, DatasetVersion.version)
    ):
        datasets[vid].append((f"{dname}/{dversion}", role))
    approvals: dict[int, list[ApprovalInfo]] = defaultdict(list)
    for vid, *fields in session.execute(
        select(
            Approval.version_id,
            Approval.role,
            Approval.user,
            Approval.decision,
            Approval.comment,
            Approval.created_at,
        )
        .where(Approval.version_id.in_(ids))
        .order_by(Approval.id)
    ):
        approvals[vid].append(ApprovalInfo(*fields))
    artifacts: dict[int, list[VersionArtifactInfo]] = defaultdict(list)
    for vid, aname, digest, kind, details, created in session.execute(
        select(
            VersionArtifact.version_id,
            VersionArtifact.name,
            VersionArtifact.digest,
            VersionArtifact.kind,
            VersionArtifact.details,
            VersionArtifact.created_at,
        )
        .where(VersionArtifact.version_id.in_(ids))
        .order_by(VersionArtifact.name)
    ):
        artifacts[vid].append(VersionArtifactInfo(aname, digest, kind, details or {}, created))
    return {
        "aliases": aliases,
        "metrics": metrics,
        "tags": tags,
        "datasets": datasets,
        "approvals": approvals,
        "artifacts": artifacts,
    }
