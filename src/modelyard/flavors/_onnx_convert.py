"""compile_onnx: scikit-learn, LightGBM and XGBoost models to ONNX bytes.

Conversion goes through skl2onnx, with onnxmltools' LightGBM and XGBoost
converters registered into it so that pipelines ending in those models
convert too. The graph gets one input per column — strings as
``tensor(string)``, numbers as ``tensor(float)`` — so a JSON record maps to
the inputs without pandas, and classifiers output a plain probability tensor
(ZipMap off). A model that is not a pipeline starting with a
``ColumnTransformer`` is wrapped in a passthrough one, which turns the
per-column inputs into the single matrix it was trained on.

Opsets that work with skl2onnx 1.20 / onnxmltools 1.16 here: ``''`` 15 to 22
with ``ai.onnx.ml`` 3 (the LightGBM converter refuses a newer ML opset).
Conversion is not proof of equality — float32 thresholds can flip a split —
which is why :func:`~modelyard.flavors.onnx.check_parity` exists.
"""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import pandas as pd

from modelyard.errors import BackendUnavailable, InvalidInput
from modelyard.flavors._base import class_path, labels, module_root
from modelyard.flavors._onnx_runtime import CLASSES_KEY

DEFAULT_OPSET: dict[str, int] = {"": 15, "ai.onnx.ml": 3}
_CONVERTIBLE = ("sklearn", "lightgbm", "xgboost")

_register_lock = threading.Lock()
_registered = False


