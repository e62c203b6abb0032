"""XGBoost's ``XGBoosterPredictFromDense`` through ctypes, for one float64 matrix at a time.

``Booster.inplace_predict`` makes exactly this C call, but first builds its JSON
arguments with ``json.dumps``, tests the input against a dozen frame types
(pandas, Arrow, polars, cuDF, ...), builds the matrix's ``__array_interface__``
JSON and, after the call, wraps the output through two more array interfaces.
For a one-row request that is most of the time spent. Here the arguments are
encoded once, the array interface is one bytes format, and the output is one
copy: the same C function on the same float64 values with the same
configuration, so the answers are the same bits (float32, as XGBoost gives them).

Passed no proxy matrix, the C function makes a new one per call, and with it a
new ``Context`` — which parses the device name with ``std::regex`` and reads the
cgroup CPU quota files (about half the time of a one-row call, measured with
``perf`` and ``strace``). A proxy per thread, made once, is what the C API takes
for that (``XGProxyDMatrixCreate``); the prediction is the same.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import numpy as np

__all__ = ["DensePredictor"]

_INTERFACE = b'{"data": [%d, false], "strides": null, "descr": [["", "<f8"]], "typestr": "<f8", "shape": [%d, %d], "version": 3}'  # noqa: E501


class DensePredictor:
    """Value predictions of a Booster for C-contiguous float64 matrices.

    Args:
        booster: The Booster (kept referenced: its handle is used directly).
        missing: The value read as missing (the model's ``missing``).
        iteration_range: ``(begin, end)`` as the scikit-learn wrapper computes it.
    """

    def __init__(self, booster: Any, *, missing: float, iteration_range: tuple[int, int]) -> None:
        from xgboost import core

        self._booster = booster
        self._handle = booster.handle
        self._call = core._LIB.XGBoosterPredictFromDense
        self._check = core._check_call
        self._config = core.make_jcargs(
            type=0,
            training=False,
            iteration_begin=int(iteration_range[0]),
            iteration_end=int(iteration_range[1]),
            missing=missing,
            strict_shape=False,
            cache_id=0,
        )
        self._free = core._LIB.XGDMatrixFree
        self._create = core._LIB.XGProxyDMatrixCreate
        self._local = threading.local()
        self._proxies: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()

    def _proxy(self) -> ctypes.c_void_p:
        """This thread's proxy matrix (the C function sets its array on every call)."""
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            proxy = ctypes.c_void_p()
            self._check(self._create(ctypes.byref(proxy)))
            with self._lock:
                self._proxies.append(proxy)
            self._local.proxy = proxy
        return proxy

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """float32 predictions shaped as ``inplace_predict`` shapes them: (rows,) or (rows, k)."""
        data = matrix
        if data.dtype != np.float64 or not data.flags.c_contiguous:
            data = np.ascontiguousarray(data, dtype=np.float64)
        rows, columns = data.shape
        shape = ctypes.POINTER(ctypes.c_uint64)()
        dims = ctypes.c_uint64()
        preds = ctypes.POINTER(ctypes.c_float)()
        self._check(
            self._call(
                self._handle,
                _INTERFACE % (data.ctypes.data, rows, columns),
                self._config,
                self._proxy(),
                ctypes.byref(shape),
                ctypes.byref(dims),
                ctypes.byref(preds),
            )
        )
        out_shape = tuple(shape[i] for i in range(dims.value))
        out = np.empty(out_shape, dtype=np.float32)
        if out.size:
            ctypes.memmove(out.ctypes.data, preds, out.size * 4)
        return out

    def __del__(self) -> None:
        for proxy in getattr(self, "_proxies", ()):
            if proxy.value:
                self._free(proxy)
        self._proxies = []
