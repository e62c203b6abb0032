"""SQLAlchemy 2 table definitions of the metadata store.

Times are integer epoch milliseconds (UTC): portable across SQLite and
PostgreSQL, cheap to index, and free of time-zone surprises. ORM classes stay
inside ``store/``; services turn them into their own entities before
returning them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Experiment(Base):
    __tablename__ = "experiments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), index=True)
    user: Mapped[str] = mapped_column(String(255))
    start_time: Mapped[int] = mapped_column(BigInteger, index=True)
    end_time: Mapped[int | None] = mapped_column(BigInteger)
    parent_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    git_commit: Mapped[str | None] = mapped_column(String(64))
    git_dirty: Mapped[bool | None] = mapped_column(Boolean)
    environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class Param(Base):
    __tablename__ = "params"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Tag(Base):
    __tablename__ = "tags"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Metric(Base):
    """Every logged point; the history of a metric is its points ordered by step."""

    __tablename__ = "metrics"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_metrics_run_key_step", "run_id", "key", "step"),)


class LatestMetric(Base):
    """The point with the highest (step, timestamp) per run and key: what search orders by."""

    __tablename__ = "latest_metrics"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int] = mapped_column(BigInteger)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index("ix_latest_metrics_key_value", "key", "value"),)


class RunArtifact(Base):
    __tablename__ = "run_artifacts"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    digest: Mapped[str] = mapped_column(String(71))
    size: Mapped[int] = mapped_column(BigInteger)
    is_dir: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)


class Dataset(Base):
    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class DatasetVersion(Base):
    __tablename__ = "dataset_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"))
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(71))
    data_digest: Mapped[str | None] = mapped_column(String(71))
    uris: Mapped[list[Any]] = mapped_column(JSON, default=list)
    format: Mapped[str] = mapped_column(String(16))
    arrow_schema: Mapped[str] = mapped_column(Text)
    num_rows: Mapped[int] = mapped_column(BigInteger)
    num_bytes: Mapped[int | None] = mapped_column(BigInteger)
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    producing_run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (
        UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_number"),
        UniqueConstraint("dataset_id", "digest", name="uq_dataset_versions_digest"),
    )


class DatasetParent(Base):
    __tablename__ = "dataset_parents"
    child_id: Mapped[int] = mapped_column(ForeignKey("dataset_versions.id"), primary_key=True)
    parent_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id"), primary_key=True, index=True
    )


class RunInput(Base):
    __tablename__ = "run_inputs"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(64), default="input")


# -- registry (migration 0002) ------------------------------------------------


class User(Base):
    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(255))


class RegisteredModel(Base):
    __tablename__ = "models"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(255))
    risk_tier: Mapped[int] = mapped_column(Integer)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    version: Mapped[int] = mapped_column(Integer)
    artifact_digest: Mapped[str] = mapped_column(String(71))
    flavor: Mapped[str] = mapped_column(String(32))
    task: Mapped[str] = mapped_column(String(32))
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions_number"),)


class VersionMetric(Base):
    __tablename__ = "version_metrics"
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)  # training, validation, ...
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class VersionTag(Base):
    __tablename__ = "version_tags"
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class VersionArtifact(Base):
    """Files attached to a version after registration: reports, cards, compiled forms."""

    __tablename__ = "version_artifacts"
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    digest: Mapped[str] = mapped_column(String(71))
    kind: Mapped[str] = mapped_column(String(32))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[int] = mapped_column(BigInteger)


class VersionDataset(Base):
    __tablename__ = "version_datasets"
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(64), default="training")


class Alias(Base):
    __tablename__ = "aliases"
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(255))


class Approval(Base):
    __tablename__ = "approvals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    user: Mapped[str] = mapped_column(String(255))
    decision: Mapped[str] = mapped_column(String(16))  # approved | rejected
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)


class SignOff(Base):
    """A standing sign-off: at most one per (version, role), and one person holds at most one.

    ``approvals`` keeps every decision ever made; this table holds only the
    sign-offs that stand now. Its key and unique constraint make four-eyes a
    database rule: two concurrent requests by one person for both roles cannot
    both commit, whatever the code path (migration i13_governance_signoffs).
    """

    __tablename__ = "sign_offs"
    version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[str] = mapped_column(String(255))
    approval_id: Mapped[int | None] = mapped_column(ForeignKey("approvals.id"))
    created_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (UniqueConstraint("version_id", "user", name="uq_sign_offs_version_user"),)


class PolicyChange(Base):
    """A requested weakening of a model's risk tier or policy, applied after four-eyes."""

    __tablename__ = "policy_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    required_roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))  # pending | applied | rejected
    comment: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[int] = mapped_column(BigInteger)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[int | None] = mapped_column(BigInteger)


