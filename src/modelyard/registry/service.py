"""The model registry: models, versions, aliases, tags, sign-offs and states.

Every change writes an audit event in the same transaction (``audit.py``).
Version numbers come from the database: the model's row is locked (``FOR
UPDATE`` on PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``)
so concurrent registrations get 1, 2, 3... with no gap and no duplicate.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from modelyard._util.clock import now_ms
from modelyard._util.names import check_alias, check_name, parse_ref
from modelyard.artifacts import ArtifactStore
from modelyard.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from modelyard.flavors.manifest import model_format_of
from modelyard.registry import _fast, _rows, audit, governance
from modelyard.registry.entities import ModelInfo, ModelVersionInfo, PolicyChangeInfo
from modelyard.registry.policy import Policy, check_tier
from modelyard.registry.users import resolve_actor
from modelyard.store import MetadataStore
from modelyard.store.models import (
    Alias,
    Approval,
    AuditEvent,
    DatasetVersion,
    ModelVersion,
    RegisteredModel,
    Run,
    VersionArtifact,
    VersionMetric,
    VersionTag,
)

__all__ = ["ModelRegistry"]

EXAMPLE_FILE = "input_example.parquet"
EXAMPLE_ROWS = 1000
RESERVED_ALIASES = frozenset({"latest"})
_REASON_TABLE_NAME = "reason_table.json"  # modelyard.explain.REASON_TABLE (checked by a test)


def _run_id_of(run: Any) -> str | None:
    if run is None:
        return None
    run_id = run if isinstance(run, str) else getattr(run, "id", None)
    if not isinstance(run_id, str):
        raise InvalidInput(f"run must be a run id or a run; got {run!r}")
    return run_id


def _training_profiles(
    session: Session, run_id: str | None, datasets: Sequence[Any]
) -> list[tuple[str, Mapping[str, Any], str | None]]:
    """(ref, profile, digest of the stored copy) of the run's inputs and ``datasets``."""
    from modelyard.flavors.domain import training_profiles
    from modelyard.store.models import Dataset, RunInput

    wanted: dict[int, str] = {}
    if run_id is not None:
        for dataset_version_id, role in session.execute(
            select(RunInput.dataset_version_id, RunInput.role).where(RunInput.run_id == run_id)
        ):
            wanted[dataset_version_id] = role or ""
    for item in datasets:
        dataset_version_id = getattr(item, "id", None)
        if isinstance(dataset_version_id, int):
            wanted.setdefault(dataset_version_id, "training")
    if not wanted:
        return []
    rows = session.execute(
        select(
            DatasetVersion.id,
            Dataset.name,
            DatasetVersion.version,
            DatasetVersion.profile,
            DatasetVersion.data_digest,
        )
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetVersion.id.in_(wanted))
        .order_by(DatasetVersion.id)
    ).all()
    stored = {f"{name}/{version}": digest for _, name, version, _, digest in rows}
    chosen = training_profiles(
        [(f"{name}/{version}", wanted[dv_id], profile) for dv_id, name, version, profile, _ in rows]
    )
    return [(ref, profile, stored.get(ref)) for ref, profile in chosen]


def _with_complete_categories(
    artifacts: ArtifactStore,
    profiles: list[tuple[str, Mapping[str, Any], str | None]],
    columns: set[str],
) -> list[tuple[str, Mapping[str, Any]]]:
    """Profiles whose truncated category lists are completed from the stored data."""
    from modelyard.registry._categories import complete_categories, truncated_columns

    out: list[tuple[str, Mapping[str, Any]]] = []
    for ref, profile, digest in profiles:
        truncated = truncated_columns(profile, columns)
        if not truncated or digest is None:
            out.append((ref, profile))
            continue
        full = complete_categories(artifacts, digest, truncated)
        patched = {**profile, "columns": dict(profile["columns"])}
        for name, values in full.items():
            if values is not None:
                patched["columns"][name] = {**profile["columns"][name], "categories": values}
        out.append((ref, patched))
    return out


def _reason_table(reasons: Any, manifest: Mapping[str, Any]) -> Any:
    """The validated reason table for a version whose manifest is ``manifest``."""
    from modelyard.explain import validate_table

    signature = manifest.get("signature") or {}
    columns = [c["name"] for c in signature.get("inputs", [])]
    if not columns:
        raise InvalidInput(
            "reasons: the version has no input signature to check the table against; "
            "register it with example=..."
        )
    return validate_table(reasons, columns)


