"""Scikit-learn preprocessing compiled into the request decoder.

A fitted ``ColumnTransformer`` becomes a list of *branches*; each branch reads
some signature columns (numbers as a float64 block with NaN for nulls, strings
as Python lists with None for nulls) and runs a chain of *steps* over them with
numpy, writing the model matrix's columns directly — no pandas frame, no
scikit-learn input validation per request.

Numeric steps repeat scikit-learn's own arithmetic in the same order
(``(x - mean_) / scale_``, ``x * scale_ + min_``, NaN replaced by
``statistics_``), so their output is bit-identical. Categorical encoders are
compiled by *probing the fitted encoder*: every known category, one unseen
value and a null are passed through ``transform`` once at compile time and the
output rows are kept as a lookup table. Whatever the encoder does — infrequent
categories, ``drop=``, ``handle_unknown``, ``unknown_value``,
``encoded_missing_value`` — the table holds exactly its answer, and a request
costs one dict lookup per value plus one numpy ``take``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

__all__ = ["Branch", "Preprocessor", "compile_preprocessor"]

NUMERIC, CATEGORICAL = "numeric", "categorical"
_UNSEEN = "\x00modelyard-unseen\x00"


class NotCompilable(Exception):
    """A step this compiler does not handle; the message is the recorded reason."""


# ------------------------------------------------------------------ steps


class _NumImpute:
    """SimpleImputer on numbers: NaN replaced by the fitted statistic (a column's own)."""

    def __init__(self, statistics: np.ndarray) -> None:
        self.statistics = statistics

    def __call__(self, block: np.ndarray) -> np.ndarray:
        mask = np.isnan(block)
        if mask.any():
            block = np.where(mask, self.statistics, block)
        return block


class _Affine:
    """``(x - sub) / div`` (Standard, Robust) or ``x * mul + add`` (MinMax), in that order."""

    def __init__(
        self,
        sub: np.ndarray | None = None,
        div: np.ndarray | None = None,
        mul: np.ndarray | None = None,
        add: np.ndarray | None = None,
        clip: tuple[float, float] | None = None,
    ) -> None:
        self.sub, self.div, self.mul, self.add, self.clip = sub, div, mul, add, clip

    def __call__(self, block: np.ndarray) -> np.ndarray:
        out = block.copy()
        if self.sub is not None:
            out -= self.sub
        if self.div is not None:
            out /= self.div
        if self.mul is not None:
            out *= self.mul
        if self.add is not None:
            out += self.add
        if self.clip is not None:
            np.clip(out, self.clip[0], self.clip[1], out=out)
        return out


class _CatImpute:
    """SimpleImputer before an encoder: None replaced by each column's fill (None: kept)."""

    def __init__(self, fills: list[Any]) -> None:
        self.fills = fills

    def __call__(self, block: list[list[Any]]) -> list[list[Any]]:
        return [
            [fill if v is None else v for v in column]
            if fill is not None and None in column
            else column
            for fill, column in zip(self.fills, block, strict=True)
        ]


class _Encode:
    """A categorical encoder as per-column lookup tables (value -> row of the column's table).

    ``unseen`` is the table row for a value the encoder never saw, or -1 when the
    encoder raises on it (the request then takes the canonical path).
    """

    def __init__(
        self, codes: list[dict[Any, int]], tables: list[np.ndarray], unseen: list[int]
    ) -> None:
        self.codes, self.tables, self.unseen = codes, tables, unseen
        self.width = sum(t.shape[1] for t in tables)
        self.rows = [t.tolist() for t in tables]  # one row without numpy (exact: float64)

    def __call__(self, block: list[list[Any]]) -> np.ndarray | None:
        n = len(block[0]) if block else 0
        if n == 1:
            # One row: its table rows joined as Python floats, one array at the end —
            # a fancy index per column would cost several times more.
            values: list[float] = []
            for column, lut, rows, unseen in zip(
                block, self.codes, self.rows, self.unseen, strict=True
            ):
                code = lut.get(column[0], unseen)
                if code == -1:
                    return None
                values.extend(rows[code])
            return np.array([values], dtype=np.float64)
        out = np.empty((n, self.width), dtype=np.float64)
        start = 0
        for column, lut, table, unseen in zip(
            block, self.codes, self.tables, self.unseen, strict=True
        ):
            rows = list(map(lut.get, column, repeat(unseen)))  # lut.get(v, unseen), in C
            if -1 in rows:
                return None
            stop = start + table.shape[1]
            out[:, start:stop] = table[rows]
            start = stop
        return out


class Branch:
    """One ColumnTransformer entry: input columns, steps, output columns ``[start, stop)``."""

    def __init__(
        self, columns: list[str], kind: str, steps: list[Any], start: int, stop: int
    ) -> None:
        self.columns, self.kind, self.steps, self.start, self.stop = (
            columns,
            kind,
            steps,
            start,
            stop,
        )

    def run(self, values: dict[str, Any], n: int) -> np.ndarray | None:
        block: Any
        if self.kind == NUMERIC:
            if n == 1:
                block = np.concatenate([values[name] for name in self.columns]).reshape(1, -1)
                block = block.astype(np.float64, copy=False)
            else:
                block = np.empty((n, len(self.columns)), dtype=np.float64)
                for k, name in enumerate(self.columns):
                    block[:, k] = values[name]
        else:
            block = [_python_values(values[name]) for name in self.columns]
        for step in self.steps:
            block = step(block)
            if block is None:
                return None
        return block


class Preprocessor:
    """All branches of a ColumnTransformer (or the identity on numeric columns)."""

    def __init__(self, branches: list[Branch], width: int) -> None:
        self.branches = branches
        self.width = width
        self.sparse = False
        self.numeric = sorted({c for b in branches if b.kind == NUMERIC for c in b.columns})
        self.categorical = sorted({c for b in branches if b.kind == CATEGORICAL for c in b.columns})

    def transform(self, values: dict[str, Any], n: int) -> np.ndarray | None:
        """The model matrix from decoded columns, or None when an encoder would raise."""
        out = np.empty((n, self.width), dtype=np.float64)
        for branch in self.branches:
            block = branch.run(values, n)
            if block is None:
                return None
            out[:, branch.start : branch.stop] = block
        return out


# ------------------------------------------------------------------ compilation


def compile_preprocessor(
    transformer: Any, signature_types: dict[str, str], model_inputs: Sequence[str] | None
) -> Preprocessor:
    """A Preprocessor equivalent to ``transformer`` (None: the model reads numbers directly).

    Raises:
        NotCompilable: A step, option or column type the compiler does not handle.
    """
    if transformer is None:
        names = list(model_inputs or [])
        for name in names:
            if signature_types.get(name) not in ("float", "integer"):
                raise NotCompilable(f"model column {name!r} is not a numeric signature column")
        branch = Branch(names, NUMERIC, [], 0, len(names))
        return Preprocessor([branch], len(names))
    from sklearn.compose import ColumnTransformer

    if not isinstance(transformer, ColumnTransformer) or not hasattr(transformer, "transformers_"):
        raise NotCompilable(f"{type(transformer).__name__} is not a fitted ColumnTransformer")
    inputs = [str(c) for c in getattr(transformer, "feature_names_in_", [])]
    if not inputs:
        raise NotCompilable("the ColumnTransformer was not fitted on a DataFrame")
    branches = []
    width = 0
    for name, trans, selection in transformer.transformers_:
        columns = _column_names(selection, inputs)
        if columns is None:
            raise NotCompilable(f"transformer {name!r} selects columns in an unreadable way")
        if (isinstance(trans, str) and trans == "drop") or not columns:
            continue
        out = transformer.output_indices_[name]
        kinds = {signature_types.get(c) for c in columns}
        if not kinds <= {"float", "integer", "string", "category"}:
            raise NotCompilable(f"transformer {name!r} uses column types {sorted(map(str, kinds))}")
        # A branch with an encoder reads Python values (numbers included, nulls as None);
        # any other branch reads a float64 block.
        kind = CATEGORICAL if _has_encoder(trans) else NUMERIC
        if kind == NUMERIC and not kinds <= {"float", "integer"}:
            raise NotCompilable(f"transformer {name!r} hands strings to the model unencoded")
        numeric = [signature_types.get(c) in ("float", "integer") for c in columns]
        steps = _compile_steps(name, trans, kind, columns, numeric)
        branches.append(Branch(columns, kind, steps, out.start, out.stop))
        width = max(width, out.stop)
    pre = Preprocessor(branches, width)
    # The native pipeline hands the model a sparse matrix; the compiled one is dense.
    pre.sparse = bool(getattr(transformer, "sparse_output_", False))
    return pre


def _has_encoder(trans: Any) -> bool:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    chain = [s for _, s in trans.steps] if isinstance(trans, Pipeline) else [trans]
    return any(isinstance(s, OneHotEncoder | OrdinalEncoder) for s in chain)


def _compile_steps(
    name: str, trans: Any, kind: str, columns: list[str], numeric: list[bool]
) -> list[Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(trans, str):
        if trans == "passthrough":
            if kind != NUMERIC:
                raise NotCompilable(f"transformer {name!r} passes strings through to the model")
            return []
        raise NotCompilable(f"transformer {name!r} is {trans!r}")
    chain = (
        [s for _, s in trans.steps if s is not None and s != "passthrough"]
        if isinstance(trans, Pipeline)
        else [trans]
    )
    steps: list[Any] = []
    for step in chain:
        compiled, kind = _compile_step(name, step, kind, numeric)
        if compiled is not None:
            steps.append(compiled)
    if kind != NUMERIC:
        raise NotCompilable(f"transformer {name!r} leaves strings for the model")
    return steps


def _compile_step(name: str, step: Any, kind: str, numeric: list[bool]) -> tuple[Any, str]:
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import (
        FunctionTransformer,
        MinMaxScaler,
        OneHotEncoder,
        OrdinalEncoder,
        RobustScaler,
        StandardScaler,
    )

    label = f"{type(step).__name__} in transformer {name!r}"
    if isinstance(step, FunctionTransformer):
        if (step.func is None or _is_check_array(step.func)) and step.inverse_func is None:
            return None, kind  # the identity (check_array: HistGradientBoosting's numbers)
        raise NotCompilable(f"{label} has a function")
    if isinstance(step, SimpleImputer):
        return _imputer(label, step, kind, numeric), kind
    if isinstance(step, OneHotEncoder | OrdinalEncoder):
        if kind != CATEGORICAL:
            raise NotCompilable(f"{label} encodes numbers")
        return _encoder(label, step), NUMERIC
    if kind != NUMERIC:
        raise NotCompilable(f"{label} reads strings")
    if isinstance(step, StandardScaler):
        return _Affine(
            sub=step.mean_ if step.with_mean else None,
            div=step.scale_ if step.with_std else None,
        ), kind
    if isinstance(step, RobustScaler):
        return _Affine(
            sub=step.center_ if step.with_centering else None,
            div=step.scale_ if step.with_scaling else None,
        ), kind
    if isinstance(step, MinMaxScaler):
        clip = tuple(map(float, step.feature_range)) if step.clip else None
        return _Affine(mul=step.scale_, add=step.min_, clip=clip), kind  # type: ignore[arg-type]
    raise NotCompilable(f"{label} has no compiled form")


def _imputer(label: str, step: Any, kind: str, numeric: list[bool]) -> Any:
    missing = step.missing_values
    if not (missing is None or (isinstance(missing, float) and missing != missing)):
        raise NotCompilable(f"{label} imputes {missing!r}, not nulls")
    if getattr(step, "add_indicator", False):
        raise NotCompilable(f"{label} adds missing indicators")
    statistics = step.statistics_
    if len(statistics) != len(numeric):
        raise NotCompilable(f"{label} drops columns that were empty in training")
    if kind == NUMERIC:
        stats = np.asarray(statistics, dtype=np.float64)
        if np.isnan(stats).any():
            raise NotCompilable(f"{label} has a NaN statistic")
        return _NumImpute(stats)
    fills = list(statistics.tolist())
    if any(_is_null(f) or isinstance(f, bool) for f in fills):
        raise NotCompilable(f"{label} fills with a null")
    # Which nulls it replaces depends on how they reach it: a number column's null is NaN,
    # a string column's is None, and SimpleImputer(missing_values=nan) leaves None alone.
    # Ask the fitted imputer with one all-null row in the form the native pipeline gives.
    replaced = _replaces_nulls(step, numeric)
    return _CatImpute([f if r else None for f, r in zip(fills, replaced, strict=True)])


def _replaces_nulls(step: Any, numeric: list[bool]) -> list[bool]:
    import pandas as pd

    nulls = [np.nan if n else None for n in numeric]
    names = list(getattr(step, "feature_names_in_", []))
    if names:
        probe: Any = pd.DataFrame(
            {
                n: pd.Series([v], dtype=np.float64 if isnum else object)
                for n, v, isnum in zip(names, nulls, numeric, strict=True)
            }
        )
    else:
        probe = np.array([nulls], dtype=object)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(step.transform(probe), dtype=object)[0]
    except (ValueError, TypeError) as exc:
        raise NotCompilable(f"SimpleImputer refuses a null row: {exc}") from exc
    return [not _is_null(v) for v in out.tolist()]


def _encoder(label: str, encoder: Any) -> _Encode:
    """Lookup tables read off the fitted encoder by transforming each probe value once."""
    import pandas as pd

    categories = [list(c.tolist()) for c in encoder.categories_]
    widths = list(getattr(encoder, "_n_features_outs", [1] * len(categories)))
    names = list(getattr(encoder, "feature_names_in_", []))
    base = []
    numeric: list[bool] = []
    for i, cats in enumerate(categories):
        present = [c for c in cats if not _is_null(c)]
        strings = all(isinstance(c, str) for c in present)
        numbers = all(isinstance(c, int | float) and not isinstance(c, bool) for c in present)
        if not present or not (strings or numbers):
            raise NotCompilable(f"{label}: column {i} has mixed or no categories")
        base.append(present[0])
        numeric.append(numbers)

    def probe(column: int, values: list[Any]) -> np.ndarray | None:
        data = {j: [base[j]] * len(values) for j in range(len(categories))}
        data[column] = values
        if names:
            frame: Any = pd.DataFrame(
                {
                    names[j]: pd.Series(
                        [np.nan if v is None else v for v in data[j]], dtype=np.float64
                    )
                    if numeric[j]
                    else pd.Series(data[j], dtype=object)
                    for j in data
                }
            )
        else:
            frame = np.array([data[j] for j in range(len(categories))], dtype=object).T
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "unknown categories": the probe's purpose
                out = encoder.transform(frame)
        except ValueError:
            return None
        dense = out.toarray() if hasattr(out, "toarray") else np.asarray(out)
        start = sum(widths[:column])
        return np.asarray(dense[:, start : start + widths[column]], dtype=np.float64)

    codes: list[dict[Any, int]] = []
    tables: list[np.ndarray] = []
    unseen: list[int] = []
    for i, cats in enumerate(categories):
        known = [c for c in cats if not _is_null(c)]
        table = probe(i, known)
        if table is None:
            raise NotCompilable(f"{label} refuses its own categories")
        rows = [table]
        lut: dict[Any, int] = {value: k for k, value in enumerate(known)}
        other = probe(i, [max(known) + 0.5 if numeric[i] else _UNSEEN])
        unseen_row = -1
        if other is not None:
            unseen_row = len(known)
            rows.append(other)
        null = probe(i, [None])
        if null is not None:
            lut[None] = sum(len(r) for r in rows)
            rows.append(null)
        else:
            lut[None] = -1  # the encoder refuses a null: never the unseen row's answer
        codes.append(lut)
        tables.append(np.vstack(rows))
        unseen.append(unseen_row)
    return _Encode(codes, tables, unseen)


def _is_check_array(func: Any) -> bool:
    """``partial(check_array, dtype=float64, ensure_all_finite=False)``, HistGradientBoosting's
    own numeric step: on a float64 block with NaN for nulls, the identity."""
    import functools

    from sklearn.utils import check_array

    if not (isinstance(func, functools.partial) and func.func is check_array and not func.args):
        return False
    keywords = dict(func.keywords)
    dtype = keywords.pop("dtype", None)
    dtypes = dtype if isinstance(dtype, list) else [dtype]
    return (
        keywords == {"ensure_all_finite": False}
        and len(dtypes) == 1
        and dtypes[0] is not None
        and np.dtype(dtypes[0]) == np.float64
    )


def _python_values(column: Any) -> list[Any]:
    """Strings as they are; a float64 column as Python floats with None for NaN."""
    if isinstance(column, np.ndarray):
        return [None if v != v else v for v in column.tolist()]
    return column


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _column_names(columns: Any, inputs: list[str]) -> list[str] | None:
    if isinstance(columns, str):
        return [columns]
    if isinstance(columns, slice):
        return inputs[columns]
    items = list(np.asarray(columns).ravel()) if not isinstance(columns, list) else columns
    if all(isinstance(c, str) for c in items):
        return [str(c) for c in items]
    if all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in items):
        return [inputs[int(c)] for c in items]
    if all(isinstance(c, bool | np.bool_) for c in items) and len(items) == len(inputs):
        return [n for n, keep in zip(inputs, items, strict=True) if keep]
    return None