class PolicyChangeSignOff(Base):
    """A sign-off of a policy change; the same database rule as ``SignOff``."""

    __tablename__ = "policy_change_sign_offs"
    change_id: Mapped[int] = mapped_column(ForeignKey("policy_changes.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[str] = mapped_column(String(255))
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        UniqueConstraint("change_id", "user", name="uq_policy_change_sign_offs_change_user"),
    )


class AuditEvent(Base):
    """One link of the audit hash chain; ``hash`` covers every other column and ``prev_hash``."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    time: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(512), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# -- serving, batch and monitoring (migration 0003) ---------------------------


class Deployment(Base):
    """An endpoint: weighted routes to model references, shadows, target platform (``spec``)."""

    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(32), default="active")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[int] = mapped_column(BigInteger)


class BatchJob(Base):
    __tablename__ = "batch_jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(255), index=True)
    model_version: Mapped[int] = mapped_column(Integer)
    input_uri: Mapped[str] = mapped_column(Text)
    output_uri: Mapped[str] = mapped_column(Text)
    engine: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    rows_in: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_out: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    output_dataset_version_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"))
    created_by: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[int] = mapped_column(BigInteger)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)


class MonitorResult(Base):
    """One monitoring check of one model version over one window of data."""

    __tablename__ = "monitor_results"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_name: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))  # drift | quality | performance | estimated
    window_start: Mapped[int] = mapped_column(BigInteger)
    window_end: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    report_digest: Mapped[str | None] = mapped_column(String(71))
    created_at: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (
        Index("ix_monitor_results_model_window", "model_name", "model_version", "window_start"),
    )


class AlertRecord(Base):
    """An alert raised by a rule, deduplicated by fingerprint within its cooldown."""

    __tablename__ = "alerts"
    # Listings read newest first, of everything or of one model (migration
    # cleanup_alert_listing_index): an index in that order ends a page early.
    __table_args__ = (
        Index("ix_alerts_last_seen_id", "last_seen", "id"),
        Index("ix_alerts_model_name_last_seen_id", "model_name", "last_seen", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(128), index=True)
    rule: Mapped[str] = mapped_column(String(255))
    model_name: Mapped[str] = mapped_column(String(255), index=True)
    model_version: Mapped[int | None] = mapped_column(Integer)
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="firing")
    message: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_seen: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer, default=1)
    notified_at: Mapped[int | None] = mapped_column(BigInteger)


# -- server and pipelines (migration 0004) ------------------------------------


class ApiToken(Base):
    """A bearer token: only its SHA-256 is stored; the secret is shown once at creation."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)


class WebSession(Base):
    """A web UI login: the cookie holds the id; the CSRF token guards its forms."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    # The token that proved the login: the session ends when it is revoked.
    token_id: Mapped[str | None] = mapped_column(ForeignKey("api_tokens.id"), index=True)


class StepCacheEntry(Base):
    """A pipeline step's outputs keyed by the hash of its code, inputs and parameters."""

    __tablename__ = "pipeline_step_cache"
    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(255), index=True)
    step: Mapped[str] = mapped_column(String(255))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[int] = mapped_column(BigInteger)
