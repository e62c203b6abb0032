"""Model signatures: which columns a model takes and returns, inferred from its training frame.

A :class:`Signature` is the contract between a model and everyone who calls it.
It is inferred once, when the model is saved, from the example frame the model
was trained on, and stored in the model's manifest. Serving generates its
OpenAPI schema from :meth:`Signature.json_schema`, and every prediction path
enforces it first (see :mod:`modelyard.flavors._enforce` for the rules), so a
bad request fails with a 422 naming each offending column instead of a
traceback from deep inside a pipeline — or, worse, a silently wrong score.

Column types are deliberately few: ``integer``, ``float``, ``boolean``,
``string``, ``category`` (a pandas ``Categorical``, which LightGBM uses for its
native categorical splits) and ``datetime``. Names and types are the hard
contract. String and category columns with at most :data:`MAX_CATEGORIES`
distinct values in the example also record the values seen, ``nullable``
whether the example had nulls, ``minimum``/``maximum`` its range: that is the
*example's* domain, soft. A saved model stores its training domain, probe and
policy next to the signature (:mod:`modelyard.flavors.contract` decides what
is scored with a warning and what is refused); a bare signature's own
``enforce`` keeps the strict reading (values outside its categories and
unexpected nulls refused), for models saved without them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelyard.errors import InvalidInput
from modelyard.flavors._enforce import EnforcementPlan

__all__ = ["COLUMN_TYPES", "MAX_CATEGORIES", "ColumnSpec", "ColumnType", "Signature"]

ColumnType = Literal["integer", "float", "boolean", "string", "category", "datetime"]
COLUMN_TYPES: tuple[str, ...] = ("integer", "float", "boolean", "string", "category", "datetime")
MAX_CATEGORIES = 1000
"""String columns with more distinct values than this (ids, free text) get no allowed set."""

_JSON_TYPES = {
    "integer": "integer",
    "float": "number",
    "boolean": "boolean",
    "string": "string",
    "category": "string",
    "datetime": "string",
}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a signature.

    Attributes:
        name: Column name.
        type: One of :data:`COLUMN_TYPES`.
        nullable: Whether nulls were seen in the example (in the domain).
        categories: Values of a string column seen in the example (the dtype's categories
            of a category column), or None for any string.
        minimum: Observed minimum (numbers; ISO string for datetimes). Not enforced.
        maximum: Observed maximum. Not enforced.
    """

    name: str
    type: ColumnType
    nullable: bool = False
    categories: tuple[str, ...] | None = None
    minimum: float | int | str | None = None
    maximum: float | int | str | None = None

    def __post_init__(self) -> None:
        if self.type not in COLUMN_TYPES:
            raise InvalidInput(
                f"The type of column {self.name!r} must be one of {COLUMN_TYPES}. "
                f"Got {self.type!r} instead."
            )
        if self.categories is not None:
            if self.type not in ("string", "category"):
                raise InvalidInput(
                    f"column {self.name!r}: categories are only allowed on string or "
                    f"category columns, not {self.type}"
                )
            object.__setattr__(self, "categories", tuple(str(c) for c in self.categories))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "nullable": self.nullable,
            "categories": list(self.categories) if self.categories is not None else None,
            "minimum": self.minimum,
            "maximum": self.maximum,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSpec:
        try:
            categories = data.get("categories")
            return cls(
                name=str(data["name"]),
                type=data["type"],
                nullable=bool(data.get("nullable", False)),
                categories=tuple(categories) if categories is not None else None,
                minimum=data.get("minimum"),
                maximum=data.get("maximum"),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"invalid column spec {data!r}: {exc}") from exc

    def json_schema(self) -> dict[str, Any]:
        """JSON Schema of one value of this column."""
        kind = _JSON_TYPES[self.type]
        schema: dict[str, Any] = {"type": [kind, "null"] if self.nullable else kind}
        if self.categories is not None:
            schema["enum"] = [*self.categories, None] if self.nullable else list(self.categories)
        notes = []
        if self.type == "datetime":
            notes.append("ISO 8601 date or date-time")
        if self.minimum is not None and self.maximum is not None:
            # Informative only: serving must not reject out-of-range values.
            notes.append(f"observed in training: {self.minimum} to {self.maximum}")
        if notes:
            schema["description"] = "; ".join(notes)
        return schema


