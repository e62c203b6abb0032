"""The Spark engine: ``mapInPandas`` of the same scoring function on any Spark master.

The job's parts are the rows of a small DataFrame, one part per Spark
partition. ``mapInPandas`` runs on the executors: each task reads its part
with the same reader as the local engine, scores it with ``score_batch``,
writes the part's files and marker, and yields one row of counts. Executors
read and write the input and output through fsspec, so ``gs://`` and
``s3://`` work wherever ``modelyard[gcs]`` / ``modelyard[s3]`` are installed
on the executors (on Dataproc: an initialization action or a custom image).

The model directory is shipped once per executor with
``SparkContext.addFile``; each Python worker verifies the files' digests and
loads the model once. Before the parts are scheduled, a stage of one tiny task
per core loads it in the Python workers (``mapInPandas``, the runner the parts
use, whose workers Spark then reuses): the load (and the tree kernel's
compilation, when each core's share of the job repays it) happens before the
first part, as the local and Dask engines load theirs before scoring, and a
model that fails its checks fails the job before any part is written. A
Python worker the warm-up did not reach loads the model on its first task.

The session: an active one is used as is (and left running); otherwise one
is built for ``master`` — from the call or the settings (``spark_master`` in
modelyard.toml, or ``MODELYARD_SPARK_MASTER``) — defaulting to ``local[2]``, and stopped at the end.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.batch.bundle import ModelBundle, load_cached, loads_in_process
from modelyard.batch.engines import EngineStats
from modelyard.batch.job import PartResult
from modelyard.batch.parts import WorkSpec, rows_of, run_part
from modelyard.batch.progress import Progress
from modelyard.errors import BackendUnavailable

__all__ = ["SparkEngine", "python_workers_reused", "spark_session", "warm_workers", "worker_model"]

DEFAULT_MASTER = "local[2]"
_STATS_SCHEMA = (
    "index long, rows_in long, rows_out long, rows_rejected long, seconds double, "
    "output string, rejects string, peak_rss_mb double, cpu_seconds double, checks string, "
    "model_loads long"
)
_POLL_S = 1.0


# A local master runs the whole job in one short-lived JVM on the job's own cores: its
# start-up (class loading, JIT compilation, the collector's threads) costs more CPU than
# the scoring (measured on 1M rows read by Spark: ~32 JVM CPU-seconds against ~5 in the
# Python workers). The C1 compiler alone and the serial collector cut the whole run's CPU
# by about a sixth on 1M rows (49 -> 41 us a row) and 2-5% on 2M (the start-up, not
# the per-row work, is what they save: session start 23-24 s -> 12-16 s at load 5-10).
# Not applied to cluster masters (long-lived executors), nor when the caller sets the key.
LOCAL_DEFAULTS = {
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
}


def session_settings(master: str, config: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings a session for ``master`` is built with: ``config`` over the local defaults."""
    settings = dict(LOCAL_DEFAULTS) if master.startswith("local") else {}
    settings.update(config or {})
    return settings


def spark_session(
    master: str | None = None,
    app_name: str = "modelyard-batch",
    config: Mapping[str, str] | None = None,
) -> Any:
    """A Spark session for ``master`` (``local[2]`` by default), quiet and Arrow-enabled.

    ``config`` adds Spark settings, e.g. ``spark.jars`` for a JDBC driver or a
    connector, or ``spark.sql.warehouse.dir`` for managed tables.
    """
    from pyspark.sql import SparkSession

    master = master or DEFAULT_MASTER
    if master.startswith("local"):
        # Local executors run this interpreter (with Modelyard) and bind to loopback.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        builder = (
            SparkSession.builder.master(master)
            .appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.python.worker.reuse", "true")
        )
        for key, value in session_settings(master, config).items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    except Exception as exc:  # Py4J and the JVM raise their own types
        raise BackendUnavailable(f"Could not start Spark with master {master!r}: {exc}") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def _active_session() -> Any:
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession()


