"""``yard.models``: the registry plus loading, lineage, validation, model cards and compilation.

The registry (``service.py``) records; this facade adds the operations that
read model files or data: loading a version safely, validating it on a
dataset, rendering its card, compiling it to ONNX.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.artifacts import ArtifactStore
from modelyard.errors import InvalidInput
from modelyard.registry import lifecycle, lineage
from modelyard.registry.entities import ModelVersionInfo
from modelyard.registry.loading import ModelCache
from modelyard.registry.service import EXAMPLE_FILE, ModelRegistry
from modelyard.registry.training_data import training_data
from modelyard.registry.trusted_code import is_trusted_code, require_loadable
from modelyard.store import MetadataStore

__all__ = ["ModelService"]

DataLoader = Callable[[Any], pd.DataFrame]


class ModelService(ModelRegistry):
    """What ``yard.models`` is: registry records plus model files and their uses."""

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        *,
        user: str,
        home: Path,
        load_data: DataLoader,
        get_dataset: Callable[[str], Any],
        get_run: Callable[[str], Any],
        trusted_types: Sequence[str] = (),
    ) -> None:
        super().__init__(store, artifacts, user=user)
        self._home = home
        self.trusted_types = tuple(trusted_types)
        self._cache = ModelCache(
            artifacts, home / "cache" / "models", trusted_types=self.trusted_types
        )
        # The platform server sets this: it never loads a model in its own process.
        self.code_out_of_process = False
        self._load_data = load_data
        self._get_dataset = get_dataset
        self._get_run = get_run

    # -- files ------------------------------------------------------------
    def load(self, ref: str | ModelVersionInfo) -> Any:
        """The model behind ``ref``, its files verified against the registry first.

        Raises:
            PermissionDenied: The version is trusted code (a pickle) that this user
                may not run yet (see :mod:`modelyard.registry.trusted_code`), or a
                skops file needs a type outside the allow-list.
        """
        info = self.get(ref.ref if isinstance(ref, ModelVersionInfo) else ref)
        self.require_loadable(info)
        return self._cache.load(info.artifact_digest, trusted_code=is_trusted_code(info))

    def require_loadable(self, ref: str | ModelVersionInfo, *, worker: bool = False) -> None:
        """Refuse when the acting user may not run the version's code here.

        ``worker``: the model is to be loaded in a separate worker process, so
        the platform server's own rule (never in its process) does not apply.
        """
        info = ref if isinstance(ref, ModelVersionInfo) else self.get(ref)
        if not is_trusted_code(info):
            return  # data formats: the skops allow-list is checked when the file is read
        require_loadable(
            info,
            self.policy(info.name),
            self._user,
            in_platform_server=self.code_out_of_process and not worker,
        )

    def local_path(self, ref: str | ModelVersionInfo) -> Path:
        """A verified local directory with the version's files (for serving and batch)."""
        _, _, digest = self.resolve_digest(ref.ref if isinstance(ref, ModelVersionInfo) else ref)
        return self._cache.directory(digest)

    def input_example(self, ref: str | ModelVersionInfo) -> pd.DataFrame | None:
        path = self.local_path(ref) / EXAMPLE_FILE
        return pd.read_parquet(path) if path.exists() else None

    # -- lineage ----------------------------------------------------------
    def lineage(self, ref: str | ModelVersionInfo) -> dict[str, Any]:
        return lineage.version_lineage(
            self._store, ref.ref if isinstance(ref, ModelVersionInfo) else ref
        )

    def trained_on(self, dataset_ref: str) -> dict[str, Any]:
        """Forward lineage: datasets derived from ``dataset_ref`` and versions trained on them."""
        return lineage.dataset_forward(self._store, dataset_ref)

    # -- validation, cards, compilation -------------------------------------
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
        """Validate a version on labelled ``data`` (a DataFrame or a dataset reference).

        Writes the HTML validation report (stored with the version and under
        ``<home>/reports/``), records its headline figures as ``validation``
        metrics, and moves a ``registered`` version to ``validated``.
        ``reference`` (the training data, the baseline of the score PSI) defaults
        to the version's training dataset (``training_data.training_data``: a
        dataset logged with a training role, else the training run's inputs).
        Values outside the training domain are scored, never refused
        (``registry.scoring``).
        """
        info = self.get(ref.ref if isinstance(ref, ModelVersionInfo) else ref)
        frame = self._frame(data, "data")
        reference_frame = None
        reference_name: str | None = None
        if reference is not None:
            reference_frame = self._frame(reference, "reference")
            reference_name = (
                f"reference dataset {reference}"
                if isinstance(reference, str)
                else "reference data given"
            )
        else:
            found = training_data(info)
            if found.first is not None:
                reference_frame = self._load_data(found.first)
                reference_name = found.describe()
        return lifecycle.validate_version(
            self,
            info,
            frame,
            target=target,
            reference=reference_frame,
            reference_name=reference_name,
            segment_by=segment_by,
            fairness_attribute=fairness_attribute,
            threshold=threshold,
            home=self._home,
            dataset_ref=data if isinstance(data, str) else getattr(data, "ref", None),
        )

    def card(self, ref: str | ModelVersionInfo) -> lifecycle.CardOutcome:
        """Render the model card (Markdown and HTML) from the registry; store and write both."""
        info = self.get(ref.ref if isinstance(ref, ModelVersionInfo) else ref)
        card = lifecycle.card_dict(self, info, get_run=self._get_run, get_dataset=self._get_dataset)
        return lifecycle.render_card(self, info, card, self._home)

    def compile(
        self,
        ref: str | ModelVersionInfo,
        target: str = "onnx",
        *,
        data: Any = None,
        tolerance: float = 1e-5,
    ) -> Any:
        """Compile to ONNX and check parity on ``data`` (default: the stored input example).

        The compiled form is stored either way, with its parity verdict; only a
        passing one is ever served (``compiled()`` refuses the rest).
        """
        if target != "onnx":
            raise InvalidInput(f"target must be 'onnx'; got {target!r}")
        info = self.get(ref.ref if isinstance(ref, ModelVersionInfo) else ref)
        sample = self._frame(data, "data") if data is not None else self.input_example(info)
        if sample is None:
            raise InvalidInput(f"{info.ref} has no stored input example; pass data=...")
        return lifecycle.compile_version(self, info, sample, tolerance=tolerance)

    def import_mlflow(
        self, name: str, path: str | Path, *, description: str = ""
    ) -> ModelVersionInfo:
        """Register an MLflow model directory (sklearn or LightGBM flavor) as a new version."""
        from modelyard.registry import mlflow_import

        directory = Path(path)
        mlmodel = mlflow_import.read_mlmodel(directory)
        native, flavor = mlflow_import.load_native(directory, mlmodel)
        signature = mlflow_import.convert_signature(mlmodel)
        example = mlflow_import.read_example(directory)
        return self.register(
            name,
            native,
            example=example,
            signature=signature,
            description=description,
            tags={"mlflow_flavor": flavor, "mlflow_run_id": mlmodel.get("run_id", "")},
            source=f"mlflow:{directory.resolve()}",
        )

    def compiled(self, ref: str | ModelVersionInfo) -> Any:
        """The version's ONNX predictor if it was compiled and passed parity, else None."""
        from modelyard.flavors import load_compiled

        info = ref if isinstance(ref, ModelVersionInfo) else self.get(ref)
        record = info.artifact(lifecycle.COMPILED_ONNX)
        if record is None or not record.details.get("usable"):
            return None
        return load_compiled(self._cache.directory(record.digest))

    # -- data helpers -----------------------------------------------------
    def _frame(self, data: Any, what: str) -> pd.DataFrame:
        if isinstance(data, pd.DataFrame):
            return data
        if data is None:
            raise InvalidInput(f"{what}: give a DataFrame or a dataset reference such as 'loans/2'")
        return self._load_data(data)
