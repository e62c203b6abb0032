"""The LightGBM flavor: LGBMClassifier / LGBMRegressor, or a raw ``lightgbm.Booster``.

Every LightGBM model also gets ``model.txt``, LightGBM's own text format
(readable by any LightGBM version, the CLI, and other languages). The
scikit-learn wrappers are pickled as well, for their classes and parameters;
a raw Booster is loaded from ``model.txt`` alone, without unpickling.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.flavors._base import PICKLE_FILE, Flavor, write_pickle

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors.manifest import ModelManifest

NATIVE_FILE = "model.txt"


def _is_booster(model: Any) -> bool:
    return type(model).__name__ == "Booster"


class LightGBMFlavor(Flavor):
    name = "lightgbm"

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
        write_pickle(model, directory / PICKLE_FILE)
        model.booster_.save_model(str(directory / NATIVE_FILE))
        return [PICKLE_FILE, NATIVE_FILE]

    def load(self, directory: Path, manifest: ModelManifest) -> Any:
        if PICKLE_FILE in manifest.files:
            return super().load(directory, manifest)
        import lightgbm

        return lightgbm.Booster(model_file=str(directory / NATIVE_FILE))

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


FLAVOR = LightGBMFlavor()