class SparkEngine:
    name = "spark"

    def __init__(self, master: str | None = None, session: Any = None) -> None:
        self.master = master
        self.session = session

    def run(
        self,
        work: WorkSpec,
        bundle: ModelBundle,
        todo: list[int],
        on_done: Callable[[PartResult], None],
        progress: Progress,
    ) -> EngineStats:
        stats = EngineStats()
        if not todo:
            return stats
        started = time.perf_counter()
        session = self.session or _active_session()
        owned = session is None
        if owned:
            session = spark_session(self.master)
        context = session.sparkContext
        stats.workers = int(context.defaultParallelism)
        reused = python_workers_reused(session)
        if reused:
            bundle = bundle.for_job(rows_of(work, todo), stats.workers)
        else:  # each part starts a fresh Python worker: its share is one part
            parts_rows = [work.parts[i].rows for i in todo]
            bundle = bundle.for_job(None if None in parts_rows else max(parts_rows), 1)
        try:
            # Shipped once per executor; each Python worker finds them under SparkFiles.
            context.addFile(bundle.model_dir, recursive=True)
            if bundle.compiled_dir is not None:
                context.addFile(bundle.compiled_dir, recursive=True)
            model_dir = Path(bundle.model_dir).name
            compiled_dir = Path(bundle.compiled_dir).name if bundle.compiled_dir else None
            if reused:  # a warmed worker that exits after its task would be wasted
                stats.extra["worker_load_seconds"] = warm_workers(
                    session, bundle, stats.workers, model_dir, compiled_dir
                )
            stats.load_seconds = time.perf_counter() - started
            score = _partition_scorer(work, bundle, model_dir, compiled_dir)
            parts = session.createDataFrame(
                context.parallelize([(i,) for i in todo], numSlices=len(todo)), "part long"
            )
            reported: set[int] = set()
            lock = threading.Lock()

            def report(result: PartResult) -> None:
                with lock:
                    if result.index in reported:
                        return
                    reported.add(result.index)
                progress.advance(result.rows_in)
                on_done(result)

            # Executors write each part's marker as it completes: follow them for
            # progress (and for the manifest), then take the final counts from Spark.
            poller = _MarkerPoller(work, set(todo), report)
            poller.start()
            try:
                rows = parts.mapInPandas(score, schema=_STATS_SCHEMA).collect()
            finally:
                poller.stop()
            for row in rows:
                report(PartResult.from_dict(row.asDict()))
            # Loads in the parts' tasks: 0 when they ran in the workers the warm-up loaded.
            stats.extra["model_loads_while_scoring"] = sum(int(r["model_loads"]) for r in rows)
        except BackendUnavailable:
            raise
        except Exception as exc:
            cause = modelyard_cause(exc)
            if cause is not None:
                raise cause from exc
            raise BackendUnavailable(f"the Spark job failed: {first_line(exc)}") from exc
        finally:
            if owned:
                session.stop()
        stats.score_seconds = time.perf_counter() - started - stats.load_seconds
        return stats


def python_workers_reused(session: Any) -> bool:
    """Whether a Python worker outlives its task (Spark's default): only then does a model
    loaded before the first task (:func:`warm_workers`) serve the tasks that follow."""
    conf = session.sparkContext.getConf()
    return conf.get("spark.python.worker.reuse", "true").lower() != "false"


def worker_model(bundle: ModelBundle, model_name: str, compiled_name: str | None) -> Any:
    """In a Python worker: the model from the files ``addFile`` shipped, verified and
    loaded once per worker."""
    from pyspark import SparkFiles

    local = bundle.at(
        SparkFiles.get(model_name), SparkFiles.get(compiled_name) if compiled_name else None
    )
    return load_cached(local)


def warm_workers(
    session: Any, bundle: ModelBundle, cores: int, model_name: str, compiled_name: str | None
) -> list[float]:
    """Load the model in up to ``cores`` Python workers at once, before any part is scored;
    the seconds each took (0 for one that kept it from an earlier job)."""
    cores = max(1, cores)

    def load(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for _ in batches:
            pass
        started = time.perf_counter()
        worker_model(bundle, model_name, compiled_name)
        yield pd.DataFrame({"seconds": [round(time.perf_counter() - started, 3)]})

    slots = session.createDataFrame(
        session.sparkContext.parallelize([(i,) for i in range(cores)], numSlices=cores),
        "slot long",
    )
    return [float(row["seconds"]) for row in slots.mapInPandas(load, "seconds double").collect()]


def _partition_scorer(
    work: WorkSpec, bundle: ModelBundle, model_name: str, compiled_name: str | None
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        before = loads_in_process()
        model = worker_model(bundle, model_name, compiled_name)
        loads = loads_in_process() - before  # 0 in a worker the warm-up stage loaded
        for frame in batches:
            for index in frame["part"].tolist():
                result = run_part(model, work, int(index), use_threads=False)
                yield pd.DataFrame([{**result.to_dict(), "model_loads": loads}])
                loads = 0  # counted with the task's first part

    return score


class _MarkerPoller:
    """Reports parts whose completion markers appear in the output (a background thread)."""

    def __init__(self, work: WorkSpec, todo: set[int], report: Callable[[PartResult], None]):
        self._work = work
        self._todo = todo
        self._report = report
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="modelyard-spark-markers")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(_POLL_S):
            try:
                markers = self._work.output.read_markers()
            except Exception:  # progress is best effort; the final counts come from Spark
                continue
            for data in markers:
                if int(data.get("index", -1)) in self._todo:
                    self._report(PartResult.from_dict(data))


def modelyard_cause(exc: BaseException) -> Exception | None:
    """A Modelyard error raised on an executor, rebuilt from Spark's wrapped message."""
    from modelyard import errors

    text = str(exc)
    for name in ("InvalidInput", "IntegrityError", "NotFound", "Conflict", "BackendUnavailable"):
        marker = f"modelyard.errors.{name}: "
        if marker in text:
            message = text.split(marker, 1)[1].splitlines()[0]
            return getattr(errors, name)(message)
    return None


def first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0][:500] if lines else type(exc).__name__
