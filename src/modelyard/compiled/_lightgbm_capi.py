"""LightGBM's C API through ctypes: load a model string, predict a float64 matrix.

This is the call ``lightgbm.Booster.predict`` makes (``LGBM_BoosterPredictForMat``,
row-major float64, normal prediction, ``num_threads=1``) without importing the
``lightgbm`` Python package, which imports pandas, scikit-learn, SciPy and
pyarrow (about 1 s and 80 MB). The shared library is found next to the
package (``lightgbm/lib/lib_lightgbm.so``) with ``importlib.util.find_spec``,
which locates the package without running it.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.errors import BackendUnavailable, InvalidInput

__all__ = ["CBooster", "predict_params"]

_DTYPE_FLOAT64 = 1
_ROW_MAJOR = 1
_PREDICT_NORMAL = 0

# LightGBM predict-time parameters that change answers; anything else set at training is inert.
_PREDICT_PARAMS = (
    "pred_early_stop",
    "pred_early_stop_freq",
    "pred_early_stop_margin",
    "predict_disable_shape_check",
)

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def _library() -> ctypes.CDLL:
    global _lib
    with _lock:
        if _lib is None:
            spec = importlib.util.find_spec("lightgbm")
            if spec is None or not spec.submodule_search_locations:
                raise BackendUnavailable("LightGBM is not installed; pip install lightgbm")
            name = {"win32": "lib_lightgbm.dll", "darwin": "lib_lightgbm.dylib"}.get(
                sys.platform, "lib_lightgbm.so"
            )
            candidates = [
                Path(location) / sub / name
                for location in spec.submodule_search_locations
                for sub in ("lib", ".", "bin")
            ]
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                raise BackendUnavailable(f"cannot find {name} inside the lightgbm package")
            lib = ctypes.cdll.LoadLibrary(str(found))
            lib.LGBM_GetLastError.restype = ctypes.c_char_p
            _lib = lib
        return _lib


def _check(code: int) -> None:
    if code != 0:
        message = _library().LGBM_GetLastError().decode("utf-8", "replace")
        raise InvalidInput(f"LightGBM failed: {message}")


class CBooster:
    """A LightGBM model loaded from its text form, for prediction only."""

    def __init__(self, model_text: str, *, num_iteration: int = 0, parameters: str = "") -> None:
        lib = _library()
        self._lib = lib
        self._handle = ctypes.c_void_p()
        iterations = ctypes.c_int(0)
        _check(
            lib.LGBM_BoosterLoadModelFromString(
                ctypes.c_char_p(model_text.encode("utf-8")),
                ctypes.byref(iterations),
                ctypes.byref(self._handle),
            )
        )
        classes, features = ctypes.c_int(0), ctypes.c_int(0)
        _check(lib.LGBM_BoosterGetNumClasses(self._handle, ctypes.byref(classes)))
        _check(lib.LGBM_BoosterGetNumFeature(self._handle, ctypes.byref(features)))
        self.num_class = classes.value
        self.num_feature = features.value
        self.num_iteration = num_iteration
        self._parameters = ctypes.c_char_p(parameters.encode("utf-8"))

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Predictions for a (rows, features) matrix: (rows,) or (rows, classes)."""
        data = np.ascontiguousarray(matrix, dtype=np.float64)
        rows, columns = data.shape
        out = np.empty(rows * self.num_class, dtype=np.float64)
        written = ctypes.c_int64(0)
        _check(
            self._lib.LGBM_BoosterPredictForMat(
                self._handle,
                data.ctypes.data_as(ctypes.c_void_p),
                ctypes.c_int(_DTYPE_FLOAT64),
                ctypes.c_int32(rows),
                ctypes.c_int32(columns),
                ctypes.c_int(_ROW_MAJOR),
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),
                ctypes.c_int(self.num_iteration),
                self._parameters,
                ctypes.byref(written),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            )
        )
        if written.value != out.size:
            raise InvalidInput(f"LightGBM wrote {written.value} predictions, expected {out.size}")
        return out if self.num_class == 1 else out.reshape(rows, self.num_class)

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            self._lib.LGBM_BoosterFree(handle)
            self._handle = None


def predict_params(model: Any) -> dict[str, Any]:
    """The predict-time parameters set on a fitted LightGBM scikit-learn model."""
    params = model.get_params()
    extra = params.get("kwargs") or {}
    merged = {**params, **extra}
    return {k: merged[k] for k in _PREDICT_PARAMS if merged.get(k) is not None}
