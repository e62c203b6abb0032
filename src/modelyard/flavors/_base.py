"""The flavor adapter interface, the lazy registry of flavors, and pickle helpers.

A flavor knows how to write one kind of model to a directory in a data
format (skops, LightGBM text, XGBoost JSON, ONNX), read it back, and call it.
Pickle is not a flavor's format: it is the explicit *trusted code* choice
(``save_model(..., trusted_code=True)``), written and read by the helpers at
the bottom of this module for every flavor alike. The registry maps a flavor
name to the module holding its adapter and imports it only when used, so
``import modelyard.flavors`` does not import LightGBM, XGBoost or ONNX Runtime.
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.errors import BackendUnavailable, IntegrityError, InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors.manifest import ModelManifest
    from modelyard.flavors.signature import Signature

PICKLE_FILE = "model.pkl"
PICKLE_PROTOCOL = 5

_FLAVORS = {
    "sklearn": "modelyard.flavors._sklearn",
    "lightgbm": "modelyard.flavors._lightgbm",
    "xgboost": "modelyard.flavors._xgboost",
    "onnx": "modelyard.flavors._onnx_flavor",
    "python": "modelyard.flavors._python",
}
FLAVOR_NAMES = tuple(_FLAVORS)

# The framework of the OUTER object decides: a Pipeline ending in LGBMClassifier is "sklearn".
_BY_MODULE_ROOT = {"sklearn": "sklearn", "lightgbm": "lightgbm", "xgboost": "xgboost"}


class Flavor:
    """Adapter for a model object with ``predict(frame)`` (and ``predict_proba``).

    Subclasses override what differs: their data format (``save``/``load``),
    validation, or how a framework's own object is called. The base class has
    no data format: such a model can only be stored as trusted code.
    """

    name = ""
    model_format = "pickle"

    def validate(self, model: Any) -> None:
        """Refuse a model this flavor cannot save, before anything is written."""
        if not callable(getattr(model, "predict", None)):
            raise InvalidInput(
                f"cannot save {class_path(model)} as flavor {self.name!r}: it has no predict method"
            )

    def frameworks(self, model: Any) -> set[str]:
        """Top-level modules whose versions the saved model depends on."""
        return {module_root(model)}

    def describe(self, model: Any) -> tuple[str, list[Any] | None]:
        """(task, class labels) inferred from the object."""
        if callable(getattr(model, "predict_proba", None)):
            classes = getattr(model, "classes_", None)
            return "classification", labels(classes) if classes is not None else None
        return "regression", None

    def in_memory(
        self, model: Any, classes: list[Any] | None, signature: Signature | None = None
    ) -> Any:
        """The object to call before saving (the model itself, for pickled flavors)."""
        return model

    def save(self, model: Any, directory: Path) -> list[str]:
        """Write the model in this flavor's data format; return the files written."""
        raise InvalidInput(
            f"{class_path(model)} is code, not data: a {self.name} model has no data format. "
            "Register it with trusted_code=True; then only its registrant may load it "
            "until it has its sign-offs, and the platform server never loads it."
        )

    def types_needed(self, directory: Path) -> list[str]:
        """Types the saved file needs beyond its format's own (skops only)."""
        return []

    def load(
        self, directory: Path, manifest: ModelManifest, *, trusted_types: Sequence[str] = ()
    ) -> Any:
        """Read the model saved by :meth:`save` (never a pickle)."""
        raise IntegrityError(
            f"the {self.name} model {manifest.model_class} has no data-format file to load"
        )

    def predict(self, native: Any, frame: pd.DataFrame) -> Any:
        return native.predict(frame)

    def predict_proba(self, native: Any, frame: pd.DataFrame) -> Any:
        method = getattr(native, "predict_proba", None)
        if not callable(method):
            raise InvalidInput(f"{class_path(native)} has no predict_proba method")
        return method(frame)


def get_flavor(name: str) -> Flavor:
    """The adapter for a flavor name, imported on first use."""
    module = _FLAVORS.get(name)
    if module is None:
        raise InvalidInput(f"The flavor must be one of {FLAVOR_NAMES}. Got {name!r} instead.")
    return importlib.import_module(module).FLAVOR


def detect_flavor(model: Any) -> str:
    """The flavor of an object: by its framework, else "python" if it has ``predict``."""
    if isinstance(model, bytes | bytearray | memoryview) or is_onnx_proto(model):
        return "onnx"
    flavor = _BY_MODULE_ROOT.get(module_root(model))
    if flavor is not None:
        return flavor
    if callable(getattr(model, "predict", None)):
        return "python"
    raise InvalidInput(
        f"cannot save {class_path(model)}: not a scikit-learn, LightGBM, XGBoost or ONNX model, "
        "and it has no predict(frame) method"
    )


def is_onnx_proto(model: Any) -> bool:
    # Checked by name so that saving a pickled model never imports onnx.
    cls = type(model)
    return cls.__name__ == "ModelProto" and cls.__module__.startswith("onnx")


def module_root(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def class_path(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def labels(classes: Any) -> list[Any]:
    """Class labels as JSON-able Python scalars, in the model's order."""
    return np.asarray(classes).tolist()


def write_pickle(obj: Any, path: Path) -> None:
    with path.open("wb") as fh:
        pickle.dump(obj, fh, protocol=PICKLE_PROTOCOL)


def read_pickle(path: Path, manifest: ModelManifest) -> Any:
    """Unpickle a model file, translating failures into Modelyard errors.

    Only call this on a directory whose content the caller has verified (the
    registry checks content hashes first): unpickling runs code.
    """
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except (ImportError, AttributeError) as exc:
        raise BackendUnavailable(
            f"cannot load the {manifest.flavor} model {manifest.model_class}: {exc}. "
            f"It was saved with Python {manifest.python_version} and "
            f"{', '.join(manifest.requirements) or 'no recorded requirements'}; "
            "install those and make the model's code importable."
        ) from exc
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise IntegrityError(f"{path} is not a readable pickle: {exc}") from exc
