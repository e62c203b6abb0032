"""save_model and load_model: a model object to a directory and back.

A model is stored as data wherever a format exists (skops for scikit-learn,
LightGBM text, XGBoost JSON, ONNX). Pickle is only the explicit trusted-code
choice (``trusted_code=True``) on both sides: ``save_model`` writes one only
when asked, and ``load_model`` unpickles one only when its caller says it has
decided to trust that code (the registry decides: the registrant, or anyone
once the version has its sign-offs; never the platform server).

Saving writes into a hidden sibling directory and renames it into place, so a
failure (an unfitted model, a full disk) never leaves a half-written model at
``path``. Everything that can be refused — unknown kind of object, a task the
model cannot do, a signature that cannot be inferred, a model that cannot
predict on its own example — is refused before the rename.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import IntegrityError, InvalidInput, PermissionDenied
from modelyard.flavors._base import (
    PICKLE_FILE,
    Flavor,
    class_path,
    detect_flavor,
    get_flavor,
    read_pickle,
    write_pickle,
)
from modelyard.flavors._files import staged_directory
from modelyard.flavors.domain import Domain
from modelyard.flavors.loaded import LoadedModel
from modelyard.flavors.manifest import (
    TASKS,
    ModelManifest,
    distributions,
    pinned,
    python_version,
    read_manifest,
)
from modelyard.flavors.policy import InputPolicy
from modelyard.flavors.probe import Probe, probe_model
from modelyard.flavors.signature import Signature

logger = logging.getLogger(__name__)

OUTPUT_EXAMPLE_ROWS = 100
"""Rows of the example predicted on to infer the output signature."""


def save_model(
    model: Any,
    path: str | Path,
    *,
    example: pd.DataFrame | None = None,
    task: str | None = None,
    flavor: str | None = None,
    signature: Signature | None = None,
    extra_requirements: Sequence[str] = (),
    domain: Domain | None = None,
    input_policy: InputPolicy | Any = None,
    training_profiles: Sequence[tuple[str, Mapping[str, Any]]] = (),
    trusted_code: bool = False,
) -> ModelManifest:
    """Save a model and its ``modelyard.json`` manifest into a new or empty directory.

    Args:
        model: A scikit-learn estimator or pipeline, LGBMClassifier/LGBMRegressor or
            ``lightgbm.Booster``, XGBClassifier/XGBRegressor, ONNX bytes or
            ``onnx.ModelProto``, or any object with ``predict(frame)`` defined in
            an importable module.
        path: Local directory to create (or an existing empty one).
        example: Training inputs: the input signature is inferred from all of it
            and the output signature from predictions on its first 100 rows.
            Without it (and without ``signature``) inputs are never checked.
        task: ``"classification"`` or ``"regression"``; inferred from
            ``predict_proba`` when None.
        flavor: Override the flavor detected from the object's framework.
        signature: An explicit signature instead of inferring one.
        extra_requirements: Appended to the pinned framework requirements.
        domain: What training held per column; by default built from
            ``training_profiles``, else from ``example``.
        input_policy: Explicit ``score``/``reject`` actions for out-of-domain
            values (an :class:`InputPolicy` or its dict); the rest follows the probe.
        training_profiles: ``(dataset ref, DatasetProfile dict)`` of the training
            datasets (the registry passes the run's inputs): the domain's source.
        trusted_code: Pickle the model instead of storing it as data. Loading it
            then runs code, so only its registrant may load it until it has its
            sign-offs, and the platform server never does. Required for a
            ``python`` model (a class of your own), which has no data format.

    With an example and a signature, the model is probed (see
    :mod:`modelyard.flavors.probe`): per column, can it score an unseen value
    and a null? Domain, probe and policy are written to the manifest.

    Returns:
        The manifest written.

    Raises:
        InvalidInput: The object cannot be saved (or, without ``trusted_code``,
            not as data), its task or signature cannot be determined, or it fails
            to predict on ``example``.
        Conflict: ``path`` exists and is not an empty directory.
    """
    adapter = get_flavor(flavor or detect_flavor(model))
    adapter.validate(model)
    if not trusted_code and adapter.model_format == "pickle":
        adapter.save(model, Path(path))  # refuses, naming the trusted-code choice
    task, classes = _resolve_task(adapter, model, task)
    if signature is None and example is not None:
        signature = _infer_signature(adapter, model, example, task, classes)
    elif signature is not None and not isinstance(signature, Signature):
        raise InvalidInput(f"signature must be a Signature, not {type(signature).__name__}")
    policy = InputPolicy.from_dict(input_policy) if input_policy is not None else None
    if policy is not None and signature is not None:
        unknown = sorted(set(policy.columns) - set(signature.input_names))
        if unknown:
            raise InvalidInput(f"input_policy names columns the signature does not have: {unknown}")
    probe: Probe | None = None
    if signature is not None and domain is None:
        fallback = Domain.from_frame(example, signature) if example is not None else None
        if training_profiles:
            domain = Domain.from_profiles(list(training_profiles), signature, fallback)
        else:
            domain = fallback
    if signature is not None and example is not None:
        probe = _probe(adapter, model, example, signature, task, classes, domain)
    framework = distributions(adapter.frameworks(model))
    with staged_directory(path, "a model") as staging:
        if trusted_code:
            write_pickle(model, staging / PICKLE_FILE)
            files, model_format, types = [PICKLE_FILE], "pickle", []
        else:
            files, model_format = adapter.save(model, staging), adapter.model_format
            types = adapter.types_needed(staging)
        manifest = ModelManifest(
            flavor=adapter.name,
            task=task,
            classes=classes,
            signature=signature,
            framework=framework,
            python_version=python_version(),
            requirements=pinned(framework, extra_requirements),
            files=sorted(files),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            model_class="onnx.ModelProto" if adapter.name == "onnx" else class_path(model),
            domain=domain if signature is not None else None,
            probe=probe,
            input_policy=policy,
            model_format=model_format,
            skops_types=types,
        )
        manifest.write(staging)
    return manifest


def load_model(
    path: str | Path, *, trusted_code: bool = False, trusted_types: Sequence[str] = ()
) -> LoadedModel:
    """Load a model saved by :func:`save_model`.

    Security: models stored as data (skops, LightGBM text, XGBoost JSON, ONNX)
    load without running code of the file's choosing; a skops file is checked
    against the allow-list of types first. A pickled model (trusted code)
    runs code while loading and is refused unless ``trusted_code=True``. The
    registry checks every file's content hash against the model version, and
    who may trust the code, before it calls this.

    Args:
        path: The model directory.
        trusted_code: The caller has decided to run this model's code (unpickle it).
        trusted_types: Types allowed in a skops file beyond the built-in allow-list
            (exact names or fnmatch patterns; the ``trusted_types`` setting).

    Raises:
        NotFound: No model manifest at ``path``.
        IntegrityError: A file listed in the manifest is missing or unreadable.
        PermissionDenied: A pickled model without ``trusted_code=True``, or a skops
            file that needs a type outside the allow-list.
        BackendUnavailable: The framework or the model's own module is not importable.
    """
    directory = Path(path)
    manifest = read_manifest(directory)
    missing = [name for name in manifest.files if not (directory / name).is_file()]
    if missing:
        raise IntegrityError(f"model at {str(directory)!r} is incomplete: missing {missing}")
    adapter = get_flavor(manifest.flavor)
    _log_version_drift(manifest)
    if manifest.trusted_code:
        if not trusted_code:
            raise PermissionDenied(
                f"the {manifest.model_class} model at {str(directory)!r} is trusted code "
                "(a pickle): loading it runs code its registrant chose. Pass "
                "trusted_code=True only for code you have decided to trust."
            )
        native = read_pickle(directory / PICKLE_FILE, manifest)
    else:
        native = adapter.load(directory, manifest, trusted_types=trusted_types)
    return LoadedModel(manifest, native, adapter)


def _resolve_task(adapter: Flavor, model: Any, task: str | None) -> tuple[str, list[Any] | None]:
    inferred, classes = adapter.describe(model)
    if task is None:
        return inferred, classes
    if task not in TASKS:
        raise InvalidInput(f"The task must be one of {TASKS}. Got {task!r} instead.")
    if task == "classification" and inferred != "classification":
        raise InvalidInput(
            f"cannot save {class_path(model)} as a classifier: it has no predict_proba"
        )
    return task, classes if task == "classification" else None


def _infer_signature(
    adapter: Flavor, model: Any, example: pd.DataFrame, task: str, classes: list[Any] | None
) -> Signature:
    inputs = Signature.infer(example)
    head = example.head(OUTPUT_EXAMPLE_ROWS)
    native = adapter.in_memory(model, classes, inputs)
    try:
        labels = np.asarray(adapter.predict(native, head))
        proba = adapter.predict_proba(native, head) if task == "classification" else None
    except Exception as exc:  # the user's model may raise anything; report it as bad input
        raise InvalidInput(
            f"{class_path(model)} cannot predict on the example: {type(exc).__name__}: {exc}"
        ) from exc
    outputs = {"prediction": labels.ravel() if labels.ndim == 2 else labels}
    if proba is not None:
        proba = np.asarray(proba)
        names = classes if classes is not None else list(range(proba.shape[1]))
        if len(names) != proba.shape[1]:
            raise InvalidInput(
                f"{class_path(model)} has {len(names)} classes but predict_proba "
                f"returned {proba.shape[1]} columns"
            )
        outputs.update({f"probability_{c}": proba[:, i] for i, c in enumerate(names)})
    return Signature(inputs.inputs, Signature.infer(pd.DataFrame(outputs)).inputs)


def _probe(
    adapter: Flavor,
    model: Any,
    example: pd.DataFrame,
    signature: Signature,
    task: str,
    classes: list[Any] | None,
    domain: Domain,
) -> Probe | None:
    names = signature.input_names
    if any(name not in example.columns for name in names) or example.empty:
        return None
    native = adapter.in_memory(model, classes, signature)

    def predict(frame: pd.DataFrame) -> Any:
        if task == "classification":
            return adapter.predict_proba(native, frame)
        return adapter.predict(native, frame)

    return probe_model(predict, example, signature, domain)


def _log_version_drift(manifest: ModelManifest) -> None:
    # A different framework version may unpickle fine and predict differently:
    # worth a log line, not a refusal (the registry decides on policy).
    for name, saved in manifest.framework.items():
        try:
            now = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # the load itself reports what is missing
        if now != saved:
            logger.warning("model saved with %s %s; %s is installed", name, saved, now)
