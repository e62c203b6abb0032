"""``remote.models``: the ModelService interface over the REST API.

Registering packages the model locally with its flavor (as the local
service does), uploads the directory's blobs and manifest (skipping blobs the
server has), then records the version. Loading downloads the version's files,
verifies every hash against the manifest the registry recorded, and only then
loads them — the same trust model as a local load.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard._util.names import check_name, parse_ref
from modelyard.client import _decode
from modelyard.client._artifacts import RemoteArtifacts
from modelyard.client._http import Transport
from modelyard.errors import InvalidInput, PermissionDenied
from modelyard.registry import lifecycle
from modelyard.registry.audit import AuditRecord
from modelyard.registry.entities import ModelInfo, ModelVersionInfo, PolicyChangeInfo
from modelyard.registry.loading import ModelCache
from modelyard.registry.policy import Policy
from modelyard.registry.service import EXAMPLE_FILE, EXAMPLE_ROWS, RESERVED_ALIASES
from modelyard.registry.trusted_code import is_trusted_code, require_loadable


def _ref_text(ref: str | ModelVersionInfo) -> str:
    return ref.ref if isinstance(ref, ModelVersionInfo) else ref


def _version_path(ref: str | ModelVersionInfo) -> str:
    parsed = parse_ref(_ref_text(ref), "model reference")
    if parsed.version is not None:
        return f"/models/{parsed.name}/versions/{parsed.version}"
    return f"/models/{parsed.name}/aliases/{parsed.alias}"


def _run_id(run: Any) -> str | None:
    if run is None:
        return None
    run_id = run if isinstance(run, str) else getattr(run, "id", None)
    if not isinstance(run_id, str):
        raise InvalidInput(f"run must be a run id or a run; got {run!r}")
    return run_id


class RemoteModels:
    def __init__(
        self, transport: Transport, artifacts: RemoteArtifacts, home: Path, audit: Any
    ) -> None:
        self._http = transport
        self._artifacts = artifacts
        self._home = home
        self._audit = audit
        self._cache = ModelCache(artifacts, home / "cache" / "models")  # type: ignore[arg-type]

    # -- models -------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        description: str = "",
        owner: str | None = None,
        risk_tier: int = 1,
        policy: Mapping[str, Any] | None = None,
    ) -> ModelInfo:
        check_name(name, "model name")
        body = {
            "name": name,
            "description": description,
            "owner": owner,
            "risk_tier": risk_tier,
            "policy": dict(policy) if policy is not None else None,
        }
        return _decode.model(self._http.post("/models", body))

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
        body = {"description": description, "owner": owner, "risk_tier": risk_tier}
        body["policy"] = dict(policy) if policy is not None else None
        body["detach_unqualified"] = detach_unqualified or None
        return _decode.model(self._http.patch(f"/models/{name}", body))

    def request_policy_change(
        self,
        name: str,
        *,
        risk_tier: int | None = None,
        policy: Mapping[str, Any] | None = None,
        comment: str = "",
    ) -> PolicyChangeInfo:
        body = {
            "risk_tier": risk_tier,
            "policy": dict(policy) if policy is not None else None,
            "comment": comment,
        }
        return _decode.policy_change(self._http.post(f"/models/{name}/policy-changes", body))

    def sign_off_policy_change(
        self,
        name: str,
        change_id: int,
        *,
        comment: str = "",
        role: str | None = None,
        detach_unqualified: bool = False,
    ) -> PolicyChangeInfo:
        body = {"comment": comment, "role": role, "detach_unqualified": detach_unqualified}
        path = f"/models/{name}/policy-changes/{change_id}/sign-off"
        return _decode.policy_change(self._http.post(path, body))

    def reject_policy_change(self, name: str, change_id: int, *, comment: str) -> PolicyChangeInfo:
        path = f"/models/{name}/policy-changes/{change_id}/reject"
        return _decode.policy_change(self._http.post(path, {"comment": comment}))

    def policy_changes(self, name: str, *, status: str | None = None) -> list[PolicyChangeInfo]:
        params = {"status": status} if status else {}
        found = self._http.get(f"/models/{name}/policy-changes", **params)
        return [_decode.policy_change(c) for c in found]

    def get_model(self, name: str) -> ModelInfo:
        check_name(name, "model name")
        return _decode.model(self._http.get(f"/models/{name}"))

    def list(
        self, *, name_like: str | None = None, limit: int = 1000, offset: int = 0
    ) -> list[ModelInfo]:
        found = self._http.pages("/models", limit=offset + limit, name_like=name_like)
        return [_decode.model(m) for i, m in enumerate(found) if i >= offset]

    def model_names(self) -> list[str]:
        return [m["name"] for m in self._http.pages("/models")]

    def policy(self, name: str) -> Policy:
        model = self.get_model(name)
        return Policy.for_model(model.risk_tier, model.policy)

    # -- versions -----------------------------------------------------------
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
        """Package ``model`` locally, upload it, and register it as the next version of ``name``.

        As locally, the domain stored with the version comes from the profiles of
        the run's input datasets (read from the server), else from ``example``.
        Stored as data unless ``trusted_code=True`` (see ``ModelRegistry.register``).
        """
        from modelyard.flavors import save_model

        check_name(name, "model name")
        if datasets:
            raise InvalidInput(
                "datasets= is not available through the server yet; log the datasets as "
                "inputs of the training run (run.log_input) and pass run=..."
            )
        me = self._http.get("/me")
        if "version.register" not in me["permissions"]:
            raise PermissionDenied(
                f"{me['user']} may not register model versions: it needs the role admin or "
                f"developer (held: {', '.join(me['roles']) or 'none'})",
                details={"missing_permission": "version.register"},
            )
        with tempfile.TemporaryDirectory(prefix="modelyard-model-") as tmp:
            path = Path(tmp) / "model"
            save_model(
                model,
                path,
                example=example,
                task=task,
                signature=signature,
                extra_requirements=extra_requirements,
                input_policy=input_policy,
                training_profiles=self._training_profiles(_run_id(run)),
                trusted_code=trusted_code,
            )
            if example is not None:
                example.head(EXAMPLE_ROWS).to_parquet(path / EXAMPLE_FILE, index=False)
            digest = self._artifacts.put_dir(path)
        all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
        if target:
            all_tags["target"] = target
        if source:
            all_tags["imported_from"] = source
        return self.register_artifact(
            name,
            digest,
            run=run,
            metrics=metrics,
            description=description,
            tags=all_tags,
            reasons=reasons,
        )

    def _training_profiles(self, run_id: str | None) -> list[tuple[str, Mapping[str, Any]]]:
        """(ref, profile) of the run's input datasets that count as training data."""
        if run_id is None:
            return []
        from modelyard.flavors.domain import training_profiles

        run = _decode.run(self._http.get(f"/runs/{run_id}"))
        found = []
        for item in run.inputs:
            info = _decode.dataset_version(
                self._http.get(f"/datasets/{item.dataset}/versions/{item.version}")
            )
            found.append((info.ref, item.role, info.profile))
        return training_profiles(found)

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
        body = {
            "artifact_digest": artifact_digest,
            "run_id": _run_id(run),
            "metrics": {str(k): float(v) for k, v in (metrics or {}).items()},
            "description": description,
            "tags": {str(k): str(v) for k, v in (tags or {}).items()},
        }
        if reasons is not None:
            body["reasons"] = _plain(reasons)
        return _decode.version(self._http.post(f"/models/{name}/versions", body))

    def set_reasons(self, ref: str, reasons: Mapping[str, Any]) -> ModelVersionInfo:
        """Register (or replace, before sign-off) the version's reason table on the server."""
        body = {"reasons": _plain(reasons)}
        return _decode.version(self._http.put(f"{self._number_path(ref)}/reasons", body))

    def reason_table(self, ref: str | ModelVersionInfo) -> Any:
        """The version's reviewed ``ReasonTable``, or None when none was registered."""
        from modelyard.explain import table_of

        return table_of(ref if isinstance(ref, ModelVersionInfo) else self.get(ref))

    def get(self, ref: str | ModelVersionInfo) -> ModelVersionInfo:
        return _decode.version(self._http.get(_version_path(ref)))

    def resolve_digest(self, ref: str) -> tuple[str, int, str]:
        info = self.get(ref)
        return info.name, info.version, info.artifact_digest

    def versions(self, name: str, *, limit: int = 1000, offset: int = 0) -> list[ModelVersionInfo]:
        check_name(name, "model name")
        found = self._http.pages(f"/models/{name}/versions", limit=offset + limit)
        return [_decode.version(v) for i, v in enumerate(found) if i >= offset]

    def set_tags(self, ref: str, tags: Mapping[str, Any]) -> ModelVersionInfo:
        body = {"tags": {str(k): str(v) for k, v in tags.items()}}
        return _decode.version(self._http.post(f"{self._number_path(ref)}/tags", body))

    def log_metrics(self, ref: str, metrics: Mapping[str, float], *, source: str) -> None:
        body = {"metrics": {k: float(v) for k, v in metrics.items()}, "source": source}
        self._http.post(f"{self._number_path(ref)}/metrics", body)

    def archive(self, ref: str) -> ModelVersionInfo:
        return _decode.version(self._http.post(f"{self._number_path(ref)}/archive"))

    def _number_path(self, ref: str | ModelVersionInfo) -> str:
        """The by-number path of a reference (aliases resolved first, as the service does)."""
        parsed = parse_ref(_ref_text(ref), "model reference")
        if parsed.version is None:
            parsed = parse_ref(self.get(ref).ref)
        return f"/models/{parsed.name}/versions/{parsed.version}"

    # -- aliases and sign-offs ----------------------------------------------
    def set_alias(
        self, name: str, alias: str, version: int | str | ModelVersionInfo
    ) -> ModelVersionInfo:
        from modelyard._util.names import check_alias

        check_alias(alias)
        if alias in RESERVED_ALIASES:
            raise InvalidInput(f"alias {alias!r} is reserved; it always means the highest version")
        if isinstance(version, ModelVersionInfo):
            version = version.version
        if isinstance(version, str):
            target = self.get(version)
            if target.name != name:
                raise InvalidInput(f"{version} is not a version of model {name!r}")
            version = target.version
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidInput(f"version must be a whole number >= 1; got {version!r}")
        return _decode.version(
            self._http.put(f"/models/{name}/aliases/{alias}", {"version": version})
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self._http.delete(f"/models/{name}/aliases/{alias}")

    def approve(self, ref: str, *, comment: str = "", role: str | None = None) -> ModelVersionInfo:
        body = {"comment": comment, "role": role}
        return _decode.version(self._http.post(f"{self._number_path(ref)}/approve", body))

    def reject(self, ref: str, *, comment: str, role: str | None = None) -> ModelVersionInfo:
        if not comment or not comment.strip():
            raise InvalidInput("a rejection needs a comment saying why")
        body = {"comment": comment, "role": role}
        return _decode.version(self._http.post(f"{self._number_path(ref)}/reject", body))

    def missing_sign_offs(self, ref: str, alias: str = "champion") -> list[str]:
        found = self._http.get(f"{self._number_path(ref)}/missing-sign-offs", alias=alias)
        return list(found["missing"])

    def audit_events(self, **filters: Any) -> list[AuditRecord]:
        return self._audit.events(**filters)

    # -- files, lineage, validation, cards, compilation -----------------------
    def load(self, ref: str | ModelVersionInfo) -> Any:
        """The model behind ``ref``: downloaded, verified against the registry, then loaded.

        Trusted code (a pickle) loads for its registrant, or once it has its sign-offs.
        """
        info = self.get(ref)
        self.require_loadable(info)
        return self._cache.load(info.artifact_digest, trusted_code=is_trusted_code(info))

    def require_loadable(self, ref: str | ModelVersionInfo, *, worker: bool = False) -> None:
        """Refuse when the acting user may not run the version's code (trusted code)."""
        info = ref if isinstance(ref, ModelVersionInfo) else self.get(ref)
        if not is_trusted_code(info):
            return
        me = self._http.get("/me")["user"]
        require_loadable(info, self.policy(info.name), me, in_platform_server=False)

    def local_path(self, ref: str | ModelVersionInfo) -> Path:
        return self._cache.directory(self.get(ref).artifact_digest)

    def input_example(self, ref: str | ModelVersionInfo) -> pd.DataFrame | None:
        path = self.local_path(ref) / EXAMPLE_FILE
        return pd.read_parquet(path) if path.exists() else None

    def lineage(self, ref: str | ModelVersionInfo) -> dict[str, Any]:
        return self._http.get(f"{self._number_path(ref)}/lineage")

    def trained_on(self, dataset_ref: str) -> dict[str, Any]:
        parsed = parse_ref(dataset_ref, "dataset reference")
        version = parsed.version if parsed.version is not None else "latest"
        return self._http.get(f"/datasets/{parsed.name}/versions/{version}/lineage")

    def _upload_frame(self, frame: pd.DataFrame) -> str:
        with tempfile.TemporaryDirectory(prefix="modelyard-frame-") as tmp:
            path = Path(tmp) / "data.parquet"
            frame.to_parquet(path, index=False)
            return self._artifacts.put_file(path)

    def _data_fields(self, data: Any, what: str) -> dict[str, Any]:
        if data is None:
            return {}
        if isinstance(data, pd.DataFrame):
            return {f"{what}_blob": self._upload_frame(data)}
        ref = data if isinstance(data, str) else getattr(data, "ref", None)
        if not isinstance(ref, str):
            raise InvalidInput(f"{what}: give a DataFrame or a dataset reference such as 'loans/2'")
        return {what: ref}

    def validate(
        self,
        ref: str | ModelVersionInfo,
        data: Any,
        *,
        target: str | None = None,
        reference: Any = None,
        segment_by: Sequence[str] = (),
        fairness_attribute: str | None = None,
        threshold: float = 0.5,
    ) -> lifecycle.ValidationOutcome:
        """Validate on the server; the report is downloaded to ``<home>/reports/``."""
        if data is None:
            raise InvalidInput("data: give a DataFrame or a dataset reference such as 'loans/2'")
        fields = self._data_fields(data, "dataset")
        if "dataset_blob" in fields:
            fields["data_blob"] = fields.pop("dataset_blob")
        fields.update(self._data_fields(reference, "reference"))
        body = {
            **fields,
            "target": target,
            "segment_by": list(segment_by),
            "fairness_attribute": fairness_attribute,
            "threshold": threshold,
        }
        path = self._number_path(ref)
        found = self._http.post(f"{path}/validate", body)
        info = self.get(found["ref"])
        report = lifecycle.report_path(self._home, info, lifecycle.VALIDATION_REPORT)
        self._artifacts.get_file(found["report_digest"], report)
        return lifecycle.ValidationOutcome(
            found["ref"], found["metrics"], report, found["report_digest"]
        )

    def card(self, ref: str | ModelVersionInfo) -> lifecycle.CardOutcome:
        found = self._http.post(f"{self._number_path(ref)}/card")
        info = self.get(found["ref"])
        md = lifecycle.report_path(self._home, info, lifecycle.CARD_MARKDOWN)
        html = lifecycle.report_path(self._home, info, lifecycle.CARD_HTML)
        self._artifacts.get_file(found["markdown_digest"], md)
        self._artifacts.get_file(found["html_digest"], html)
        return lifecycle.CardOutcome(found["ref"], md, html)

    def compile(
        self,
        ref: str | ModelVersionInfo,
        target: str = "onnx",
        *,
        data: Any = None,
        tolerance: float = 1e-5,
    ) -> Any:
        from modelyard.flavors import ParityResult

        if target != "onnx":
            raise InvalidInput(f"target must be 'onnx'; got {target!r}")
        body: dict[str, Any] = {"target": target, "tolerance": tolerance}
        if data is not None:
            if not isinstance(data, pd.DataFrame):
                data = _DatasetLoader.load(self, data)
            body["data_blob"] = self._upload_frame(data)
        return ParityResult.from_dict(self._http.post(f"{self._number_path(ref)}/compile", body))

    def compiled(self, ref: str | ModelVersionInfo) -> Any:
        from modelyard.flavors import load_compiled

        info = ref if isinstance(ref, ModelVersionInfo) else self.get(ref)
        record = info.artifact(lifecycle.COMPILED_ONNX)
        if record is None or not record.details.get("usable"):
            return None
        return load_compiled(self._cache.directory(record.digest))

    def import_mlflow(
        self, name: str, path: str | Path, *, description: str = ""
    ) -> ModelVersionInfo:
        from modelyard.registry import mlflow_import

        directory = Path(path)
        mlmodel = mlflow_import.read_mlmodel(directory)
        native, flavor = mlflow_import.load_native(directory, mlmodel)
        return self.register(
            name,
            native,
            example=mlflow_import.read_example(directory),
            signature=mlflow_import.convert_signature(mlmodel),
            description=description,
            tags={"mlflow_flavor": flavor, "mlflow_run_id": mlmodel.get("run_id", "")},
            source=f"mlflow:{directory.resolve()}",
        )


class _DatasetLoader:
    """Loads a dataset reference through the same server (for compile samples)."""

    @staticmethod
    def load(models: RemoteModels, ref: Any) -> pd.DataFrame:
        from modelyard.client.datasets import RemoteDatasets

        text = ref if isinstance(ref, str) else getattr(ref, "ref", None)
        if not isinstance(text, str):
            raise InvalidInput("data: give a DataFrame or a dataset reference such as 'loans/2'")
        return RemoteDatasets(models._http, models._artifacts).load(text)


def _plain(reasons: Any) -> Any:
    """A reason table as plain JSON data (a ``ReasonTable`` is sent as its dict)."""
    to_dict = getattr(reasons, "to_dict", None)
    return to_dict() if callable(to_dict) else dict(reasons)
