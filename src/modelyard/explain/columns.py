"""Which input column each transformed column comes from.

A contribution is computed on the matrix the estimator sees; the applicant
and the reviewer think in input columns. This module walks a pipeline's
preprocessing and returns, for every transformed column, the index of its
input column, so that contributions add up per input column (a one-hot
group is summed into its column; a passthrough, scaled, imputed or
ordinal-encoded column maps 1:1). Only steps whose output columns each come
from exactly one input column are accepted; anything that mixes columns
(PCA, polynomial features, a custom function) is refused with the step's name,
because a sum over its outputs would not be a contribution of one column.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.errors import InvalidInput

__all__ = ["column_map"]

# Transformers whose every output column is a function of one input column, one for one.
_ELEMENTWISE = frozenset(
    {
        "StandardScaler",
        "MinMaxScaler",
        "MaxAbsScaler",
        "RobustScaler",
        "SimpleImputer",
        "OrdinalEncoder",
        "PowerTransformer",
        "QuantileTransformer",
        "TargetEncoder",
    }
)


def column_map(steps: list[tuple[str, Any]], inputs: list[str]) -> np.ndarray:
    """Input-column index of each column the last step outputs.

    Args:
        steps: The preprocessing steps (name, fitted transformer), in order.
        inputs: The input column names the first step receives.

    Raises:
        InvalidInput: A step mixes columns or cannot be followed; names the step.
    """
    mapping = np.arange(len(inputs))
    for name, step in steps:
        mapping = mapping[_step_map(name, step, len(mapping), _names_in(step, inputs, mapping))]
    return mapping


def _names_in(step: Any, inputs: list[str], mapping: np.ndarray) -> list[str]:
    return [inputs[i] for i in mapping]


def _step_map(where: str, step: Any, width: int, names: list[str]) -> np.ndarray:
    """Index (into this step's input columns) of each of its output columns."""
    from sklearn.pipeline import Pipeline

    if step is None or step == "passthrough":
        return np.arange(width)
    if isinstance(step, Pipeline):
        mapping = np.arange(width)
        for name, inner in step.steps:
            mapping = mapping[_step_map(f"{where}.{name}", inner, len(mapping), names)]
        return mapping
    cls = type(step).__name__
    if cls == "FunctionTransformer" and step.func is None:  # a fitted 'passthrough'
        return np.arange(width)
    if cls == "ColumnTransformer":
        return _column_transformer(where, step, names)
    if cls == "OneHotEncoder":
        return _one_hot(where, step, width)
    if cls in _ELEMENTWISE:
        if cls == "SimpleImputer" and getattr(step, "add_indicator", False):
            raise InvalidInput(
                f"cannot explain through step {where!r}: SimpleImputer(add_indicator=True) "
                "adds indicator columns; explanations support it without indicators"
            )
        out = _output_width(step, width)
        if out != width:
            raise InvalidInput(
                f"cannot explain through step {where!r} ({cls}): it turns {width} columns "
                f"into {out}"
            )
        return np.arange(width)
    raise InvalidInput(
        f"cannot explain through step {where!r} ({cls}): explanations follow "
        "ColumnTransformer, OneHotEncoder, OrdinalEncoder, SimpleImputer, scalers and "
        "'passthrough', whose output columns each come from one input column"
    )


def _output_width(step: Any, width: int) -> int:
    try:
        return len(step.get_feature_names_out())
    except (AttributeError, ValueError, TypeError):
        return width


def _one_hot(where: str, encoder: Any, width: int) -> np.ndarray:
    counts = getattr(encoder, "_n_features_outs", None)
    if counts is None:
        raise InvalidInput(f"cannot explain through step {where!r}: an unfitted OneHotEncoder")
    if len(counts) != width:
        raise InvalidInput(
            f"cannot explain through step {where!r}: it was fitted on {len(counts)} columns, "
            f"given {width}"
        )
    return np.repeat(np.arange(width), counts)


def _column_transformer(where: str, ct: Any, names: list[str]) -> np.ndarray:
    if not hasattr(ct, "transformers_"):
        raise InvalidInput(f"cannot explain through step {where!r}: not fitted")
    fitted_names = list(getattr(ct, "feature_names_in_", names))
    position = {name: i for i, name in enumerate(names)}
    total = sum(s.stop - s.start for s in ct.output_indices_.values())
    mapping = np.full(total, -1, dtype=np.int64)
    for name, transformer, columns in ct.transformers_:
        out = ct.output_indices_.get(name, slice(0, 0))
        if out.stop == out.start or transformer == "drop":
            continue
        selected = _selected(columns, fitted_names)
        unknown = [c for c in selected if c not in position]
        if unknown:
            raise InvalidInput(
                f"cannot explain through step {where!r}: transformer {name!r} reads column(s) "
                f"{unknown} that are not model inputs"
            )
        inner = _step_map(f"{where}.{name}", transformer, len(selected), selected)
        if len(inner) != out.stop - out.start:
            raise InvalidInput(
                f"cannot explain through step {where!r}: transformer {name!r} gives "
                f"{out.stop - out.start} columns, expected {len(inner)}"
            )
        mapping[out] = [position[selected[i]] for i in inner]
    return mapping


def _selected(columns: Any, names: list[str]) -> list[str]:
    """Column names a ColumnTransformer entry selects (names, positions, a mask or a slice)."""
    if isinstance(columns, str):
        return [columns]
    if isinstance(columns, slice):
        return names[columns]
    values = list(columns)
    if values and all(isinstance(v, bool | np.bool_) for v in values):
        return [n for n, keep in zip(names, values, strict=True) if keep]
    return [names[int(v)] if isinstance(v, int | np.integer) else str(v) for v in values]
