"""One native thread per serving worker: OpenMP, BLAS and the frameworks' own pools.

A server already runs one request at a time per worker on its event loop, and
concurrency comes from micro-batching and from more workers. A model that
opens an OpenMP or BLAS pool of one thread per core inside that process fights
the other workers (and everything else on the machine) for the cores: under
contention a HistGradientBoosting pipeline went from hundreds of requests a
second to a handful, its threads spinning on barriers while the event loop
waited. So a serving process limits its native pools to ``native_threads``
(1 by default):

* :func:`limit_native_threads` sets ``OMP_NUM_THREADS`` / ``OPENBLAS_NUM_THREADS``
  / ``MKL_NUM_THREADS`` for pools not yet started, and calls threadpoolctl's
  ``threadpool_limits`` for those already loaded. BLAS limits are process-wide;
  an OpenMP limit holds for the calling thread, so it is applied on every thread
  that scores or loads a model (app creation, the event loop at start-up, the
  upgrade poller).
* :func:`single_threaded` sets ``n_jobs`` (scikit-learn, LightGBM, XGBoost),
  ``num_threads`` (LightGBM) and ``nthread`` (XGBoost) to the same number on a
  loaded model and the estimators inside its pipeline, so that a model trained
  with ``n_jobs=-1`` does not start a joblib or OpenMP pool per request.

The compiled LightGBM path already predicts with ``num_threads=1``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

__all__ = ["limit_native_threads", "native_pools", "single_threaded"]

logger = logging.getLogger("modelyard.serving")

_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_THREAD_PARAMS = ("n_jobs", "num_threads", "nthread", "thread_count")
# Where fitted scikit-learn meta-estimators keep the estimators they call at predict time.
_CHILDREN = ("steps", "transformers_", "transformer_list", "estimator_", "final_estimator_")


def limit_native_threads(threads: int) -> None:
    """Limit OpenMP and BLAS pools to ``threads`` for this process (and this thread's OpenMP)."""
    for name in _ENV:
        os.environ[name] = str(threads)
    from threadpoolctl import threadpool_limits

    # Used as a call, not a context manager: the limit stays for the life of the process.
    threadpool_limits(limits=threads)


def native_pools() -> list[dict[str, Any]]:
    """The native thread pools loaded in this process and their sizes (as threadpoolctl sees
    them from the calling thread)."""
    from threadpoolctl import threadpool_info

    return [
        {"api": p.get("user_api"), "library": p.get("internal_api"), "threads": p["num_threads"]}
        for p in threadpool_info()
    ]


def single_threaded(model: Any, threads: int = 1) -> Any:
    """Set every thread-count parameter of ``model`` and its inner estimators to ``threads``.

    Returns ``model`` (changed in place).
    """
    _visit(model, threads, depth=0)
    return model


def _visit(obj: Any, threads: int, depth: int) -> None:
    if obj is None or depth > 8 or isinstance(obj, str | bytes | int | float):
        return
    if isinstance(obj, list | tuple):
        for item in obj:
            _visit(item, threads, depth + 1)
        return
    get_params = getattr(obj, "get_params", None)
    if callable(get_params):
        try:
            params = get_params(deep=False)
        except Exception:  # an estimator-like object with a get_params of its own kind
            params = {}
        found = {k: threads for k in _THREAD_PARAMS if k in params and params[k] not in (threads,)}
        if found:
            try:
                obj.set_params(**found)
            except Exception as exc:  # a model may refuse: it still runs, with its own threads
                logger.warning(
                    "cannot limit %s to %d thread(s): %s", type(obj).__name__, threads, exc
                )
    for attribute in _CHILDREN:
        child = getattr(obj, attribute, None)
        if child is not None:
            _visit(child, threads, depth + 1)
