"""A compiled pipeline as a serving scorer: JSON columns -> model matrix -> outputs.

Same contract as :class:`modelyard.serving.fastpath.FastScorer`: :meth:`encode`
returns the model matrix for a request, or None whenever the canonical path must
decide (a value of the wrong type, a null in a non-nullable column, a category
outside the signature's allowed set, an input the native model would refuse), so
the fast path never accepts what the canonical path would reject.

Given the version's training domain (``rules``, per column), :meth:`encode` also
returns None for a value outside it — an unseen category, a null where training
had none, a number outside the training range — so such a value is never scored
here without the warning (or rejection) the version's ``InputContract`` gives it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.compiled._estimator import Estimator
from modelyard.compiled.preprocess import Preprocessor
from modelyard.compiled.rows import COLUMNS, RECORDS, ROWS, Rows, transpose

if TYPE_CHECKING:
    from modelyard.flavors.signature import Signature

__all__ = ["CompiledScorer"]

FLOAT_BOUND = 1e308
_INT_LIMIT = 2**53
_NONE = type(None)
_NUMBERS = frozenset({int, float})
_NUMBERS_OR_NULL = frozenset({int, float, _NONE})


class CompiledScorer:
    """Decoder-side preprocessing plus a compiled estimator.

    Attributes:
        kind: The estimator's scorer name (``"forest-compiled"``, ...).
        evaluator: What computes the scores (``"numba tree kernel"``, ``"numpy"``, ...).
        tolerance: Largest absolute difference to the native outputs accepted
            (0.0: bit-identical).
        report: What was compiled, shown in the version's compile report.
    """

    keeps_columns = True
    """Its encode takes ``keep``: the checked input columns, for the prediction log."""

    def __init__(
        self,
        signature: Signature,
        pre: Preprocessor,
        estimator: Estimator,
        report: dict[str, Any],
        rules: Mapping[str, Any] | None = None,
    ) -> None:
        self.kind = estimator.kind
        self.evaluator = estimator.evaluator
        self.tolerance = estimator.tolerance
        self.width = pre.width
        self.report = report
        self._pre = pre
        self._estimator = estimator
        self._signature = signature
        self._names = [s.name for s in signature.inputs]
        self._name_set = frozenset(self._names)
        self._record_lengths = {len(self._names)}
        self._getter = itemgetter(*self._names) if len(self._names) > 1 else None
        self._set_specs(rules)

    def _set_specs(self, rules: Mapping[str, Any] | None, *, checked: bool = False) -> None:
        signature = self._signature
        self._specs = [
            _spec(s, (rules or {}).get(s.name), rules is not None) for s in signature.inputs
        ]
        if checked:
            # The contract has checked the values: a string column's example categories and
            # the example's nulls are soft there (flagged, not refused), so only the types
            # and a category column's own categories limit what is encoded here.
            self._specs = [
                (name, num, integer, True, allowed if s.type == "category" else None, None, None)
                for s, (name, num, integer, _, allowed, _, _) in zip(
                    signature.inputs, self._specs, strict=True
                )
            ]
        numeric = [spec for spec in self._specs if spec[1]]
        self._numeric = [spec[0] for spec in numeric]
        self._integer_rows = np.array([spec[2] for spec in numeric], dtype=bool)
        self._null_rows = np.array([spec[3] and not spec[2] for spec in numeric], dtype=bool)
        self._low = np.array([[-np.inf if s[5] is None else s[5]] for s in numeric])
        self._high = np.array([[np.inf if s[6] is None else s[6]] for s in numeric])
        self._row_checks = [
            (bool(integer), bool(null_ok), float(low[0]), float(high[0]))
            for integer, null_ok, low, high in zip(
                self._integer_rows,
                self._null_rows,
                self._low,
                self._high,
                strict=True,
            )
        ]

    def widened(self) -> CompiledScorer:
        """The same compiled pipeline limited by the column types alone, not the domain.

        For rows the version's contract has already checked (and flagged): it takes the
        unseen categories, nulls and out-of-range numbers the domain-bound scorer leaves
        to the canonical path. Serving uses it only once its answers on such rows matched
        the native pipeline's (see ``ServedVersion.warm``).
        """
        wide = copy.copy(self)
        wide._set_specs(None, checked=True)
        return wide

    def encode(
        self,
        payload: Rows,
        ranges: list[tuple[str, np.ndarray]] | None = None,
        keep: dict[str, Any] | None = None,
    ) -> np.ndarray | None:
        """The model matrix for ``payload``, or None when the canonical path must decide.

        Args:
            ranges: When given, a numeric column with a value outside the training range
                does not send the request away: ``(name, float64 values)`` is appended
                here, in signature order, for the caller to flag exactly as the
                version's contract does (out-of-range numbers are always scored).
            keep: When given, receives the checked input columns (name to a float64
                array for a numeric column, NaN for null; a list of values otherwise),
                for the prediction log, which then need not walk the request again.
        """
        columns = self._columns(payload)
        if columns is None:
            return None
        numbers = self._number_block(columns, payload.n, ranges)
        values: dict[str, Any] = {} if numbers is None else numbers
        for name, numeric, integer, nullable, allowed, low, high in self._specs:
            if numeric and numbers is not None:
                continue
            column = columns[name]
            if isinstance(column, np.ndarray):
                column = column.tolist()
            kinds = set(map(type, column))
            nulls = _NONE in kinds
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
                    if (low is not None and finite.min() < low) or (
                        high is not None and finite.max() > high
                    ):
                        if ranges is None:
                            return None  # outside the training range: the contract flags it
                        ranges.append((name, array))
                values[name] = array
            else:
                if kinds and kinds != {str}:
                    return None
                if allowed is not None and not allowed.issuperset(
                    (v for v in column if v is not None) if nulls else column
                ):
                    return None
                values[name] = column
        matrix = self._pre.transform(values, payload.n)
        if matrix is None or (self._estimator.rejects_nan and np.isnan(matrix).any()):
            return None
        if keep is not None:
            keep.update(values)
        return matrix

    def _number_block(
        self, columns: dict[str, Any], n: int, ranges: list[tuple[str, np.ndarray]] | None
    ) -> dict[str, np.ndarray] | None:
        """Every numeric column at once, for the common request: only ints and floats (and
        nulls where a column takes them), whole numbers in integer columns, nothing near
        the float64 limits, and (without ``ranges``) nothing outside the training range.
        One list, one array, one comparison per check.

        None: something else is there; the per-column checks decide (and give the same
        answer for everything this accepts).
        """
        names = self._numeric
        if not names or n == 0:
            return None
        arrays = [columns[name] for name in names]
        if all(isinstance(a, np.ndarray) and a.dtype.kind in "fiu" for a in arrays):
            return self._array_block(arrays, n, ranges)
        if n == 1:
            return self._number_row(columns, ranges)
        flat = list(chain.from_iterable(map(columns.__getitem__, names)))
        kinds = set(map(type, flat))
        if kinds <= _NUMBERS:
            block = np.array(flat, dtype=np.float64).reshape(len(names), n)
            top = np.abs(block).max()
        elif kinds <= _NUMBERS_OR_NULL and self._null_rows.any():
            # Nulls (None -> NaN in the cast from objects), only where a null is taken:
            # a nullable float column, as the per-column check allows.
            block = np.array(flat, dtype=object).astype(np.float64).reshape(len(names), n)
            nulls = np.isnan(block).any(axis=1)
            if (nulls & ~self._null_rows).any():
                return None
            top = np.fmax.reduce(np.abs(block), axis=None)
        else:
            return None  # booleans, strings, numpy scalars: per column
        if top >= _INT_LIMIT:
            return None  # integers may not be exact, floats may pass the bound: per column
        whole = block[self._integer_rows]
        if whole.size and not np.array_equal(whole, np.floor(whole)):
            return None
        outside = ((block < self._low) | (block > self._high)).any(axis=1)
        if outside.any():
            if ranges is None:
                return None
            ranges.extend((names[k], block[k]) for k in np.flatnonzero(outside).tolist())
        return dict(zip(names, block, strict=True))

    def _number_row(
        self, columns: dict[str, Any], ranges: list[tuple[str, np.ndarray]] | None
    ) -> dict[str, np.ndarray] | None:
        """:meth:`_number_block` for one row: the same checks on Python scalars, where
        numpy's per-call overhead would cost several times the work."""
        names = self._numeric
        row = [columns[name][0] for name in names]
        if not set(map(type, row)) <= _NUMBERS_OR_NULL:
            return None
        outside = []
        for k, (v, (integer, null_ok, low, high)) in enumerate(
            zip(row, self._row_checks, strict=True)
        ):
            if v is None:
                if not null_ok:
                    return None
                row[k] = np.nan
                continue
            if not -_INT_LIMIT < v < _INT_LIMIT:
                return None
            if integer and type(v) is float and not v.is_integer():
                return None
            if v < low or v > high:
                outside.append(k)
        block = np.array(row, dtype=np.float64).reshape(len(row), 1)
        if outside:
            if ranges is None:
                return None
            ranges.extend((names[k], block[k]) for k in outside)
        return dict(zip(names, block, strict=True))

    def _array_block(
        self, arrays: list[np.ndarray], n: int, ranges: list[tuple[str, np.ndarray]] | None
    ) -> dict[str, np.ndarray] | None:
        """Numeric columns that are already numpy arrays (a batch frame's): no Python values.

        Each column gets exactly the per-column checks of :meth:`encode`, with the same
        NaN-propagating reductions, so what this accepts is what they accept, with
        the same float64 values; None sends the request to them.
        """
        block = np.empty((len(arrays), n), dtype=np.float64)
        for k, array in enumerate(arrays):
            if array.shape != (n,):
                return None
            block[k] = array
        top = np.abs(block).max(axis=1)
        low, high = block.min(axis=1), block.max(axis=1)
        for k, (name, array) in enumerate(zip(self._numeric, arrays, strict=True)):
            integer = bool(self._integer_rows[k])
            if top[k] > FLOAT_BOUND:
                return None
            if (integer or array.dtype.kind in "iu") and top[k] >= _INT_LIMIT:
                return None
            if integer and not np.array_equal(block[k], np.floor(block[k])):
                return None
            if low[k] < self._low[k, 0] or high[k] > self._high[k, 0]:
                if ranges is None:
                    return None
                ranges.append((name, block[k]))
        return dict(zip(self._numeric, block, strict=True))

    def _columns(self, payload: Rows) -> dict[str, Any] | None:
        if payload.kind == RECORDS:
            records = payload.data
            if set(map(len, records)) != self._record_lengths:
                return None
            try:
                return transpose(records, self._names, self._getter)
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


def _spec(
    spec: Any, rule: Any, with_domain: bool
) -> tuple[str, bool, bool, bool, frozenset[str] | None, float | None, float | None]:
    """(name, numeric, integer, nulls taken, categories taken, low, high) for one column.

    With the version's domain (``with_domain``), only values inside it are taken:
    nulls only where training had them, categories only those seen, numbers only
    inside the training range. Without it, the signature's own limits.
    """
    allowed = frozenset(spec.categories) if spec.categories is not None else None
    nullable = bool(spec.nullable)
    low = high = None
    if with_domain:
        if rule is None:
            nullable = False
        else:
            nullable = nullable and bool(rule.nullable)
            if rule.categories is not None:
                seen = frozenset(rule.categories)
                allowed = seen if allowed is None else allowed & seen
            low, high = rule.minimum, rule.maximum
    numeric = spec.type in ("float", "integer")
    return spec.name, numeric, spec.type == "integer", nullable, allowed, low, high
