"""Prebuilt Core statements for the registry's hot paths: resolving a reference, registering.

Serving resolves ``name@alias`` on start and whenever it polls for an alias
move; CI registers versions in bulk. Going through the ORM costs more than the
SQL itself here (see tracking/_statements.py for the same reasoning), so these
paths build their statements once and run them on a Core connection.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from modelyard.store.models import (
    Alias,
    LatestMetric,
    ModelVersion,
    RegisteredModel,
    RunInput,
    VersionDataset,
    VersionMetric,
    VersionTag,
)

_COLUMNS = (RegisteredModel.name, ModelVersion.version, ModelVersion.artifact_digest)

BY_ALIAS = (
    select(*_COLUMNS)
    .select_from(RegisteredModel)
    .join(Alias, Alias.model_id == RegisteredModel.id)
    .join(ModelVersion, ModelVersion.id == Alias.version_id)
    .where(RegisteredModel.name == bindparam("name"), Alias.alias == bindparam("alias"))
)
BY_NUMBER = (
    select(*_COLUMNS)
    .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
    .where(RegisteredModel.name == bindparam("name"), ModelVersion.version == bindparam("version"))
)
LATEST = (
    select(*_COLUMNS)
    .join(ModelVersion, ModelVersion.model_id == RegisteredModel.id)
    .where(RegisteredModel.name == bindparam("name"))
    .order_by(ModelVersion.version.desc())
    .limit(1)
)
MODEL_FOR_UPDATE = (
    select(RegisteredModel.id).where(RegisteredModel.name == bindparam("name")).with_for_update()
)
MAX_VERSION = select(func.max(ModelVersion.version)).where(
    ModelVersion.model_id == bindparam("model_id")
)
INSERT_VERSION = insert(ModelVersion).returning(ModelVersion.id)
RUN_METRICS = select(LatestMetric.key, LatestMetric.value).where(
    LatestMetric.run_id == bindparam("run_id")
)
RUN_INPUTS = select(RunInput.dataset_version_id, RunInput.role).where(
    RunInput.run_id == bindparam("run_id")
)
INSERT_METRIC = insert(VersionMetric)
INSERT_DATASET = insert(VersionDataset)
INSERT_TAG = insert(VersionTag)


def insert_model_if_absent(dialect: str) -> Any:
    """``INSERT ... ON CONFLICT (name) DO NOTHING RETURNING id``: the first registration's row."""
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(RegisteredModel)
        .on_conflict_do_nothing(index_elements=[RegisteredModel.name])
        .returning(RegisteredModel.id)
    )
