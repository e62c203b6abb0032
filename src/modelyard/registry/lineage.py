"""Lineage: from a version back to its run and datasets, and from a dataset forward.

Backward: version → training run (with its code version) → the run's input
datasets → each dataset's parents, recursively, plus datasets attached to the
version directly. Forward: dataset version → every dataset derived from it →
every model version trained on any of them (directly or through a run).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from modelyard._util.names import parse_ref
from modelyard.errors import NotFound
from modelyard.registry import _rows
from modelyard.store import MetadataStore
from modelyard.store.models import (
    Alias,
    Dataset,
    DatasetParent,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    Run,
    RunInput,
    VersionDataset,
)

MAX_DEPTH = 32


def _dataset_node(
    session: Session, version_id: int, role: str | None, depth: int = 0
) -> dict[str, Any]:
    row = session.get(DatasetVersion, version_id)
    assert row is not None
    name = session.scalar(select(Dataset.name).where(Dataset.id == row.dataset_id))
    parents = session.scalars(
        select(DatasetParent.parent_id).where(DatasetParent.child_id == version_id)
    ).all()
    node: dict[str, Any] = {
        "type": "dataset",
        "ref": f"{name}/{row.version}",
        "digest": row.digest,
        "num_rows": row.num_rows,
        "producing_run_id": row.producing_run_id,
        "parents": [],
    }
    if role:
        node["role"] = role
    if depth < MAX_DEPTH:
        node["parents"] = [_dataset_node(session, p, None, depth + 1) for p in parents]
    return node


def version_lineage(store: MetadataStore, ref: str) -> dict[str, Any]:
    """The backward lineage tree of a model version."""
    with store.read() as session:
        row = _rows.version_row(session, ref)
        info = _rows.version_info(session, row)
        run_node = None
        dataset_ids: dict[int, str] = {}
        if row.run_id:
            run = session.get(Run, row.run_id)
            if run is not None:
                run_node = {
                    "type": "run",
                    "id": run.id,
                    "name": run.name,
                    "status": run.status,
                    "git_commit": run.git_commit,
                    "git_dirty": run.git_dirty,
                }
                for dv, role in session.execute(
                    select(RunInput.dataset_version_id, RunInput.role).where(
                        RunInput.run_id == run.id
                    )
                ).all():
                    dataset_ids[dv] = role
        for dv, role in session.execute(
            select(VersionDataset.dataset_version_id, VersionDataset.role).where(
                VersionDataset.version_id == row.id
            )
        ).all():
            dataset_ids.setdefault(dv, role)
        return {
            "type": "model_version",
            "ref": info.ref,
            "artifact_digest": info.artifact_digest,
            "state": info.state,
            "aliases": list(info.aliases),
            "run": run_node,
            "datasets": [
                _dataset_node(session, dv, role) for dv, role in sorted(dataset_ids.items())
            ],
        }


def dataset_descendants(session: Session, root_id: int) -> list[int]:
    seen, frontier = {root_id}, [root_id]
    while frontier:
        children = session.scalars(
            select(DatasetParent.child_id).where(DatasetParent.parent_id.in_(frontier))
        ).all()
        frontier = [c for c in children if c not in seen]
        seen.update(frontier)
    return sorted(seen)


def dataset_forward(store: MetadataStore, dataset_ref: str) -> dict[str, Any]:
    """Every dataset derived from a dataset version, and every model version trained on them."""
    parsed = parse_ref(dataset_ref, "dataset reference")
    with store.read() as session:
        dataset_id = session.scalar(select(Dataset.id).where(Dataset.name == parsed.name))
        if dataset_id is None:
            raise NotFound(f"no dataset {parsed.name!r}")
        query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
        if parsed.version is not None:
            query = query.where(DatasetVersion.version == parsed.version)
        else:
            query = query.order_by(DatasetVersion.version.desc()).limit(1)
        root = session.scalar(query)
        if root is None:
            raise NotFound(f"no dataset version {dataset_ref!r}")
        ids = dataset_descendants(session, root.id)
        derived = [
            f"{n}/{v}"
            for n, v in session.execute(
                select(Dataset.name, DatasetVersion.version)
                .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
                .where(DatasetVersion.id.in_(ids), DatasetVersion.id != root.id)
                .order_by(Dataset.name, DatasetVersion.version)
            ).all()
        ]
        via_runs = (
            select(ModelVersion.id)
            .join(RunInput, RunInput.run_id == ModelVersion.run_id)
            .where(RunInput.dataset_version_id.in_(ids))
        )
        direct = select(VersionDataset.version_id).where(VersionDataset.dataset_version_id.in_(ids))
        rows = session.execute(
            select(RegisteredModel.name, ModelVersion.version, ModelVersion.id, ModelVersion.state)
            .join(RegisteredModel, RegisteredModel.id == ModelVersion.model_id)
            .where(ModelVersion.id.in_(via_runs.union(direct)))
            .order_by(RegisteredModel.name, ModelVersion.version)
        ).all()
        versions = []
        for name, version, version_id, state in rows:
            aliases = session.scalars(
                select(Alias.alias).where(Alias.version_id == version_id)
            ).all()
            versions.append(
                {"ref": f"{name}/{version}", "state": state, "aliases": sorted(aliases)}
            )
        return {
            "type": "dataset",
            "ref": f"{parsed.name}/{root.version}",
            "derived_datasets": derived,
            "model_versions": versions,
        }
