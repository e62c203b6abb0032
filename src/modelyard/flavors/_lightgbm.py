"""The LightGBM flavor: LGBMClassifier / LGBMRegressor, or a raw ``lightgbm.Booster``.

The model is ``model.txt``, LightGBM's own text format (readable by any
LightGBM version, the CLI, and other languages). A scikit-learn wrapper also
gets ``estimator.json``: its class (one of :data:`ESTIMATORS`), JSON-able
parameters, class labels and fitted objective. Loading reads the Booster from
the text and rebuilds the wrapper around it from the JSON — no pickle, and no
class is imported by a name the file chose.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.errors import IntegrityError, InvalidInput
from modelyard.flavors._base import Flavor, class_path, labels

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors.manifest import ModelManifest

NATIVE_FILE = "model.txt"
ESTIMATOR_FILE = "estimator.json"
ESTIMATORS = ("LGBMClassifier", "LGBMRegressor")


def _is_booster(model: Any) -> bool:
    return type(model).__name__ == "Booster"


class LightGBMFlavor(Flavor):
    name = "lightgbm"
    model_format = "lightgbm-text"

    def describe(self, model: Any) -> tuple[str, list[Any] | None]:
        if not _is_booster(model):
            return super().describe(model)
        objective = str(model.dump_model(num_iteration=0).get("objective", "")).split()
        name = objective[0] if objective else ""
        if name == "binary":
            return "classification", [0, 1]
        if name in ("multiclass", "multiclassova"):
            settings = dict(part.split(":", 1) for part in objective[1:] if ":" in part)
            return "classification", list(range(int(settings.get("num_class", 0))))
        return "regression", None

    def save(self, model: Any, directory: Path) -> list[str]:
        if _is_booster(model):
            model.save_model(str(directory / NATIVE_FILE))
            return [NATIVE_FILE]
        spec = _estimator_spec(model)
        model.booster_.save_model(str(directory / NATIVE_FILE))
        (directory / ESTIMATOR_FILE).write_text(json.dumps(spec, indent=2) + "\n", "utf-8")
        return [ESTIMATOR_FILE, NATIVE_FILE]

    def load(
        self, directory: Path, manifest: ModelManifest, *, trusted_types: Sequence[str] = ()
    ) -> Any:
        import lightgbm

        booster = lightgbm.Booster(model_file=str(directory / NATIVE_FILE))
        spec_file = directory / ESTIMATOR_FILE
        if not spec_file.is_file():
            return booster
        try:
            spec = json.loads(spec_file.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise IntegrityError(f"{spec_file} is not valid JSON: {exc}") from exc
        return _rebuild_estimator(spec, booster)

    def predict(self, native: Any, frame: pd.DataFrame) -> Any:
        if not _is_booster(native):
            return native.predict(frame)
        raw = native.predict(frame)
        if not _booster_classifies(native):
            return raw
        return np.argmax(_booster_proba(raw), axis=1)

    def predict_proba(self, native: Any, frame: pd.DataFrame) -> Any:
        if not _is_booster(native):
            return super().predict_proba(native, frame)
        return _booster_proba(native.predict(frame))


# Objective names and aliases whose predictions are probabilities.
_CLASSIFYING = {"binary", "multiclass", "softmax", "multiclassova", "multiclass_ova", "ova", "ovr"}


def _booster_classifies(booster: Any) -> bool:
    # params holds the objective as trained or as read back from model.txt: no dump needed.
    objective = (booster.params or {}).get("objective")
    if not isinstance(objective, str):
        objective = str(booster.dump_model(num_iteration=0).get("objective", ""))
    return objective.split(" ")[0] in _CLASSIFYING


def _booster_proba(raw: np.ndarray) -> np.ndarray:
    # A binary Booster returns P(class 1) only; a multiclass one returns every column.
    return np.column_stack([1.0 - raw, raw]) if raw.ndim == 1 else raw


def _estimator_spec(model: Any) -> dict[str, Any]:
    """What rebuilding the scikit-learn wrapper needs, as JSON."""
    kind = type(model).__name__
    if kind not in ESTIMATORS or not type(model).__module__.startswith("lightgbm"):
        raise InvalidInput(
            f"cannot store {class_path(model)} as LightGBM text: the lightgbm flavor takes "
            f"a Booster or one of {ESTIMATORS}; register it as trusted code instead"
        )
    objective = getattr(model, "_objective", None)
    if callable(objective):
        raise InvalidInput(
            f"cannot store {class_path(model)} as LightGBM text: its objective is a Python "
            "function (code); register it as trusted code instead"
        )
    params = {
        key: value
        for key, value in model.get_params(deep=False).items()
        if value is None or isinstance(value, bool | int | float | str)
    }
    spec: dict[str, Any] = {
        "estimator": kind,
        "params": params,
        "objective": objective,
        "n_features_in": int(model.n_features_in_),
        "fitted_with_feature_names": bool(getattr(model, "_fitted_with_feature_names", False)),
    }
    if kind == "LGBMClassifier":
        spec["classes"] = labels(model.classes_)
    return spec


def _rebuild_estimator(spec: dict[str, Any], booster: Any) -> Any:
    """An LGBMClassifier/LGBMRegressor around ``booster``, as ``fit`` would have left it."""
    import lightgbm
    from sklearn.preprocessing import LabelEncoder

    kind = spec.get("estimator")
    if kind not in ESTIMATORS:  # never import a class by a name the file chose
        raise IntegrityError(f"{ESTIMATOR_FILE}: estimator must be one of {ESTIMATORS}")
    model = getattr(lightgbm, kind)(**dict(spec.get("params") or {}))
    model._Booster = booster
    model._objective = spec.get("objective")
    model._n_features = booster.num_feature()
    model._n_features_in = int(spec.get("n_features_in", booster.num_feature()))
    model._fitted_with_feature_names = bool(spec.get("fitted_with_feature_names"))
    model._best_iteration = booster.best_iteration
    model._best_score = {}
    model._evals_result = {}
    if kind == "LGBMClassifier":
        encoder = LabelEncoder().fit(np.asarray(spec["classes"]))
        model._le = encoder
        model._classes = encoder.classes_
        model._n_classes = len(encoder.classes_)
        model._class_map = dict(
            zip(encoder.classes_, encoder.transform(encoder.classes_), strict=True)
        )
    model.fitted_ = True
    return model


FLAVOR = LightGBMFlavor()
