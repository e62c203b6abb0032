"""A compiled pipeline as a serving scorer: JSON columns -> model matrix -> outputs.

Same contract as :class:`modelyard.serving.fastpath.FastScorer`: :meth:`encode`
returns the model matrix for a request, or None whenever the canonical path must
decide (a value of the wrong type, a null in a non-nullable column, a category
outside the signature's allowed set, an input the native model would refuse), so
the fast path never accepts what the canonical path would reject.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.serving.compiled.estimators import Estimator
from modelyard.serving.compiled.preprocess import Preprocessor
from modelyard.serving.inputs import COLUMNS, RECORDS, ROWS, Payload

if TYPE_CHECKING:
    from modelyard.flavors.signature import Signature

__all__ = ["CompiledScorer"]

FLOAT_BOUND = 1e308
_INT_LIMIT = 2**53
_NONE = type(None)
_NUMBERS = frozenset({int, float})


class CompiledScorer:
    """Decoder-side preprocessing plus a compiled estimator.

    Attributes:
        kind: The estimator's scorer name (``"forest-compiled"``, ...).
        tolerance: Largest absolute difference to the native outputs accepted
            (0.0: bit-identical).
        report: What was compiled, shown in the version's compile report.
    """

    def __init__(
        self, signature: Signature, pre: Preprocessor, estimator: Estimator, report: dict[str, Any]
    ) -> None:
        self.kind = estimator.kind
        self.tolerance = estimator.tolerance
        self.width = pre.width
        self.report = report
        self._pre = pre
        self._estimator = estimator
        self._names = [s.name for s in signature.inputs]
        self._name_set = frozenset(self._names)
        self._specs = [
            (
                s.name,
                s.type in ("float", "integer"),
                s.type == "integer",
                s.nullable,
                frozenset(s.categories) if s.categories is not None else None,
            )
            for s in signature.inputs
        ]

    def encode(self, payload: Payload) -> np.ndarray | None:
        """The model matrix for ``payload``, or None when the canonical path must decide."""
        columns = self._columns(payload)
        if columns is None:
            return None
        values: dict[str, Any] = {}
        for name, numeric, integer, nullable, allowed in self._specs:
            column = columns[name]
            if isinstance(column, np.ndarray):
                column = column.tolist()
            kinds = set(map(type, column))
            if nullable and not integer:
                # A null integer becomes pandas.NA on the canonical path, which the native
                # pipeline may refuse: that path decides (and names the problem).
                kinds.discard(_NONE)
            if numeric:
                if not kinds <= _NUMBERS:
                    return None
                with_nulls = nullable and not integer and None in column
                array = np.array(
                    [np.nan if v is None else v for v in column] if with_nulls else column,
                    dtype=np.float64,
                )
                finite = array[~np.isnan(array)] if with_nulls else array
                if finite.size:
                    top = np.abs(finite).max()
                    if top > FLOAT_BOUND or ((integer or int in kinds) and top >= _INT_LIMIT):
                        return None
                    if integer and not np.array_equal(finite, np.floor(finite)):
                        return None
                values[name] = array
            else:
                if kinds and kinds != {str}:
                    return None
                if allowed is not None and not allowed.issuperset(
                    v for v in column if v is not None
                ):
                    return None
                values[name] = column
        matrix = self._pre.transform(values, payload.n)
        if matrix is None or (self._estimator.rejects_nan and np.isnan(matrix).any()):
            return None
        return matrix

    def _columns(self, payload: Payload) -> dict[str, Any] | None:
        if payload.kind == RECORDS:
            records = payload.data
            count = len(self._names)
            if any(len(r) != count for r in records):
                return None
            try:
                return {name: [r[name] for r in records] for name in self._names}
            except (KeyError, TypeError):
                return None
        if payload.kind == ROWS:
            names = payload.names or []
            if len(names) != len(self._names) or set(names) != self._name_set:
                return None
            return {name: [row[i] for row in payload.data] for i, name in enumerate(names)}
        if payload.kind == COLUMNS:
            data = payload.data
            if len(data) != len(self._names) or set(data) != self._name_set:
                return None
            return data
        return None

    def matches(self, got: np.ndarray | None, expected: np.ndarray) -> bool:
        """Whether ``got`` equals the native ``expected`` within this scorer's tolerance.

        0.0: bit-identical. Otherwise relative to the magnitude (a regressor's values
        may be large): ``|got - expected| <= tolerance * max(1, |expected|)``.
        """
        if got is None or got.shape != expected.shape:
            return False
        if self.tolerance == 0.0:
            return bool(np.array_equal(got, expected))
        scale = np.maximum(1.0, np.abs(expected))
        return bool((np.abs(got - expected) <= self.tolerance * scale).all())

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Class probabilities (n, classes) for a classifier, values (n,) for a regressor."""
        return self._estimator.predict(matrix)

    def decode(self, matrix: np.ndarray) -> dict[str, Any]:
        """No input column is recovered from the matrix; the prediction log reads the request."""
        return {}