@dataclass(frozen=True)
class Signature:
    """Input and output columns of a model, with enforcement of the inputs.

    The enforcement plan is compiled once when the signature is built (at save
    and at load time), so :meth:`enforce` on one row costs tens of microseconds.
    """

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        for label, specs in (("input", self.inputs), ("output", self.outputs)):
            counts = Counter(s.name for s in specs)
            duplicated = sorted(name for name, n in counts.items() if n > 1)
            if duplicated:
                raise InvalidInput(f"duplicate {label} columns in signature: {duplicated}")
        # Not a dataclass field: equality, repr and to_dict see only the columns.
        object.__setattr__(self, "_plan", EnforcementPlan(self.inputs))

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild the plan in the receiving process instead of pickling it.
        return (Signature, (self.inputs, self.outputs))

    @property
    def input_names(self) -> list[str]:
        return [s.name for s in self.inputs]

    @classmethod
    def infer(cls, frame: pd.DataFrame, predictions: Any = None) -> Signature:
        """Infer a signature from a training frame and, optionally, the model's predictions.

        Args:
            frame: The example inputs; every column becomes an input column.
            predictions: A DataFrame, Series or array of outputs on (part of) the
                example. A 1-D array or an unnamed Series becomes a column named
                ``prediction``.

        Raises:
            InvalidInput: A column's type cannot be inferred (mixed or all-null
                values); pass an explicit signature to ``save_model`` instead.
        """
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(
                f"a signature is inferred from a pandas DataFrame, not {frame!r:.80}"
            )
        inputs = tuple(infer_column(str(name), frame[name]) for name in frame.columns)
        outputs: tuple[ColumnSpec, ...] = ()
        if predictions is not None:
            out = _as_frame(predictions)
            outputs = tuple(infer_column(str(name), out[name]) for name in out.columns)
        return cls(inputs, outputs)

    def enforce(self, frame: pd.DataFrame, *, allow_extra: bool = False) -> pd.DataFrame:
        """Check ``frame`` against the inputs, apply safe coercions, order the columns.

        Returns ``frame`` itself when it already conforms (no copy), else a new
        frame with the columns in signature order.

        Raises:
            InvalidInput: Every problem found, in one error; ``details`` lists
                ``{"column", "problem", "values"}`` per problem.
        """
        return self._plan.enforce_frame(frame, allow_extra)  # type: ignore[attr-defined]

    def enforce_columns(
        self, columns: Mapping[str, Any], *, allow_extra: bool = False
    ) -> dict[str, Any]:
        """:meth:`enforce` for a mapping of column name to array, without pandas frames.

        The fast path for serving: decoded JSON columns go through the same
        checks and coercions, and the result feeds an ONNX session directly.
        """
        return self._plan.enforce_columns(columns, allow_extra)  # type: ignore[attr-defined]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "outputs": [c.to_dict() for c in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        try:
            inputs = tuple(ColumnSpec.from_dict(c) for c in data["inputs"])
            outputs = tuple(ColumnSpec.from_dict(c) for c in data.get("outputs") or ())
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"invalid signature: {exc}") from exc
        return cls(inputs, outputs)

    def json_schema(self, *, outputs: bool = False) -> dict[str, Any]:
        """JSON Schema (draft 2020-12) of ONE record of the inputs (or of the outputs).

        Every column is required (a nullable one may be null) and no other
        property is allowed, mirroring :meth:`enforce`.
        """
        specs = self.outputs if outputs else self.inputs
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "prediction" if outputs else "record",
            "type": "object",
            "properties": {s.name: s.json_schema() for s in specs},
            "required": [s.name for s in specs],
            "additionalProperties": False,
        }


def infer_column(name: str, series: pd.Series) -> ColumnSpec:
    """Infer one :class:`ColumnSpec` from a column of the example."""
    dtype = series.dtype
    nullable = bool(series.isna().any())
    if isinstance(dtype, pd.CategoricalDtype):
        if dtype.categories.inferred_type not in ("string", "empty"):
            raise InvalidInput(
                f"column {name!r}: only categoricals of strings are supported, "
                f"got categories of {dtype.categories.inferred_type}"
            )
        return ColumnSpec(name, "category", nullable, tuple(dtype.categories))
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return _infer_object(name, series, nullable)
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnSpec(name, "boolean", nullable)
    if pd.api.types.is_integer_dtype(dtype):
        low, high = _range(series)
        return ColumnSpec(name, "integer", nullable, None, _int(low), _int(high))
    if pd.api.types.is_float_dtype(dtype):
        low, high = _range(series)
        return ColumnSpec(name, "float", nullable, None, _float(low), _float(high))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        low, high = _range(series)
        return ColumnSpec(name, "datetime", nullable, None, _iso(low), _iso(high))
    raise InvalidInput(f"column {name!r}: unsupported type {dtype}")


def _infer_object(name: str, series: pd.Series, nullable: bool) -> ColumnSpec:
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "string":
        distinct = series.dropna().unique()
        categories = tuple(sorted(distinct)) if len(distinct) <= MAX_CATEGORIES else None
        return ColumnSpec(name, "string", nullable, categories)
    if kind in ("integer", "floating", "mixed-integer-float", "integer-na", "decimal"):
        numbers = pd.to_numeric(series)
        column_type = "integer" if pd.api.types.is_integer_dtype(numbers.dtype) else "float"
        low, high = _range(numbers)
        convert = _int if column_type == "integer" else _float
        return ColumnSpec(name, column_type, nullable, None, convert(low), convert(high))
    if kind == "boolean":
        return ColumnSpec(name, "boolean", nullable)
    if kind in ("datetime", "datetime64", "date"):
        low, high = _range(pd.to_datetime(series))
        return ColumnSpec(name, "datetime", nullable, None, _iso(low), _iso(high))
    what = "all values are null" if kind == "empty" else f"values of mixed kinds ({kind})"
    raise InvalidInput(
        f"cannot infer the type of column {name!r}: {what}; "
        "pass signature=Signature(...) to save_model instead"
    )


def _as_frame(predictions: Any) -> pd.DataFrame:
    if isinstance(predictions, pd.DataFrame):
        return predictions
    if isinstance(predictions, pd.Series):
        return predictions.to_frame(
            predictions.name if predictions.name is not None else "prediction"
        )
    values = np.asarray(predictions)
    if values.ndim == 1:
        return pd.DataFrame({"prediction": values})
    if values.ndim == 2:
        return pd.DataFrame(values, columns=[f"output_{i}" for i in range(values.shape[1])])
    raise InvalidInput(f"predictions of shape {values.shape} cannot be described by columns")


def _range(series: pd.Series) -> tuple[Any, Any]:
    clean = series.dropna()
    if clean.empty:
        return None, None
    return clean.min(), clean.max()


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    # JSON has no infinities; an infinite bound is as good as none.
    return float(value) if value is not None and math.isfinite(value) else None


def _iso(value: Any) -> str | None:
    return None if value is None else pd.Timestamp(value).isoformat()
