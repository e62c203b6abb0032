"""The tree kernel compiled only once a process has scored enough rows to repay it.

Compiling the numba tree kernel costs 2-3 s of CPU a process (7-12 s on a loaded
2-core machine), and it cannot be cached on disk: numba reads its cache back
with ``pickle``. A server pays it once at load and then scores for days. A
batch job's workers (a local process pool, Dask workers, Spark's Python
workers) each pay it per job, and a job of a few thousand rows would spend more
CPU compiling than scoring. So batch code builds its scorers inside
:func:`kernel_after_rows`: each tree model first scores through its library's
own evaluator (LightGBM's or XGBoost's C API, scikit-learn's trees in numpy —
bit-identical to the kernel, which the tests check), and the kernel is compiled
once the process has scored that many rows, as in the ski-rental rule: switch
when the extra cost so far equals the cost of switching. The first call on the
kernel is checked against the library's answer on the same rows; if they
differ, the library keeps scoring and a warning says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

__all__ = [
    "BATCH_KERNEL_AFTER_ROWS",
    "deferred",
    "deferring",
    "is_deferred",
    "kernel_after_rows",
]

logger = logging.getLogger(__name__)

BATCH_KERNEL_AFTER_ROWS = 300_000
"""Rows a batch process scores through the library before it compiles the kernel: the
kernel saves 5-10 µs a row over the C APIs (docs/benchmarks.md, the evaluator table of
the batch engines), so about this many rows cost what one compilation does (2-3 s)."""

_AFTER_ROWS: ContextVar[int] = ContextVar("modelyard_kernel_after_rows", default=0)
_scored = 0  # rows this process scored through a fallback, every model together
_lock = threading.Lock()

Predict = Callable[[np.ndarray], np.ndarray]


@contextmanager
def kernel_after_rows(rows: int) -> Iterator[None]:
    """Scorers built in this block compile the tree kernel only after ``rows`` rows (0: at once)."""
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    token = _AFTER_ROWS.set(rows)
    try:
        yield
    finally:
        _AFTER_ROWS.reset(token)


def deferring() -> bool:
    """Whether scorers built here start on their library and compile the kernel later."""
    return _AFTER_ROWS.get() > 0


def deferred(kernel: Predict, fallback: Predict, fallback_name: str) -> tuple[Predict, str]:
    """(predict, evaluator): ``kernel`` itself, or a predictor that starts on ``fallback``.

    Which one depends on the :func:`kernel_after_rows` block the scorer is built in.
    """
    after = _AFTER_ROWS.get()
    if after == 0:
        return kernel, "numba tree kernel"
    gate = _Deferred(kernel, fallback, after, fallback_name)
    return gate, f"{_AFTER_PREFIX}{after:,} rows a process ({fallback_name} before)"


_AFTER_PREFIX = "numba tree kernel after "


def is_deferred(evaluator: str | None) -> bool:
    """Whether ``evaluator`` (a scorer's, as :func:`deferred` named it) waits for the
    break-even before it compiles the kernel."""
    return evaluator is not None and evaluator.startswith(_AFTER_PREFIX)


class _Deferred:
    """Scores with ``fallback`` until the process has scored ``after`` rows, then ``kernel``."""

    def __init__(self, kernel: Predict, fallback: Predict, after: int, fallback_name: str) -> None:
        self._kernel, self._fallback = kernel, fallback
        self._after, self._fallback_name = after, fallback_name
        self._use: Predict | None = None  # decided once the threshold is reached

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        use = self._use
        if use is not None:
            return use(matrix)
        global _scored
        with _lock:
            _scored += matrix.shape[0]
            due = _scored >= self._after
        want = self._fallback(matrix)
        if due:
            self._use = self._switch(matrix, want)
        return want

    def _switch(self, matrix: np.ndarray, want: np.ndarray) -> Predict:
        """Compile the kernel (its first call) and keep it only if it gives ``want``."""
        try:
            got = self._kernel(matrix)
        except Exception as exc:  # the library's answer stands; say why the kernel is not used
            logger.warning("tree kernel failed (%s); %s keeps scoring", exc, self._fallback_name)
            return self._fallback
        if got.shape == want.shape and np.array_equal(got, want, equal_nan=True):
            return self._kernel
        logger.warning(
            "tree kernel differs from %s on %d rows; %s keeps scoring",
            self._fallback_name,
            matrix.shape[0],
            self._fallback_name,
        )
        return self._fallback
