"""OnnxPredictor: an ONNX Runtime session behind the same predict / predict_proba calls.

It serves two roles: the loaded form of the ``onnx`` flavor, and the fast
path of a compiled model. Inputs are matched to the graph by name — one ONNX
input per column, as :func:`~modelyard.flavors.onnx.compile_onnx` produces —
or, for a graph with a single tensor input that is not a column, by stacking
the signature's columns in order. Outputs follow the skl2onnx convention:
``label`` and ``probabilities`` for a classifier, ``variable`` for a regressor
(falling back to positions: first is the label, second the probabilities).

The session is single-threaded by default: serving runs one request per
worker, and on a busy small machine extra intra-op threads only add
contention (see BENCHMARKING.md: a 1-row ONNX call costs about 10 µs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.errors import BackendUnavailable, InvalidInput
from modelyard.flavors._enforce import column_array

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors.signature import Signature

CLASSES_KEY = "modelyard.classes"
"""Metadata property where :func:`compile_onnx` records the class labels."""

_NUMPY_TYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}


def import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:  # pragma: no cover - the onnx extra is part of the test env
        raise BackendUnavailable(
            "ONNX Runtime is not installed; install modelyard[onnx] to use ONNX models"
        ) from exc
    return onnxruntime


class OnnxPredictor:
    """Predictions from ONNX bytes with the uniform ``predict`` / ``predict_proba`` calls.

    Args:
        onnx_bytes: A serialised ONNX model.
        signature: Enforced before each call unless ``validate=False``; also
            orders the columns of a single-input graph. None skips enforcement.
        classes: Class labels in probability-column order; read from the
            graph's ``modelyard.classes`` metadata when None.
        threads: ONNX Runtime intra-op threads.
    """

    def __init__(
        self,
        onnx_bytes: bytes,
        signature: Signature | None = None,
        classes: list[Any] | None = None,
        *,
        threads: int = 1,
    ) -> None:
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: warnings go to stderr, not to logging
        try:
            self._session = ort.InferenceSession(
                bytes(onnx_bytes), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ORT raises its own non-exported exception types
            raise InvalidInput(f"not a loadable ONNX model: {exc}") from exc
        self.signature = signature
        self._inputs = [
            (i.name, _NUMPY_TYPES.get(i.type), len(i.shape)) for i in self._session.get_inputs()
        ]
        unsupported = [i.name for i in self._session.get_inputs() if i.type not in _NUMPY_TYPES]
        if unsupported:
            raise InvalidInput(f"ONNX inputs of unsupported types: {unsupported}")
        self._label, self._proba, self._value = _output_roles(self._session.get_outputs())
        self.task = "classification" if self._proba is not None else "regression"
        if classes is None:
            meta = self._session.get_modelmeta().custom_metadata_map
            classes = json.loads(meta[CLASSES_KEY]) if CLASSES_KEY in meta else None
        self.classes = list(classes) if classes is not None else None
        self._stack = self._stacking()

    @property
    def input_names(self) -> list[str]:
        return [name for name, _, _ in self._inputs]

    def predict(self, frame: pd.DataFrame, *, validate: bool = True) -> np.ndarray:
        """Labels for a classifier, values for a regressor."""
        return self.predict_columns(self._columns(frame, validate))

    def predict_proba(self, frame: pd.DataFrame, *, validate: bool = True) -> np.ndarray:
        """Class probabilities, shape (rows, classes), float64."""
        return self.predict_proba_columns(self._columns(frame, validate))

    def predict_columns(self, columns: Mapping[str, Any]) -> np.ndarray:
        """:meth:`predict` from column arrays, without pandas (enforce them first)."""
        if self._label is not None:
            (labels,) = self._run([self._label], columns)
            return np.asarray(labels).ravel()
        (values,) = self._run([self._value], columns)
        return np.asarray(values, dtype=np.float64).ravel()

    def predict_proba_columns(self, columns: Mapping[str, Any]) -> np.ndarray:
        """:meth:`predict_proba` from column arrays: the serving fast path.

        ``columns`` maps each input column to a 1-D array (e.g. the output of
        ``Signature.enforce_columns``); no validation happens here.
        """
        if self._proba is None:
            raise InvalidInput("this ONNX model is a regressor: it has no predict_proba")
        (proba,) = self._run([self._proba], columns)
        if isinstance(proba, list):  # a ZipMap output: one {label: probability} per row
            order = self.classes if self.classes is not None else list(proba[0]) if proba else []
            return np.array([[row[c] for c in order] for row in proba], dtype=np.float64)
        return proba.astype(np.float64)

    def _columns(self, frame: pd.DataFrame, validate: bool) -> Mapping[str, Any]:
        if validate and self.signature is not None:
            frame = self.signature.enforce(frame)
        where = {name: i for i, name in enumerate(frame.columns.tolist())}
        needed = self._stack[2] if self._stack is not None else self.input_names
        # Column arrays straight from the frame: a Series per column would cost ~10 µs each.
        return {name: column_array(frame, where[name]) for name in needed if name in where}

    def _stacking(self) -> tuple[str, Any, list[str]] | None:
        """(input, dtype, columns) when one tensor input takes every column, else None."""
        names = set(self.signature.input_names) if self.signature is not None else None
        if len(self._inputs) != 1 or (names is not None and self._inputs[0][0] in names):
            return None
        name, dtype, _ = self._inputs[0]
        if names is None or dtype is object:
            return None  # no signature: feed by name, and a frame may still match
        return name, dtype, self.signature.input_names  # type: ignore[union-attr]

    def _feeds(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        try:
            if self._stack is not None:
                name, dtype, order = self._stack
                stacked = np.column_stack([np.asarray(columns[c], dtype=dtype) for c in order])
                return {name: stacked}
            feeds = {}
            for name, dtype, rank in self._inputs:
                values = np.asarray(columns[name], dtype=dtype)
                feeds[name] = values.reshape(-1, 1) if rank == 2 and values.ndim == 1 else values
            return feeds
        except KeyError as exc:
            raise InvalidInput(f"missing input column {exc.args[0]!r} for the ONNX model") from exc
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"input cannot be converted for the ONNX model: {exc}") from exc

    def _run(self, outputs: list[str], columns: Mapping[str, Any]) -> list[Any]:
        feeds = self._feeds(columns)
        try:
            return self._session.run(outputs, feeds)
        except Exception as exc:  # ORT's exception types are not importable publicly
            raise InvalidInput(f"the ONNX model failed on this input: {exc}") from exc


def _output_roles(outputs: list[Any]) -> tuple[str | None, str | None, str | None]:
    """(label, probabilities, value) output names; a regressor has only a value."""
    names = [o.name for o in outputs]
    if "label" in names and ("probabilities" in names or "output_probability" in names):
        proba = "probabilities" if "probabilities" in names else "output_probability"
        return "label", proba, None
    if len(outputs) >= 2:
        return outputs[0].name, outputs[1].name, None
    if len(outputs) == 1:
        return None, None, outputs[0].name
    raise InvalidInput("the ONNX model has no outputs")