def compile_onnx(
    native_model: Any, example: pd.DataFrame, *, target_opset: int | dict[str, int] | None = None
) -> bytes:
    """Convert a fitted model to ONNX bytes with one input per column of ``example``.

    Args:
        native_model: A scikit-learn estimator or pipeline (encoders, scalers,
            linear models, forests, LGBM/XGB final steps), a bare
            LGBMClassifier/LGBMRegressor or XGBClassifier/XGBRegressor, or a
            LoadedModel holding one.
        example: A few training rows; their columns and dtypes become the inputs.
            Datetime columns cannot be ONNX inputs and are left out.
        target_opset: An int for the default domain, or a domain -> version dict;
            default ``{'': 15, 'ai.onnx.ml': 3}``.

    Raises:
        InvalidInput: The model is of an unsupported kind (named in the
            message), or the converter fails on it.
    """
    original = getattr(native_model, "native", native_model)  # a LoadedModel's object
    model = original
    if module_root(model) not in _CONVERTIBLE or not callable(getattr(model, "fit", None)):
        raise InvalidInput(
            f"cannot compile {class_path(model)} to ONNX: only scikit-learn estimators and "
            "pipelines, LGBMClassifier/LGBMRegressor and XGBClassifier/XGBRegressor convert"
        )
    if not isinstance(example, pd.DataFrame) or example.empty:
        raise InvalidInput("compile_onnx needs a non-empty example DataFrame of training rows")
    skl2onnx = _converters()
    model = _without_xgboost_feature_names(model)
    columns = _input_columns(model, example)
    if not _starts_with_column_transformer(model):
        model = _wrap(model, example, columns)
    final = _final_step(model)
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    try:
        proto = skl2onnx.convert_sklearn(
            model,
            initial_types=_initial_types(example, columns),
            target_opset=_opset(target_opset),
            options=options,
        )
    except Exception as exc:  # converters raise many kinds (RuntimeError, MissingShapeCalculator…)
        raise InvalidInput(
            f"cannot compile {class_path(_final_step(original))} to ONNX: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    classes = getattr(final, "classes_", None)
    _set_metadata(proto, "modelyard.model_class", class_path(original))
    if classes is not None:
        _set_metadata(proto, CLASSES_KEY, json.dumps(labels(classes)))
    return proto.SerializeToString()


def _converters() -> Any:
    """skl2onnx, with the LightGBM and XGBoost converters registered (once per process)."""
    global _registered
    try:
        import skl2onnx
    except ImportError as exc:  # pragma: no cover - part of the onnx extra
        raise BackendUnavailable("install modelyard[onnx] to compile models to ONNX") from exc
    with _register_lock:
        if not _registered:
            _register_lightgbm(skl2onnx)
            _register_xgboost(skl2onnx)
            _registered = True
    return skl2onnx


def _register_lightgbm(skl2onnx: Any) -> None:
    try:
        from lightgbm import LGBMClassifier, LGBMRegressor
    except ImportError:  # pragma: no cover - lightgbm is a core dependency
        return
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    skl2onnx.update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    skl2onnx.update_registered_converter(
        LGBMRegressor,
        "LightGbmLGBMRegressor",
        calculate_linear_regressor_output_shapes,
        convert_lightgbm,
    )


def _register_xgboost(skl2onnx: Any) -> None:
    try:
        from xgboost import XGBClassifier, XGBRegressor
    except ImportError:  # the xgboost extra is optional
        return
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    # skl2onnx's shape calculators, not onnxmltools': those reject skl2onnx's tensor types.
    skl2onnx.update_registered_converter(
        XGBClassifier,
        "XGBoostXGBClassifier",
        calculate_linear_classifier_output_shapes,
        convert_xgboost,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    skl2onnx.update_registered_converter(
        XGBRegressor,
        "XGBoostXGBRegressor",
        calculate_linear_regressor_output_shapes,
        convert_xgboost,
    )


def _opset(target: int | dict[str, int] | None) -> dict[str, int]:
    if target is None:
        return dict(DEFAULT_OPSET)
    if isinstance(target, int):
        return {"": target, "ai.onnx.ml": DEFAULT_OPSET["ai.onnx.ml"]}
    return dict(target)


def _final_step(model: Any) -> Any:
    while hasattr(model, "steps"):
        model = model.steps[-1][1]
    return model


def _starts_with_column_transformer(model: Any) -> bool:
    steps = getattr(model, "steps", None)
    return bool(steps) and type(steps[0][1]).__name__ == "ColumnTransformer"


def _input_columns(model: Any, example: pd.DataFrame) -> list[str]:
    """The example's columns the model was fitted on (all of them when it does not say)."""
    fitted = getattr(model, "feature_names_in_", None)
    names = [str(c) for c in fitted] if fitted is not None else [str(c) for c in example.columns]
    missing = [c for c in names if c not in example.columns]
    if missing:
        raise InvalidInput(f"the example lacks columns the model was fitted on: {missing}")
    return [c for c in names if not pd.api.types.is_datetime64_any_dtype(example[c].dtype)]


def _is_string_column(series: pd.Series) -> bool:
    dtype = series.dtype
    return isinstance(dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    )


def _initial_types(example: pd.DataFrame, columns: list[str]) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [
        (
            c,
            StringTensorType([None, 1])
            if _is_string_column(example[c])
            else FloatTensorType([None, 1]),
        )
        for c in columns
    ]


def _wrap(model: Any, example: pd.DataFrame, columns: list[str]) -> Any:
    """Put a passthrough ColumnTransformer in front: per-column inputs -> one float matrix."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    strings = [c for c in columns if _is_string_column(example[c])]
    if strings:
        raise InvalidInput(
            f"cannot compile {class_path(model)} to ONNX with string columns {strings}: "
            "put an encoder in front of it in a scikit-learn Pipeline"
        )
    columns_step = ColumnTransformer([("columns", "passthrough", columns)])
    columns_step.fit(example[columns])  # fits nothing but the column bookkeeping
    return Pipeline([("columns", columns_step), ("model", model)])


def _without_xgboost_feature_names(model: Any) -> Any:
    """A copy without XGBoost feature names, which onnxmltools cannot parse (needs f0, f1…)."""
    estimators = [model, *getattr(model, "get_params", lambda deep: {})(deep=True).values()]
    if not any(_has_xgboost_names(e) for e in estimators):
        return model
    model = copy.deepcopy(model)
    for estimator in [model, *model.get_params(deep=True).values()]:
        if _has_xgboost_names(estimator):
            booster = estimator.get_booster()
            booster.feature_names = None
            booster.feature_types = None
    return model


def _has_xgboost_names(estimator: Any) -> bool:
    if module_root(estimator) != "xgboost" or not callable(getattr(estimator, "get_booster", None)):
        return False
    return estimator.get_booster().feature_names is not None


def _set_metadata(proto: Any, key: str, value: str) -> None:
    entry = proto.metadata_props.add()
    entry.key = key
    entry.value = value
