"""An exact fast scorer for LightGBM behind a scikit-learn column encoder.

A registered credit model is typically ``Pipeline(ColumnTransformer([numeric
passthrough, OrdinalEncoder(categoricals)]) -> LGBMClassifier)``. Through the
scikit-learn API one row costs about half a millisecond, almost all of it
pandas and input validation. This module "compiles" such a pipeline into:

* one plan entry per signature column, which checks a JSON value's type and,
  for a categorical, maps it to the encoder's code with a dict lookup (the
  encoder's unknown-value handling included);
* a float64 matrix in the ColumnTransformer's output column order;
* the trees evaluated by :mod:`modelyard.compiled.lightgbm_trees` (a numba kernel,
  bit-identical to ``booster.predict(X, num_threads=1)``, about twice as fast; the C
  API booster for what it refuses) — exactly what ``LGBMClassifier.predict_proba``
  computes on the transformed array.

The answers are identical, not close: :class:`~modelyard.serving.models.ServedVersion`
checks ``np.array_equal`` against the native pipeline on the version's input
example before the fast path may serve, and falls back to the native model
otherwise. Any value the plan is not sure of (a null, a bool, a category
outside the training domain, a missing or extra column) makes
:meth:`FastScorer.encode` return None, and the request takes the canonical
path (the version's ``InputContract``, which names every problem and flags
out-of-domain values it scores) instead. The fast path's category tables hold
only the training domain's values, so an unseen value is never scored here
without its warning; numbers outside the training range are sent the
canonical way by :class:`~modelyard.serving.models.ServedVersion`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.compiled._lightgbm_capi import predict_params
from modelyard.errors import InvalidInput
from modelyard.serving.inputs import COLUMNS, RECORDS, ROWS, Payload

if TYPE_CHECKING:
    from modelyard.flavors.signature import Signature

__all__ = ["COMPILED_FORMAT", "FLOAT_BOUND", "Coded", "FastScorer", "compile_fast_scorer"]

COMPILED_FORMAT = "modelyard.serving-compiled/v1"
FLOAT, INT, CAT = 0, 1, 2
_KIND_NAMES = {FLOAT: "float", INT: "integer", CAT: "category"}
_COLUMNAR_ROWS = 8  # from this many rows per request, encode column by column
_STRINGS = frozenset({str})
_NUMBERS = frozenset({int, float})
FLOAT_BOUND = 1e308
"""Largest magnitude a float input may have: the limit the OpenAPI schema states and serving
enforces (larger JSON numbers are rounded or overflow when parsed as doubles)."""
# Integers beyond 2**53 are not exact in float64; the canonical path decides about them.
_INT_LIMIT = 2**53


class Coded:
    """A categorical column as indices into its values (``values[indices]``), undecoded."""

    __slots__ = ("indices", "values")

    def __init__(self, indices: np.ndarray, values: list[str | None]) -> None:
        self.indices = indices
        self.values = values

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.values, dtype=object)[self.indices]


class _AnyString:
    """A lookup for a categorical with no allowed set: known codes, else the unknown value."""

    __slots__ = ("codes", "default")

    def __init__(self, codes: dict[str, float], default: float | None) -> None:
        self.codes = codes
        self.default = default

    def get(self, value: str) -> float | None:
        return self.codes.get(value, self.default)


class FastScorer:
    """Encode JSON rows to the model's float64 matrix and score it with the LightGBM booster.

    Attributes:
        kind: ``"lightgbm-compiled"``, shown in logs, metrics and metadata.
        evaluator: What evaluates the trees: ``"numba tree kernel"``, or
            ``"LightGBM C API (why)"`` for a model the kernel does not reproduce.
        width: Columns of the model matrix.
    """

    kind = "lightgbm-compiled"
    # Its encode takes no ``ranges`` list: a number outside the training range sends the
    # request to the bounds check in serving.models instead (see ServedVersion).
    reports_ranges = False

    def __init__(
        self,
        model_text: str,
        plan: list[tuple[str, int, Any, int]],
        width: int,
        task: str,
        n_classes: int,
        *,
        num_iteration: int = 0,
        parameters: str = "num_threads=1",
    ) -> None:
        from modelyard.compiled.lightgbm_trees import load_lightgbm

        self._model_text = model_text
        self._num_iteration = num_iteration
        self._parameters = parameters
        self._booster, self.evaluator = load_lightgbm(
            model_text, num_iteration=num_iteration, parameters=parameters
        )
        self._plan = plan
        self._names = frozenset(name for name, *_ in plan)
        self._count = len(plan)
        self.width = width
        self._task = task
        self._n_classes = n_classes
        self._binary = task == "classification" and n_classes == 2
        self._decoders = _decoders(plan)
        self._order = [name for name, *_ in plan]
        self._records_fn = _generated_encoder(plan, width, rows=False)
        self._rows_fn = _generated_encoder(plan, width, rows=True)
        if self._booster.num_feature != width:
            raise InvalidInput(
                f"the model takes {self._booster.num_feature} columns, the plan gives {width}"
            )

    # -- encoding -----------------------------------------------------------
    def encode(self, payload: Payload) -> np.ndarray | None:
        """The model matrix for ``payload``, or None when the canonical path must decide."""
        if payload.kind == RECORDS:
            if payload.n >= _COLUMNAR_ROWS:
                return self._encode_record_columns(payload.data)
            flat = self._records_fn(payload.data)
            if flat is None:
                return None
            return np.array(flat, dtype=np.float64).reshape(payload.n, self.width)
        if payload.kind == ROWS:
            if payload.names == self._order and payload.n >= _COLUMNAR_ROWS:
                return self._encode_row_columns(payload.data)
            if payload.names == self._order:
                flat = self._rows_fn(payload.data)
                if flat is None:
                    return None
                return np.array(flat, dtype=np.float64).reshape(payload.n, self.width)
            return self._encode_rows(payload.names or [], payload.data)
        if payload.kind == COLUMNS:
            return self._encode_columns(payload.data, payload.n)
        return None

    def _encode_record_columns(self, records: list[dict[str, Any]]) -> np.ndarray | None:
        """Larger requests: one list and one numpy conversion per column (vectorised checks)."""
        if set(map(len, records)) != {self._count}:
            return None
        try:
            columns = [[r[name] for r in records] for name in self._order]
        except KeyError:
            return None
        return self._encode_value_lists(columns, len(records))

    def _encode_row_columns(self, rows: list[list[Any]]) -> np.ndarray | None:
        columns = [[row[i] for row in rows] for i in range(self._count)]
        return self._encode_value_lists(columns, len(rows))

    def _encode_value_lists(self, columns: list[list[Any]], n: int) -> np.ndarray | None:
        out = np.empty((n, self.width), dtype=np.float64)
        for (_, kind, lut, j), values in zip(self._plan, columns, strict=True):
            kinds = set(map(type, values))
            if kind == CAT:
                if kinds != _STRINGS:
                    return None
                if isinstance(lut, dict):
                    try:
                        codes = [lut[v] for v in values]
                    except KeyError:
                        return None
                else:
                    codes = [lut.get(v) for v in values]
                    if None in codes:
                        return None
                if j >= 0:
                    out[:, j] = codes
                continue
            if not kinds <= _NUMBERS:
                return None  # bools, strings, nulls: the canonical path names them
            array = np.array(values, dtype=np.float64)
            magnitude = np.abs(array)
            if kind == INT or int in kinds:
                # Integers must be exact in float64; integer columns must hold whole numbers.
                if magnitude.max() >= _INT_LIMIT:
                    return None
                if kind == INT and float in kinds and not np.array_equal(array, np.floor(array)):
                    return None
            elif magnitude.max() > FLOAT_BOUND:
                return None
            if j >= 0:
                out[:, j] = array
        return out

    def _encode_rows(self, names: list[str], rows: list[list[Any]]) -> np.ndarray | None:
        if len(names) != self._count or set(names) != self._names:
            return None
        position = {name: i for i, name in enumerate(names)}
        order = [(position[name], kind, lut, j) for name, kind, lut, j in self._plan]
        width = self.width
        out = [0.0] * (len(rows) * width)
        base = 0
        for row in rows:
            for i, kind, lut, j in order:
                value = row[i]
                if kind == CAT:
                    code = lut.get(value) if type(value) is str else None
                    if code is None:
                        return None
                    if j >= 0:
                        out[base + j] = code
                    continue
                t = type(value)
                if t is int:
                    if not -_INT_LIMIT < value < _INT_LIMIT:
                        return None
                elif t is not float or not (
                    (value.is_integer() and -_INT_LIMIT < value < _INT_LIMIT)
                    if kind == INT
                    else -FLOAT_BOUND <= value <= FLOAT_BOUND
                ):
                    return None
                if j >= 0:
                    out[base + j] = value
            base += width
        return np.array(out, dtype=np.float64).reshape(len(rows), width)

    def _encode_columns(self, columns: dict[str, Any], n: int) -> np.ndarray | None:
        if len(columns) != self._count or set(columns) != self._names:
            return None
        out = np.empty((n, self.width), dtype=np.float64)
        for name, kind, lut, j in self._plan:
            values = columns[name]
            if kind == CAT:
                items = values.tolist() if isinstance(values, np.ndarray) else values
                codes = [lut.get(v) if type(v) is str else None for v in items]
                if None in codes:
                    return None
                if j >= 0:
                    out[:, j] = codes
                continue
            array = _numbers(values, kind)
            if array is None:
                return None
            if j >= 0:
                out[:, j] = array
        return out

    def positions(self) -> dict[str, int]:
        """Numeric signature column -> its column in the model matrix (used columns only)."""
        return {name: j for name, kind, _, j in self._plan if kind != CAT and j >= 0}

    # -- persistence ----------------------------------------------------------
    def save(self, directory: Path, details: dict[str, Any]) -> None:
        """Write ``plan.json`` and ``model.txt`` (LightGBM's text model) into ``directory``."""
        entries = []
        for name, kind, lut, j in self._plan:
            entry: dict[str, Any] = {"name": name, "kind": _KIND_NAMES[kind], "out": j}
            if isinstance(lut, _AnyString):
                entry.update({"codes": lut.codes, "default": lut.default, "any_string": True})
            elif lut is not None:
                entry.update({"codes": dict(lut), "any_string": False})
            entries.append(entry)
        plan = {
            "format": COMPILED_FORMAT,
            "task": self._task,
            "classes": self._n_classes,
            "width": self.width,
            "num_iteration": self._num_iteration,
            "parameters": self._parameters,
            "columns": entries,
            **details,
        }
        (directory / "plan.json").write_text(json.dumps(plan, indent=1, sort_keys=True))
        (directory / "model.txt").write_text(self._model_text, encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> tuple[FastScorer, dict[str, Any]]:
        """(scorer, plan) from a directory written by :meth:`save`."""
        try:
            plan = json.loads((directory / "plan.json").read_text(encoding="utf-8"))
            model_text = (directory / "model.txt").read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"unreadable compiled form at {directory}: {exc}") from exc
        if plan.get("format") != COMPILED_FORMAT:
            raise InvalidInput(f"compiled form of format {plan.get('format')!r} is not readable")
        kinds = {v: k for k, v in _KIND_NAMES.items()}
        entries: list[tuple[str, int, Any, int]] = []
        for item in plan["columns"]:
            kind = kinds[item["kind"]]
            lut: Any = None
            if kind == CAT:
                codes = {str(k): float(v) for k, v in item["codes"].items()}
                lut = _AnyString(codes, item.get("default")) if item.get("any_string") else codes
            entries.append((item["name"], kind, lut, int(item["out"])))
        scorer = cls(
            model_text,
            entries,
            int(plan["width"]),
            plan["task"],
            int(plan["classes"]),
            num_iteration=int(plan["num_iteration"]),
            parameters=plan["parameters"],
        )
        return scorer, plan

    def decode(self, matrix: np.ndarray) -> dict[str, np.ndarray | Coded]:
        """Input columns recovered exactly from an encoded matrix (for the prediction log).

        Numbers come back as they were sent (integers as int64); a categorical comes back
        only when its codes map one-to-one to values. Columns that cannot be recovered
        (validated but unused by the model, or several values sharing the unknown code)
        are left out; the caller reads those from the request.
        """
        columns: dict[str, np.ndarray | Coded] = {}
        for name, kind, _, j in self._plan:
            if j < 0:
                continue
            values = matrix[:, j]
            if kind == FLOAT:
                columns[name] = values
            elif kind == INT:
                columns[name] = values.astype(np.int64)
            else:
                table = self._decoders.get(name)
                if table is not None:
                    columns[name] = Coded(values.astype(np.int64) + 1, table)
        return columns

    # -- scoring ------------------------------------------------------------
    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Class probabilities (n, classes) for a classifier, values (n,) for a regressor."""
        raw = self._booster.predict(matrix)
        if self._binary:
            # LGBMClassifier.predict_proba stacks (1 - p, p) the same way.
            return np.vstack((1.0 - raw, raw)).transpose()
        return raw


def _generated_encoder(
    plan: list[tuple[str, int, Any, int]], width: int, *, rows: bool
) -> Callable[[list[Any]], list[float] | None]:
    """A function specialised to this plan that encodes records (or rows in plan order).

    One straight block of checks per column (a category found in its lookup table;
    a number of the right kind, finite and within bounds) instead of a loop over
    the plan: about twice as fast. Column names enter
    the source only as ``repr`` literals; lookups tables are passed in as arguments.
    """
    lines = [
        "def encode(items, _len=len, _type=type, _int=int, _float=float, _str=str):",
        f"    out = [0.0] * (_len(items) * {width})",
        "    base = 0",
        "    try:",
        "        for item in items:",
    ]
    if not rows:
        lines.append(f"            if _len(item) != {len(plan)}: return None")
    namespace: dict[str, Any] = {"L": _INT_LIMIT, "F": FLOAT_BOUND}
    for index, (name, kind, lut, j) in enumerate(plan):
        key = str(index) if rows else repr(name)
        lines.append(f"            v = item[{key}]")
        store = f"            out[base + {j}] = v" if j >= 0 else None
        if kind == CAT:
            namespace[f"lut{index}"] = lut
            lines += [
                "            if _type(v) is not _str: return None",
                f"            c = lut{index}.get(v)",
                "            if c is None: return None",
            ]
            if j >= 0:
                lines.append(f"            out[base + {j}] = c")
            continue
        lines.append("            t = _type(v)")
        if kind == INT:
            lines += [
                "            if t is _int:",
                "                if not (-L < v < L): return None",
                "            elif t is not _float or not (v.is_integer() and -L < v < L):",
                "                return None",
            ]
        else:
            lines += [
                "            if t is _float:",
                "                if not (-F <= v <= F): return None",
                "            elif t is not _int or not (-L < v < L): return None",
            ]
        if store is not None:
            lines.append(store)
    lines += [
        f"            base += {width}",
        "    except (KeyError, IndexError):",
        "        return None",
        "    return out",
    ]
    code = compile(
        "\n".join(lines), f"<modelyard fast encoder {'rows' if rows else 'records'}>", "exec"
    )
    exec(code, namespace)  # the source is built above from the plan alone
    return namespace["encode"]


def _decoders(plan: list[tuple[str, int, Any, int]]) -> dict[str, list[str | None]]:
    """code + 1 -> value tables for categoricals whose codes are one-to-one."""
    decoders = {}
    for name, kind, lut, j in plan:
        if kind != CAT or j < 0 or not isinstance(lut, dict) or not lut:
            continue
        codes = list(lut.values())
        if len(set(codes)) != len(codes) or not all(float(c).is_integer() for c in codes):
            continue
        top = int(max(codes))
        if min(codes) < -1 or top > 100_000:
            continue
        table: list[str | None] = [None] * (top + 2)
        for value, code in lut.items():
            table[int(code) + 1] = value
        decoders[name] = table
    return decoders


def _numbers(values: Any, kind: int) -> np.ndarray | None:
    """A numeric column as float64 if every value certainly passes the signature, else None."""
    if isinstance(values, np.ndarray):
        dtype = values.dtype.kind
        if dtype in ("i", "u"):
            if values.size and np.abs(values).max() >= _INT_LIMIT:
                return None
            return values.astype(np.float64)
        if dtype != "f":
            return None
        array = values.astype(np.float64)
        if not (np.abs(array) <= FLOAT_BOUND).all():
            return None  # NaN is a null here; huge values and infinities go the canonical way
        if kind == INT and (
            not np.array_equal(array, np.floor(array))
            or (array.size and np.abs(array).max() >= _INT_LIMIT)
        ):
            return None
        return array
    for value in values:
        t = type(value)
        if t is int:
            if not -_INT_LIMIT < value < _INT_LIMIT:
                return None
        elif t is not float or not (
            (value.is_integer() and -_INT_LIMIT < value < _INT_LIMIT)
            if kind == INT
            else -FLOAT_BOUND <= value <= FLOAT_BOUND
        ):
            return None
    return np.array(values, dtype=np.float64)


# ---------------------------------------------------------------- compilation


def compile_fast_scorer(
    native: Any,
    signature: Signature | None,
    classes: list[Any] | None,
    task: str,
    domain: Mapping[str, frozenset[str] | None] | None = None,
    rules: Mapping[str, Any] | None = None,
) -> tuple[Any, str]:
    """(scorer, reason): the fastest exact scorer for the model, else None and why not.

    This module's LightGBM plan first (it also decodes inputs for the prediction log),
    then the general pipeline compiler of :mod:`modelyard.compiled`.

    Args:
        domain: Per string column, the values seen in training (None: any): the
            LightGBM plan's category tables hold only these.
        rules: The version's per-column training domain (``InputContract.rules``):
            a compiled scorer leaves for the canonical path on any value outside it
            (unseen category, null training never had, number outside its range),
            so that value is flagged as the contract says.
    """
    fast, reason = _compile_lightgbm(native, signature, classes, task, domain)
    if fast is not None:
        return fast, reason
    from modelyard.compiled import compile_pipeline

    return compile_pipeline(native, signature, task, classes, rules=rules)


def _compile_lightgbm(
    native: Any,
    signature: Signature | None,
    classes: list[Any] | None,
    task: str,
    domain: Mapping[str, frozenset[str] | None] | None = None,
) -> tuple[FastScorer | None, str]:
    """(scorer, reason): a FastScorer for a supported model, else None and why not.

    Args:
        domain: Per string column, the values seen in training (None: any); the
            category tables hold only these. By default the signature's categories.
    """
    if signature is None:
        return None, "the version has no signature"
    steps = _steps(native)
    if steps is None:
        return None, f"{type(native).__name__} is not a pipeline this fast path knows"
    *pre, final = steps
    booster = getattr(final, "booster_", None) if _is_lightgbm(final) else None
    if booster is None:
        return None, f"the final step {type(final).__name__} is not a fitted LightGBM model"
    if len(pre) > 1:
        return None, "more than one transformer before the model"
    if task == "classification" and (
        classes is None or len(classes) != getattr(final, "n_classes_", -1)
    ):
        return None, "the classes of the version and of the model differ"
    layout = _column_layout(pre[0] if pre else None, final, signature, domain or {})
    if isinstance(layout, str):
        return None, layout
    plan, width = layout
    if width != booster.num_feature():
        return None, f"the encoder gives {width} columns, the model takes {booster.num_feature()}"
    params = " ".join(f"{k}={v}" for k, v in {"num_threads": 1, **predict_params(final)}.items())
    n_classes = len(classes) if classes is not None else 0
    scorer = FastScorer(
        booster.model_to_string(num_iteration=-1),
        plan,
        width,
        task,
        n_classes,
        num_iteration=int(booster.best_iteration or 0),
        parameters=params,
    )
    return scorer, "compiled"


def _steps(native: Any) -> list[Any] | None:
    from sklearn.pipeline import Pipeline

    if isinstance(native, Pipeline):
        steps = [step for _, step in native.steps if step is not None and step != "passthrough"]
        return steps or None
    return [native]


def _is_lightgbm(model: Any) -> bool:
    cls = type(model)
    return cls.__module__.startswith("lightgbm") and cls.__name__ in (
        "LGBMClassifier",
        "LGBMRegressor",
    )


def _column_kind(signature: Signature, name: str) -> int | None:
    spec = next((s for s in signature.inputs if s.name == name), None)
    if spec is None:
        return None
    return {"float": FLOAT, "integer": INT}.get(spec.type)


def _allowed(spec: Any, domain: Mapping[str, frozenset[str] | None]) -> list[str] | None:
    """The values a category table may hold: the domain's, else the signature's."""
    if spec.name in domain:
        values = domain[spec.name]
        if values is None:
            return None
        if spec.type == "category" and spec.categories is not None:
            return [v for v in spec.categories if v in values]
        return sorted(values)
    return list(spec.categories) if spec.categories is not None else None


def _column_layout(
    transformer: Any, model: Any, signature: Signature, domain: Mapping[str, Any]
) -> tuple[list[tuple[str, int, Any, int]], int] | str:
    """(plan, width) mapping every signature column to a model-matrix column (or -1)."""
    specs = {s.name: s for s in signature.inputs}
    targets: dict[str, tuple[int, Any, int]] = {}
    if transformer is None:
        names = list(getattr(model, "feature_names_in_", signature.input_names))
        for j, name in enumerate(names):
            kind = _column_kind(signature, str(name))
            if kind is None:
                return f"model column {name!r} is not a numeric signature column"
            targets[str(name)] = (kind, None, j)
        width = len(names)
    else:
        found = _transformer_layout(transformer, signature, domain)
        if isinstance(found, str):
            return found
        targets, width = found
    plan = []
    for name, spec in specs.items():
        if name in targets:
            kind, lut, j = targets[name]
        elif spec.type in ("float", "integer"):
            kind, lut, j = (FLOAT if spec.type == "float" else INT), None, -1
        elif spec.type in ("string", "category"):
            allowed = _allowed(spec, domain)
            lut = dict.fromkeys(allowed, 0.0) if allowed is not None else _AnyString({}, 0.0)
            kind, j = CAT, -1
        else:
            return f"signature column {name!r} of type {spec.type} has no fast path"
        plan.append((name, kind, lut, j))
    missing = sorted(set(targets) - set(specs))
    if missing:
        return f"the model reads columns {missing} that the signature does not have"
    return plan, width


def _transformer_layout(
    ct: Any, signature: Signature, domain: Mapping[str, Any]
) -> tuple[dict[str, tuple[int, Any, int]], int] | str:
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder

    if not isinstance(ct, ColumnTransformer) or not hasattr(ct, "transformers_"):
        return f"{type(ct).__name__} is not a fitted ColumnTransformer"
    if getattr(ct, "sparse_output_", False):
        return "the ColumnTransformer gives sparse output"
    inputs = list(getattr(ct, "feature_names_in_", []))
    if not inputs:
        return "the ColumnTransformer was not fitted on a DataFrame"
    specs = {s.name: s for s in signature.inputs}
    targets: dict[str, tuple[int, Any, int]] = {}
    width = 0
    for name, trans, columns in ct.transformers_:
        names = _column_names(columns, inputs)
        if names is None:
            return f"transformer {name!r} selects columns in a way this fast path cannot read"
        if trans == "drop" or not names:
            continue
        out = ct.output_indices_[name]
        width = max(width, out.stop)
        passthrough = trans == "passthrough" or (
            isinstance(trans, FunctionTransformer)
            and trans.func is None
            and trans.inverse_func is None
        )
        if passthrough:
            for k, column in enumerate(names):
                kind = _column_kind(signature, column)
                if kind is None:
                    return f"passthrough column {column!r} is not numeric in the signature"
                targets[column] = (kind, None, out.start + k)
        elif isinstance(trans, OrdinalEncoder):
            found = _ordinal_luts(trans, names, specs, domain)
            if isinstance(found, str):
                return found
            for k, (column, lut) in enumerate(zip(names, found, strict=True)):
                targets[column] = (CAT, lut, out.start + k)
        else:
            return f"transformer {name!r} ({type(trans).__name__}) has no fast path"
    return targets, width


def _column_names(columns: Any, inputs: list[str]) -> list[str] | None:
    if isinstance(columns, str):
        return [columns]
    if isinstance(columns, slice):
        return [str(c) for c in inputs[columns]]
    items = list(np.asarray(columns).ravel()) if not isinstance(columns, list) else columns
    if all(isinstance(c, str) for c in items):
        return [str(c) for c in items]
    if all(isinstance(c, int | np.integer) and not isinstance(c, bool) for c in items):
        return [str(inputs[int(c)]) for c in items]
    if all(isinstance(c, bool | np.bool_) for c in items) and len(items) == len(inputs):
        return [str(n) for n, keep in zip(inputs, items, strict=True) if keep]
    return None


def _ordinal_luts(
    encoder: Any, names: list[str], specs: dict[str, Any], domain: Mapping[str, Any]
) -> list[Any] | str:
    if getattr(encoder, "_infrequent_enabled", False):
        return "the OrdinalEncoder groups infrequent categories"
    unknown: float | None = None
    if encoder.handle_unknown == "use_encoded_value":
        unknown = float(encoder.unknown_value)
    luts = []
    for column, categories in zip(names, encoder.categories_, strict=True):
        spec = specs.get(column)
        if spec is None or spec.type not in ("string", "category"):
            return f"encoded column {column!r} is not a string column in the signature"
        known = {}
        for code, value in enumerate(categories.tolist()):
            if isinstance(value, str):
                known[value] = float(code)
            elif not (isinstance(value, float) and value != value):
                return f"encoded column {column!r} has non-string categories"
        allowed = _allowed(spec, domain)
        if allowed is None:
            luts.append(_AnyString(known, unknown))
            continue
        lut = {}
        for value in allowed:
            code = known.get(value, unknown)
            if code is not None:  # with handle_unknown='error' the canonical path raises
                lut[value] = code
        luts.append(lut)
    return luts