def _reason_table_setter(session: Session, ref: str) -> str | None:
    """Who last attached the version's reason table, read from the audit trail.

    The texts are what applicants read: whoever wrote them must not be the one
    who signs them off (four-eyes), so the writer is taken from the hash-chained
    ``version.attach`` events rather than from anything a client can restate.
    """
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject == f"model/{ref}", AuditEvent.action == "version.attach")
        .order_by(AuditEvent.seq.desc())
    )
    for event in events:
        if (event.payload or {}).get("name") == _REASON_TABLE_NAME:
            return event.actor
    return None


class ModelRegistry:
    """Models and their versions, over one metadata store and artifact store."""

    def __init__(self, store: MetadataStore, artifacts: ArtifactStore, *, user: str) -> None:
        self._store = store
        self._artifacts = artifacts
        self._user = user
        self._stored_manifests: dict[str, dict[str, Any]] = {}

    # -- models -----------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        description: str = "",
        owner: str | None = None,
        risk_tier: int = 1,
        policy: Mapping[str, Any] | None = None,
    ) -> ModelInfo:
        """Create a model. Risk tier 1 (the strictest policy) is the default: safe unless told."""
        check_name(name, "model name")
        check_tier(risk_tier)
        Policy.for_model(risk_tier, policy)  # validates overrides
        with self._store.write() as session:
            resolve_actor(session, self._user).require("model.create", "create models")
            if session.scalar(select(RegisteredModel.id).where(RegisteredModel.name == name)):
                raise Conflict(f"model {name!r} exists already; see 'modelyard models show {name}'")
            row = self._insert_model(session, name, description, owner, risk_tier, policy)
            return _rows.model_info(session, row)

    def _insert_model(
        self,
        session: Session,
        name: str,
        description: str,
        owner: str | None,
        risk_tier: int,
        policy: Mapping[str, Any] | None,
    ) -> RegisteredModel:
        now = now_ms()
        row = RegisteredModel(
            name=name,
            description=description,
            owner=owner or self._user,
            risk_tier=risk_tier,
            policy=dict(policy or {}),
            created_by=self._user,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        audit.append(
            session,
            self._user,
            "model.create",
            f"model/{name}",
            {
                "after": {
                    "description": description,
                    "owner": row.owner,
                    "risk_tier": risk_tier,
                    "policy": row.policy,
                }
            },
        )
        return row

    def _first_registration(self, conn: Any, name: str) -> int:
        """Get or create the model row of a first registration, then lock it.

        Sixteen processes registering a new model at once all get here: the
        insert is ``ON CONFLICT DO NOTHING`` (PostgreSQL waits for the winner's
        commit, then does nothing), so exactly one creates the row (and its
        ``model.create`` event) and every one then locks it to number versions.
        """
        now = now_ms()
        values = {
            "name": name,
            "description": "",
            "owner": self._user,
            "risk_tier": 1,
            "policy": {},
            "created_by": self._user,
            "created_at": now,
            "updated_at": now,
        }
        created = conn.execute(_fast.insert_model_if_absent(conn.dialect.name), values).scalar()
        if created is not None:
            audit.append(
                conn,
                self._user,
                "model.create",
                f"model/{name}",
                {"after": {"description": "", "owner": self._user, "risk_tier": 1, "policy": {}}},
            )
        model_id = conn.execute(_fast.MODEL_FOR_UPDATE, {"name": name}).scalar()
        assert model_id is not None  # inserted above, or by the transaction we waited for
        return int(model_id)

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        owner: str | None = None,
        risk_tier: int | None = None,
        policy: Mapping[str, Any] | None = None,
        detach_unqualified: bool = False,
    ) -> ModelInfo:
        """Change a model's description, owner, or (admins) tighten its risk tier or policy.

        A change that relaxes the policy (a lower tier, a sign-off no longer
        required, an alias no longer protected) is refused: it needs four-eyes
        (``request_policy_change`` and a second person's sign-off). A tighter
        policy is re-checked against every protected alias: one pointing at a
        version that no longer qualifies is refused, or with
        ``detach_unqualified`` removed (an ``alias.detach`` audit event).
        """
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            actor.require("model.update", "update models")
            row = _rows.model_row(session, name, lock=True)
            before = {
                "description": row.description,
                "owner": row.owner,
                "risk_tier": row.risk_tier,
                "policy": row.policy,
            }
            if description is not None:
                row.description = description
            if owner is not None:
                row.owner = owner
            if risk_tier is not None or policy is not None:
                governance.apply_strengthening(
                    session, actor, row, risk_tier, policy, detach=detach_unqualified
                )
            row.updated_at = now_ms()
            after = {
                "description": row.description,
                "owner": row.owner,
                "risk_tier": row.risk_tier,
                "policy": row.policy,
            }
            audit.append(
                session,
                self._user,
                "model.update",
                f"model/{name}",
                {"before": before, "after": after},
            )
            return _rows.model_info(session, row)

    # -- governed policy changes ------------------------------------------
    def request_policy_change(
        self,
        name: str,
        *,
        risk_tier: int | None = None,
        policy: Mapping[str, Any] | None = None,
        comment: str = "",
    ) -> PolicyChangeInfo:
        """Ask for a relaxing change of the risk tier or policy; applied after a second sign-off.

        The signers must hold the sign-off roles the *current* policy requires
        (an approver at least), and none may be the requester.
        """
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            model = _rows.model_row(session, name, lock=True)
            return governance.request_change(session, actor, model, risk_tier, policy, comment)

    def sign_off_policy_change(
        self,
        name: str,
        change_id: int,
        *,
        comment: str = "",
        role: str | None = None,
        detach_unqualified: bool = False,
    ) -> PolicyChangeInfo:
        """Sign a pending policy change off; the last required sign-off applies it."""
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            model = _rows.model_row(session, name, lock=True)
            return governance.sign_off_change(
                session, actor, model, change_id, role, comment, detach=detach_unqualified
            )

    def reject_policy_change(self, name: str, change_id: int, *, comment: str) -> PolicyChangeInfo:
        """Close a pending policy change unapplied (its requester, or a would-be signer)."""
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            model = _rows.model_row(session, name, lock=True)
            return governance.reject_change(session, actor, model, change_id, comment)

    def policy_changes(self, name: str, *, status: str | None = None) -> list[PolicyChangeInfo]:
        with self._store.read() as session:
            resolve_actor(session, self._user)
            return governance.list_changes(session, _rows.model_row(session, name), status)

    def get_model(self, name: str) -> ModelInfo:
        with self._store.read() as session:
            resolve_actor(session, self._user)
            return _rows.model_info(session, _rows.model_row(session, name))

    def list(
        self, *, name_like: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[ModelInfo]:
        query = select(RegisteredModel).order_by(RegisteredModel.name)
        if name_like:
            query = query.where(RegisteredModel.name.like(name_like.replace("*", "%")))
        with self._store.read() as session:
            resolve_actor(session, self._user)
            rows = session.scalars(query.limit(limit).offset(offset)).all()
            return [_rows.model_info(session, r) for r in rows]

    def policy(self, name: str) -> Policy:
        model = self.get_model(name)
        return Policy.for_model(model.risk_tier, model.policy)

    # -- versions ---------------------------------------------------------
    def register(
        self,
        name: str,
        model: Any,
        *,
        run: Any = None,
        example: pd.DataFrame | None = None,
        metrics: Mapping[str, float] | None = None,
        datasets: Sequence[Any] = (),
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        task: str | None = None,
        target: str | None = None,
        signature: Any = None,
        extra_requirements: Sequence[str] = (),
        source: str | None = None,
        input_policy: Any = None,
        trusted_code: bool = False,
        reasons: Mapping[str, Any] | None = None,
    ) -> ModelVersionInfo:
        """Package ``model`` with its flavor and register it as the next version of ``name``.

        The model is created (risk tier 1) when it does not exist. With ``run``,
        the version links the run, copies its latest metrics (source
        ``training``) and records the run's input datasets as training data.
        ``example`` (a frame of training inputs) gives the signature, and its
        first rows are kept for warm-up, parity checks and documentation.
        ``target`` names the label column, for validation and monitoring.

        The *domain* stored with the version (categories, ranges, null rates seen
        in training; see :mod:`modelyard.flavors.domain`) comes from the profiles
        of the run's input datasets and ``datasets`` — whatever their role word,
        evaluation splits aside — and from ``example`` only for columns no
        training dataset has. ``input_policy`` (``{"unseen": "score"|"reject",
        "nulls": ..., "columns": {...}}``) overrides what the registration probe
        decided for out-of-domain values.

        The model is stored as data (skops, LightGBM text, XGBoost JSON, ONNX);
        ``trusted_code=True`` pickles it instead, for models that have no data
        format. A pickled version is loadable by its registrant only until it
        has its sign-offs, and the platform server never loads it.
        ``reasons`` is the version's reviewed reason table (see
        ``modelyard.explain.reasons``), checked against the signature before
        anything is recorded and stored with the version.
        """
        from modelyard.flavors import save_model

        check_name(name, "model name")
        run_id = _run_id_of(run)
        with self._store.read() as session:
            actor = resolve_actor(session, self._user)
            actor.require("version.register", "register model versions")
            if run_id is not None and session.get(Run, run_id) is None:
                raise NotFound(f"run {run_id!r} does not exist")
            found = _training_profiles(session, run_id, datasets)
        profiles: list[tuple[str, Mapping[str, Any]]] = []
        if found:
            wanted = set(example.columns) if example is not None else set()
            if signature is not None:
                wanted |= {c.name for c in signature.inputs}
            profiles = _with_complete_categories(self._artifacts, found, wanted)
        with tempfile.TemporaryDirectory(prefix="modelyard-model-") as tmp:
            path = Path(tmp) / "model"
            manifest = save_model(
                model,
                path,
                example=example,
                task=task,
                signature=signature,
                extra_requirements=extra_requirements,
                training_profiles=profiles,
                input_policy=input_policy,
                trusted_code=trusted_code,
            )
            table = None
            if reasons is not None:
                table = _reason_table(reasons, manifest.to_dict())
            if example is not None:
                example.head(EXAMPLE_ROWS).to_parquet(path / EXAMPLE_FILE, index=False)
            digest = self._artifacts.put_dir(path)
        info = self._record_version(
            name,
            digest,
            manifest.to_dict(),
            run_id=run_id,
            metrics=metrics,
            datasets=datasets,
            description=description,
            tags={**(tags or {}), **({"target": target} if target else {})},
            source=source,
        )
        if table is None:
            return info
        return self._attach_reasons(info.ref, table)

    def set_reasons(self, ref: str, reasons: Mapping[str, Any]) -> ModelVersionInfo:
        """Register (or replace) a version's reason table, checked against its signature.

        A version with any standing sign-off (the ``sign_offs`` table, checked
        under the model's governance lock in the write itself) cannot change the
        text applicants read: register a new version instead.
        """
        info = self.get(ref)
        return self._attach_reasons(info.ref, _reason_table(reasons, info.manifest))

    def reason_table(self, ref: str | ModelVersionInfo) -> Any:
        """The version's reviewed ``ReasonTable``, or None when none was registered."""
        from modelyard.explain import table_of

        return table_of(ref if isinstance(ref, ModelVersionInfo) else self.get(ref))

    def _attach_reasons(self, ref: str, table: Any) -> ModelVersionInfo:
        import orjson

        from modelyard.explain import REASON_TABLE

        data = table.to_dict()
        digest = self._artifacts.put_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        return self.attach(ref, REASON_TABLE, digest, kind="reasons", details={"table": data})

    def register_artifact(
        self,
        name: str,
        artifact_digest: str,
        *,
        run: Any = None,
        metrics: Mapping[str, float] | None = None,
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        reasons: Mapping[str, Any] | None = None,
    ) -> ModelVersionInfo:
        """Register a model directory already in the artifact store (saved by ``save_model``).

        The metadata-only path, like registering a run's logged model: nothing
        is packaged or uploaded; the flavor, task and signature come from the
        stored ``modelyard.json``, whose hash the artifact store verifies.
        """
        import orjson

        from modelyard.flavors.manifest import MANIFEST_FILE

        manifest = self._stored_manifests.get(artifact_digest)
        if manifest is None:  # content-addressed, so a cached copy can never be stale
            files = self._artifacts.read_manifest(artifact_digest)["files"]
            if MANIFEST_FILE not in files:
                raise InvalidInput(
                    f"{artifact_digest} is not a saved model: it has no {MANIFEST_FILE}"
                )
            manifest = orjson.loads(self._artifacts.get_bytes(files[MANIFEST_FILE]["digest"]))
            self._stored_manifests[artifact_digest] = manifest
        table = _reason_table(reasons, manifest) if reasons is not None else None
        info = self._record_version(
            name,
            artifact_digest,
            manifest,
            run_id=_run_id_of(run),
            metrics=metrics,
            datasets=(),
            description=description,
            tags=tags,
        )
        return info if table is None else self._attach_reasons(info.ref, table)

    def _record_version(
        self,
        name: str,
        digest: str,
        manifest: dict[str, Any],
        *,
        run_id: str | None,
        metrics: Mapping[str, float] | None,
        datasets: Sequence[Any],
        description: str,
        tags: Mapping[str, Any] | None,
        source: str | None = None,
    ) -> ModelVersionInfo:
        all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if source:
            all_tags["imported_from"] = source
        evaluation = {str(k): float(v) for k, v in (metrics or {}).items()}
        extra_dataset_ids = []
        for item in datasets:
            dataset_version_id = getattr(item, "id", None)
            if not isinstance(dataset_version_id, int):
                raise InvalidInput(f"datasets: {item!r} is not a registered dataset version")
            extra_dataset_ids.append(dataset_version_id)
        with self._store.write_connection() as conn:
            actor = resolve_actor(conn, self._user)
            actor.require("version.register", "register model versions")
            model_id = conn.execute(_fast.MODEL_FOR_UPDATE, {"name": name}).scalar()
            if model_id is None:
                actor.require("model.create", "create models")
                model_id = self._first_registration(conn, name)
            number = (conn.execute(_fast.MAX_VERSION, {"model_id": model_id}).scalar() or 0) + 1
            now = now_ms()
            flavor = manifest.get("flavor", "unknown")
            task = manifest.get("task") or "unknown"
            version_id = conn.execute(
                _fast.INSERT_VERSION,
                {
                    "model_id": model_id,
                    "version": number,
                    "artifact_digest": digest,
                    "flavor": flavor,
                    "task": task,
                    "manifest": manifest,
                    "run_id": run_id,
                    "state": "registered",
                    "description": description,
                    "created_by": self._user,
                    "created_at": now,
                    "updated_at": now,
                },
            ).scalar_one()
            metric_rows: dict[tuple[str, str], float] = {}
            dataset_rows: dict[int, str] = {}
            if run_id is not None:
                for key, value in conn.execute(_fast.RUN_METRICS, {"run_id": run_id}):
                    metric_rows[("training", key)] = value
                for dataset_version_id, role in conn.execute(_fast.RUN_INPUTS, {"run_id": run_id}):
                    dataset_rows[dataset_version_id] = role
            for key, value in evaluation.items():
                metric_rows[("evaluation", key)] = value
            for dataset_version_id in extra_dataset_ids:
                dataset_rows.setdefault(dataset_version_id, "training")
            if metric_rows:
                conn.execute(
                    _fast.INSERT_METRIC,
                    [
                        {"version_id": version_id, "source": src, "key": key, "value": value}
                        for (src, key), value in metric_rows.items()
                    ],
                )
            if dataset_rows:
                known = set(
                    conn.scalars(
                        select(DatasetVersion.id).where(DatasetVersion.id.in_(dataset_rows))
                    )
                )
                unknown = sorted(set(dataset_rows) - known)
                if unknown:
                    raise InvalidInput(f"datasets: no dataset version with id {unknown}")
                conn.execute(
                    _fast.INSERT_DATASET,
                    [
                        {"version_id": version_id, "dataset_version_id": d, "role": role}
                        for d, role in dataset_rows.items()
                    ],
                )
            if all_tags:
                conn.execute(
                    _fast.INSERT_TAG,
                    [{"version_id": version_id, "key": k, "value": v} for k, v in all_tags.items()],
                )
            audit.append(
                conn,
                self._user,
                "version.register",
                f"model/{name}/{number}",
                {
                    "after": {
                        "artifact_digest": digest,
                        "flavor": flavor,
                        "model_format": model_format_of(manifest),
                        "skops_types": list(manifest.get("skops_types") or []),
                        "run_id": run_id,
                        "metrics": evaluation,
                    }
                },
            )
            dataset_refs = _rows.dataset_refs(conn, dataset_rows) if dataset_rows else ()
        by_source: dict[str, dict[str, float]] = {}
        for (src, key), value in metric_rows.items():
            by_source.setdefault(src, {})[key] = value
        return ModelVersionInfo(
            id=version_id,
            name=name,
            version=number,
            artifact_digest=digest,
            flavor=flavor,
            task=task,
            manifest=manifest,
            run_id=run_id,
            state="registered",
            description=description,
            created_by=self._user,
            created_at=now,
            updated_at=now,
            metrics=by_source,
            tags=all_tags,
            datasets=dataset_refs,
        )

    def resolve_digest(self, ref: str) -> tuple[str, int, str]:
        """(name, version, artifact digest) of a reference: the cheap path for serving."""
        parsed = parse_ref(ref, "model reference")
        if parsed.version is not None:
            statement, params = _fast.BY_NUMBER, {"name": parsed.name, "version": parsed.version}
        elif parsed.is_latest:
            statement, params = _fast.LATEST, {"name": parsed.name}
        else:
            statement, params = _fast.BY_ALIAS, {"name": parsed.name, "alias": parsed.alias}
        with self._store.read_connection() as conn:
            resolve_actor(conn, self._user)
            row = conn.execute(statement, params).first()
        if row is None:
            self.get(ref)  # raises the precise NotFound
            raise NotFound(f"cannot resolve {ref!r}")
        return row[0], row[1], row[2]

    def get(self, ref: str | ModelVersionInfo) -> ModelVersionInfo:
        """Resolve ``name/3``, ``name@alias`` or ``name@latest``."""
        with self._store.read() as session:
            resolve_actor(session, self._user)
            row = _rows.version_row(session, ref)
            return _rows.version_info(session, row)

    def versions(self, name: str, *, limit: int = 1000, offset: int = 0) -> list[ModelVersionInfo]:
        with self._store.read() as session:
            resolve_actor(session, self._user)
            model = _rows.model_row(session, name)
            rows = session.scalars(
                select(ModelVersion)
                .where(ModelVersion.model_id == model.id)
                .order_by(ModelVersion.version.desc())
                .limit(limit)
                .offset(offset)
            ).all()
            return [_rows.version_info(session, r, name) for r in rows]

    def set_tags(self, ref: str, tags: Mapping[str, Any]) -> ModelVersionInfo:
        with self._store.write() as session:
            resolve_actor(session, self._user).require("version.update", "tag versions")
            row = _rows.version_row(session, ref)
            for key, value in tags.items():
                session.merge(VersionTag(version_id=row.id, key=str(key), value=str(value)))
            info = _rows.version_info(session, row)
            audit.append(
                session, self._user, "version.tag", f"model/{info.ref}", {"tags": dict(tags)}
            )
            return info

    def log_metrics(self, ref: str, metrics: Mapping[str, float], *, source: str) -> None:
        with self._store.write() as session:
            resolve_actor(session, self._user).require("version.update", "record metrics")
            row = _rows.version_row(session, ref)
            for key, value in metrics.items():
                session.merge(
                    VersionMetric(version_id=row.id, source=source, key=key, value=float(value))
                )
            info = _rows.version_info(session, row)
            audit.append(
                session,
                self._user,
                "version.metrics",
                f"model/{info.ref}",
                {"source": source, "metrics": dict(metrics)},
            )

    def attach(
        self,
        ref: str,
        name: str,
        digest: str,
        *,
        kind: str,
        details: Mapping[str, Any] | None = None,
        state: str | None = None,
    ) -> ModelVersionInfo:
        """Attach a stored blob (a report, a card, a compiled form) to a version."""
        with self._store.write() as session:
            resolve_actor(session, self._user).require("version.update", "attach files to versions")
            if name == _REASON_TABLE_NAME:
                # Serialised with sign-offs: one given first freezes the table.
                _rows.model_row(session, parse_ref(ref, "model reference").name, lock=True)
            row = _rows.version_row(session, ref)
            if name == _REASON_TABLE_NAME:
                self._check_table_unfrozen(session, row, ref)
            session.merge(
                VersionArtifact(
                    version_id=row.id,
                    name=name,
                    digest=digest,
                    kind=kind,
                    details=dict(details or {}),
                    created_at=now_ms(),
                )
            )
            if state == "validated" and row.state == "registered":
                row.state = "validated"
            row.updated_at = now_ms()
            session.flush()
            info = _rows.version_info(session, row)
            audit.append(
                session,
                self._user,
                "version.attach",
                f"model/{info.ref}",
                {"name": name, "digest": digest, "kind": kind, "details": dict(details or {})},
            )
            return info

    def _check_table_unfrozen(self, session: Session, row: ModelVersion, ref: str) -> None:
        """Refuse a new reason table once reviewers or applicants rely on the current one.

        Any standing sign-off freezes it, and so does being live (deployed, or
        holding a protected alias) even where the policy needs no sign-off.
        """
        signed = governance.standing(session, row.id)
        if signed:
            by = ", ".join(f"{user} as {role}" for role, user in sorted(signed.items()))
            raise Conflict(
                f"{ref}: its reason table is frozen by the sign-offs of {by}; "
                "register a new version with the new table",
                details={"rule": "reason-table-frozen", "sign_offs": signed},
            )
        policy = self._policy_of(session, row.model_id)
        held = [
            a for a in _rows.version_info(session, row).aliases if a in policy.protected_aliases
        ]
        if held or row.state == "deployed":
            live = f"holds protected alias(es) {held}" if held else "is deployed"
            raise Conflict(
                f"{ref}: its reason table is frozen because the version {live}; "
                "register a new version with the new table",
                details={"rule": "reason-table-frozen", "aliases": held, "state": row.state},
            )

    def archive(self, ref: str) -> ModelVersionInfo:
        parsed = parse_ref(ref.ref if isinstance(ref, ModelVersionInfo) else ref, "model reference")
        with self._store.write() as session:
            resolve_actor(session, self._user).require("version.archive", "archive versions")
            # Under the governance lock: a concurrent move of champion onto this version
            # either happened first (refused below) or sees it archived (refused there).
            _rows.model_row(session, parsed.name, lock=True)
            row = _rows.version_row(session, parsed)
            info = _rows.version_info(session, row)
            policy = self._policy_of(session, row.model_id)
            held = [a for a in info.aliases if a in policy.protected_aliases]
            if held:
                raise Conflict(f"{info.ref} holds protected alias(es) {held}; move them first")
            before = row.state
            row.state = "archived"
            row.updated_at = now_ms()
            audit.append(
                session,
                self._user,
                "version.archive",
                f"model/{info.ref}",
                {"before": before, "after": "archived"},
            )
            return _rows.version_info(session, row)

    def _policy_of(self, session: Session, model_id: int) -> Policy:
        model = session.get(RegisteredModel, model_id)
        assert model is not None
        return Policy.for_model(model.risk_tier, model.policy)

    # -- aliases ----------------------------------------------------------
    def set_alias(
        self, name: str, alias: str, version: int | str | ModelVersionInfo
    ) -> ModelVersionInfo:
        """Point ``name@alias`` at a version; protected aliases require the policy's sign-offs."""
        check_alias(alias)
        if alias in RESERVED_ALIASES:
            raise InvalidInput(f"alias {alias!r} is reserved; it always means the highest version")
        if isinstance(version, ModelVersionInfo):
            version = version.version
        ref = version if isinstance(version, str) else f"{name}/{_rows.version_number(version)}"
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            model = _rows.model_row(session, name, lock=True)  # the model's governance lock
            row = _rows.version_row(session, ref)
            if row.model_id != model.id:
                raise InvalidInput(f"{ref} is not a version of model {name!r}")
            policy = Policy.for_model(model.risk_tier, model.policy)
            protected = alias in policy.protected_aliases
            actor.require(
                "alias.set_protected" if protected else "alias.set", f"set alias {alias!r}"
            )
            if row.state == "archived":
                raise Conflict(f"{name}/{row.version} is archived; it cannot take an alias")
            if protected:
                missing = governance.missing(policy, governance.standing(session, row.id))
                if missing:
                    raise PermissionDenied(
                        f"{name}/{row.version} cannot become {alias!r}: the tier-{model.risk_tier} "
                        f"policy needs sign-off by {' and '.join(missing)} "
                        f"(see 'modelyard models approve {name}/{row.version}')",
                        details={"missing_sign_offs": missing},
                    )
            current = session.get(Alias, (model.id, alias))
            before = None
            if current is not None:
                old = session.get(ModelVersion, current.version_id)
                before = old.version if old else None
                if protected and old is not None and old.id != row.id and old.state == "deployed":
                    old.state = "approved"
                current.version_id = row.id
                current.updated_at = now_ms()
                current.updated_by = self._user
            else:
                session.add(
                    Alias(
                        model_id=model.id,
                        alias=alias,
                        version_id=row.id,
                        updated_at=now_ms(),
                        updated_by=self._user,
                    )
                )
            if protected and row.state == "approved":
                row.state = "deployed"
            session.flush()
            audit.append(
                session,
                self._user,
                "alias.set",
                f"model/{name}@{alias}",
                {"before": before, "after": row.version},
            )
            return _rows.version_info(session, row, name)

    def delete_alias(self, name: str, alias: str) -> None:
        check_alias(alias)
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            model = _rows.model_row(session, name, lock=True)
            policy = Policy.for_model(model.risk_tier, model.policy)
            protected = alias in policy.protected_aliases
            actor.require(
                "alias.set_protected" if protected else "alias.set", f"delete alias {alias!r}"
            )
            current = session.get(Alias, (model.id, alias))
            if current is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}")
            old = session.get(ModelVersion, current.version_id)
            if protected and old is not None and old.state == "deployed":
                old.state = "approved"
            session.execute(delete(Alias).where(Alias.model_id == model.id, Alias.alias == alias))
            audit.append(
                session,
                self._user,
                "alias.delete",
                f"model/{name}@{alias}",
                {"before": old.version if old else None, "after": None},
            )

    # -- sign-offs --------------------------------------------------------
    def approve(self, ref: str, *, comment: str = "", role: str | None = None) -> ModelVersionInfo:
        """Sign a version off as validator or approver (four-eyes enforced)."""
        return self._decide(ref, "approved", comment, role)

    def reject(self, ref: str, *, comment: str, role: str | None = None) -> ModelVersionInfo:
        """Record a rejection; it withdraws the role's earlier sign-off."""
        if not comment or not comment.strip():
            raise InvalidInput("a rejection needs a comment saying why")
        return self._decide(ref, "rejected", comment, role)

    def _decide(self, ref: str, decision: str, comment: str, role: str | None) -> ModelVersionInfo:
        if isinstance(ref, ModelVersionInfo):
            ref = ref.ref
        parsed = parse_ref(ref, "model reference")
        with self._store.write() as session:
            actor = resolve_actor(session, self._user)
            # Lock first, then read: a concurrent sign-off of the same model waits here
            # and then sees this one (the sign_offs constraint is the backstop).
            _rows.model_row(session, parsed.name, lock=True)
            row = _rows.version_row(session, parsed)
            info = _rows.version_info(session, row)
            policy = self._policy_of(session, row.model_id)
            signed = governance.standing(session, row.id)
            sign_roles = [r for r in ("validator", "approver") if r in actor.roles]
            if role is None:
                pending = [r for r in governance.missing(policy, signed) if r in sign_roles]
                role = (pending or sign_roles or [None])[0]
            if role is None or role not in ("validator", "approver"):
                raise PermissionDenied(
                    f"{self._user} holds no sign-off role (validator or approver); "
                    f"cannot {'approve' if decision == 'approved' else 'reject'} {info.ref}"
                )
            actor.require(f"approval.{role}", f"sign off as {role}")
            if row.state == "archived":
                raise Conflict(f"{info.ref} is archived")
            if info.created_by == self._user:
                raise PermissionDenied(
                    f"four-eyes: {self._user} registered {info.ref} and cannot sign it off",
                    details={"rule": "four-eyes", "registrant": info.created_by},
                )
            if decision == "approved" and _reason_table_setter(session, info.ref) == self._user:
                raise PermissionDenied(
                    f"four-eyes: {self._user} last set the reason table of {info.ref} "
                    "and cannot sign it off; another reviewer must",
                    details={"rule": "four-eyes", "reason_table_by": self._user},
                )
            other = [r for r, u in signed.items() if u == self._user and r != role]
            if decision == "approved" and other:
                raise PermissionDenied(
                    f"four-eyes: {self._user} already signed off {info.ref} as {other[0]}; "
                    f"the {role} must be someone else",
                    details={"rule": "four-eyes"},
                )
            approval = Approval(
                version_id=row.id,
                role=role,
                user=self._user,
                decision=decision,
                comment=comment,
                created_at=now_ms(),
            )
            session.add(approval)
            session.flush()
            if decision == "approved":
                governance.record_sign_off(session, row.id, role, self._user, approval.id, info.ref)
            else:
                governance.withdraw_sign_off(session, row.id, role)
            before = row.state
            still_missing = governance.missing(policy, governance.standing(session, row.id))
            if decision == "approved":
                if not still_missing:
                    row.state = "approved" if row.state != "deployed" else row.state
                elif role == "validator" and row.state == "registered":
                    row.state = "validated"
            elif row.state in ("approved", "validated"):
                row.state = "registered"
            row.updated_at = now_ms()
            audit.append(
                session,
                self._user,
                f"approval.{'approve' if decision == 'approved' else 'reject'}",
                f"model/{info.ref}",
                {
                    "role": role,
                    "comment": comment,
                    "state_before": before,
                    "state_after": row.state,
                },
            )
            return _rows.version_info(session, row)

    def missing_sign_offs(self, ref: str, alias: str = "champion") -> list[str]:
        """Sign-offs still needed before ``alias`` may point at ``ref`` (empty when none)."""
        with self._store.read() as session:
            resolve_actor(session, self._user)
            row = _rows.version_row(session, ref)
            policy = self._policy_of(session, row.model_id)
            if alias not in policy.protected_aliases:
                return []
            return governance.missing(policy, governance.standing(session, row.id))

    # -- audit ------------------------------------------------------------
    def audit_events(self, **filters: Any) -> list[audit.AuditRecord]:
        with self._store.read() as session:
            return audit.events(session, **filters)

    def model_names(self) -> list[str]:
        with self._store.read() as session:
            return list(
                session.scalars(select(RegisteredModel.name).order_by(RegisteredModel.name))
            )
