"""The local engine: a pool of worker processes, each streaming its parts from storage.

Each worker process loads (and verifies) the model once, in the pool's
initializer, then takes part numbers: it reads its part straight from the
input in record batches, scores and writes it, so no row ever passes through
the parent. The parent keeps at most two parts per worker in flight, records
each completed part in the manifest, and draws the progress bar from the rows
the workers report.

Workers are forked from a clean *forkserver* process (never from the parent,
which holds database connections and threads) that has imported pandas,
Arrow, scikit-learn and LightGBM once, so a pool starts in a fraction of a
second and its workers share those pages. Each worker holds the read end of
a pipe whose only write end is in the job's process: when that process dies
— SIGKILL included — the pipe closes and the workers exit at once instead of
scoring on as orphans (the forkserver then exits too).
LightGBM and ONNX Runtime use one thread per worker, so ``workers`` is the
number of cores the job takes.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from modelyard.batch.bundle import ModelBundle, load_cached
from modelyard.batch.engines import SCORING_LIBRARIES, EngineStats
from modelyard.batch.job import PartResult
from modelyard.batch.parts import WorkSpec, rows_of, run_part, tune_worker_memory
from modelyard.batch.progress import Progress
from modelyard.errors import BackendUnavailable, InvalidInput

__all__ = ["LocalEngine"]

_STATE: dict[str, Any] = {}
_PRELOAD = ["modelyard.batch.engines.local", *SCORING_LIBRARIES]


def _context() -> Any:
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")  # no fork on this platform
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)  # missing modules are skipped
    return context


class LocalEngine:
    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise InvalidInput(f"The 'workers' parameter must be an integer >= 1. Got {workers!r}.")
        self.workers = workers or max(1, os.cpu_count() or 1)

    def run(
        self,
        work: WorkSpec,
        bundle: ModelBundle,
        todo: list[int],
        on_done: Callable[[PartResult], None],
        progress: Progress,
    ) -> EngineStats:
        workers = max(1, min(self.workers, len(todo)))
        stats = EngineStats(workers=workers)
        if not todo:
            return stats
        bundle = bundle.for_job(rows_of(work, todo), workers)
        context = _context()
        events: Any = context.Queue()
        lifeline, keepalive = context.Pipe(duplex=False)
        ready = _ReadyClock(workers)
        drain = threading.Thread(
            target=_drain, args=(events, progress, ready), name="modelyard-batch-progress"
        )
        drain.start()
        started = time.perf_counter()
        try:
            with ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(bundle, work, events, lifeline, workers > 1),
            ) as pool:
                try:
                    self._submit_all(pool, todo, workers, on_done)
                except BaseException:
                    # Ctrl-C or a failed part: closing the lifeline stops every worker now
                    # (the pool then reports itself broken, which is expected here).
                    keepalive.close()
                    raise
        except BrokenProcessPool as exc:
            raise BackendUnavailable(
                f"a batch worker process died ({exc}); finished parts are kept — "
                "run the same command again to resume (lower --workers or --batch-rows "
                "if it ran out of memory)"
            ) from exc
        finally:
            events.put(None)
            drain.join()
            events.close()
            if not keepalive.closed:
                keepalive.close()  # the pool has stopped: its workers are gone already
            lifeline.close()
        ended = time.perf_counter()
        stats.load_seconds = (ready.all_ready or ended) - started
        stats.score_seconds = ended - (ready.all_ready or started)
        stats.extra["worker_load_seconds"] = ready.load_seconds
        return stats

    @staticmethod
    def _submit_all(
        pool: ProcessPoolExecutor,
        todo: list[int],
        workers: int,
        on_done: Callable[[PartResult], None],
    ) -> None:
        waiting = list(reversed(todo))
        running: set[Future[PartResult]] = set()
        while waiting or running:
            # At most two parts per worker in flight: the next part is queued
            # while one scores, and a failure stops little work.
            while waiting and len(running) < 2 * workers:
                running.add(pool.submit(_score_part, waiting.pop()))
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                on_done(future.result())


class _ReadyClock:
    """When every worker has loaded its model (throughput excludes model loading)."""

    def __init__(self, workers: int) -> None:
        self.expected = workers
        self.load_seconds: list[float] = []
        self.all_ready: float | None = None

    def ready(self, seconds: float) -> None:
        self.load_seconds.append(round(seconds, 3))
        if len(self.load_seconds) >= self.expected and self.all_ready is None:
            self.all_ready = time.perf_counter()


def _drain(events: Any, progress: Progress, ready: _ReadyClock) -> None:
    while True:
        try:
            event = events.get()
        except (EOFError, OSError, queue.Empty):
            return
        if event is None:
            return
        kind, value = event
        if kind == "rows":
            progress.advance(value)
        elif kind == "ready":
            ready.ready(value)


# ---------------------------------------------------------------- in the worker


def _init_worker(
    bundle: ModelBundle, work: WorkSpec, events: Any, lifeline: Any, shared_cores: bool
) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the job's to handle, not ours
    _watch_job(lifeline)
    tune_worker_memory()
    started = time.perf_counter()
    _STATE["model"] = load_cached(bundle)
    _STATE["work"] = work
    _STATE["events"] = events
    # With several workers the cores are taken: Arrow's decoding threads would contend.
    _STATE["use_threads"] = not shared_cores
    events.put(("ready", time.perf_counter() - started))


def _watch_job(lifeline: Any) -> None:
    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv()  # nothing is ever sent: this returns only when the pipe closes
        os._exit(70)  # the job's process is gone: stop; the resumed job redoes this part

    threading.Thread(target=watch, name="modelyard-job-watch", daemon=True).start()


def _score_part(index: int) -> PartResult:
    events = _STATE["events"]
    return run_part(
        _STATE["model"],
        _STATE["work"],
        index,
        lambda rows: events.put(("rows", rows)),
        use_threads=_STATE["use_threads"],
    )
