"""The Dask engine: a ``dask.dataframe`` of the job's parts, scored partition by partition.

The parts that remain to score become the partitions of a Dask DataFrame
built with ``dd.from_map`` — the constructor ``dd.read_parquet`` itself is
made of — each read with the same Parquet/CSV reader as the local engine
(row-group ranges, row ranges inside large row groups) into **Arrow-backed
pandas** (``pd.ArrowDtype``). Wrapping Arrow columns as ``ArrowDtype`` and
unwrapping them again (``pa.Table.from_pandas``) shares the buffers, so a
partition goes Arrow → pandas → Arrow without a copy; the record batches of
the part are kept as they were read (no concatenation). ``map_partitions``
scores each partition with the same ``score_part`` as every engine, which
writes the part's Parquet file atomically and then its completion marker on
the worker, and returns one row of counts; the driver records parts as they
complete, so a killed job resumes at the parts that have no marker.

Why not ``dd.to_parquet``: it names its files by partition number and leaves
no per-partition commit a resumed job could trust (a killed write leaves a
file that looks whole). Scored rows are written by the worker, file by file,
under a temporary name, then renamed — the same layout the other engines
produce.

The model reaches every worker once, through a worker plugin that carries
the verified bytes, checks their digests on the worker and loads the model
there — once per worker process, whatever the number of partitions. The
plugin also limits the native thread pools (OpenMP, BLAS) to one thread: a
Dask worker is one core, as a local worker is, and an oversubscribed
LightGBM spends its CPU spinning.

The cluster: ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) from
the call or the settings (``dask_scheduler`` in modelyard.toml, or
``MODELYARD_DASK_SCHEDULER``); without one, a ``LocalCluster`` of ``workers``
single-threaded processes, with Dask's statistical profiler off (a cluster
given by address keeps its own configuration). Its worker processes are forked
from a *forkserver* that has imported pandas, Arrow, scikit-learn, LightGBM and
this module once (Dask's default, ``spawn``, starts a fresh interpreter that
imports them all again in every worker: about 2 s of CPU each, which measured as
the largest part of the Dask engine's CPU beyond the local engine's).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from modelyard.batch.bundle import ModelBundle
from modelyard.batch.engines import SCORING_LIBRARIES, EngineStats
from modelyard.batch.job import Part, PartResult
from modelyard.batch.parts import (
    WorkSpec,
    cpu_seconds,
    read_part,
    rows_of,
    score_part,
    tune_worker_memory,
)
from modelyard.batch.progress import Progress
from modelyard.errors import BackendUnavailable

__all__ = ["DaskEngine", "ModelPlugin", "arrow_frame", "frame_batches"]

_STATS_COLUMNS = (
    "index",
    "rows_in",
    "rows_out",
    "rows_rejected",
    "seconds",
    "output",
    "rejects",
    "peak_rss_mb",
    "cpu_seconds",
    "checks",
)
# One thread per native pool in each worker process (set before the libraries start them).
_ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

_QUIET_WORKERS = {
    "distributed.worker.profile.enabled": False,
    "distributed.worker.multiprocessing-method": "forkserver",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
    # The event loop's blocked-loop check, every 20 ms by default: with it, an idle
    # worker of this cluster took 2.4 % of a core (0.47 s of CPU in 20 s, measured);
    # with 1 s, 0.5 %. It only times the loop for a warning on a blocked loop.
    "distributed.admin.tick.interval": "1s",
}


# distributed's own preload (distributed.utils.get_mp_context), then the scoring libraries.
_PRELOAD = [
    "modelyard.batch.engines.dask",
    *("distributed", "dask", "msgpack", "cloudpickle", "tornado", "toolz", "numpy"),
    *SCORING_LIBRARIES,
]


def _own_cluster_settings() -> dict[str, Any]:
    """Dask settings for the LocalCluster this engine starts (not for a cluster given by
    address): quiet workers, forked from a forkserver (see :func:`_preload_forkserver`)."""
    import multiprocessing as mp

    settings: dict[str, Any] = dict(_QUIET_WORKERS)
    if "forkserver" not in mp.get_all_start_methods():  # no fork on this platform
        settings["distributed.worker.multiprocessing-method"] = "spawn"
    return settings


def _preload_forkserver() -> None:
    """Have the forkserver import the scoring libraries, with distributed's own list.

    distributed sets the preload list itself on its first forkserver use in a process
    (its own packages only), so this runs after that, inside the cluster's settings.
    It applies when this process starts its forkserver; one started earlier (by a
    local job, with the same libraries) is used as it is. Missing modules are skipped.
    """
    from distributed.utils import get_mp_context

    context = get_mp_context()
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(_PRELOAD)


class DaskEngine:
    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None) -> None:
        self.scheduler = scheduler or None
        self.workers = workers or 2

    def run(
        self,
        work: WorkSpec,
        bundle: ModelBundle,
        todo: list[int],
        on_done: Callable[[PartResult], None],
        progress: Progress,
    ) -> EngineStats:
        import dask
        import dask.dataframe as dd
        from distributed import Client, LocalCluster, as_completed

        stats = EngineStats()
        if not todo:
            return stats
        started = time.perf_counter()
        cluster = None
        try:
            if self.scheduler:
                client = Client(self.scheduler, timeout="30s")
            else:
                # Our own cluster runs scoring only: no statistical profiler sampling
                # the busy thread every 10 ms, and slower system and memory monitors.
                with dask.config.set(_own_cluster_settings()):
                    _preload_forkserver()
                    cluster = LocalCluster(
                        n_workers=self.workers,
                        processes=True,
                        threads_per_worker=1,
                        dashboard_address=":0",
                        env=dict(_ONE_THREAD),
                    )
                client = Client(cluster)
        except OSError as exc:
            raise BackendUnavailable(
                f"Could not reach the Dask scheduler {self.scheduler!r}: {exc}"
            ) from exc
        plugin_name = f"modelyard-model-{bundle.short}-{work.job_id[:8]}"
        try:
            stats.workers = len(client.scheduler_info().get("workers", {}))
            bundle = bundle.for_job(rows_of(work, todo), stats.workers)
            client.register_plugin(
                ModelPlugin(plugin_name, bundle, bundle.pack()), name=plugin_name
            )
            stats.load_seconds = time.perf_counter() - started
            parts = [work.parts[i] for i in todo]
            # Arrow-backed columns stay Arrow: no conversion of strings to another dtype.
            with dask.config.set({"dataframe.convert-string": False}):
                frames = dd.from_map(
                    _read_frame,
                    parts,
                    work=work,
                    meta=_meta(work.input_schema),
                    enforce_metadata=False,
                )
                scored = frames.map_partitions(
                    _score_frame, work, tuple(todo), plugin_name, meta=_stats_meta()
                )
                futures = client.compute(scored.to_delayed())
            for future in as_completed(futures):
                for row in future.result().to_dict("records"):
                    result = PartResult.from_dict(row)
                    progress.advance(result.rows_in)
                    on_done(result)
        finally:
            # The cluster may already be gone; then there is nothing to clean.
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(plugin_name)
            client.close()
            if cluster is not None:
                cluster.close()
        stats.score_seconds = time.perf_counter() - started - stats.load_seconds
        return stats


def _meta(schema: pa.Schema) -> pd.DataFrame:
    return schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)


def _stats_meta() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "index": pd.Series(dtype="int64"),
            "rows_in": pd.Series(dtype="int64"),
            "rows_out": pd.Series(dtype="int64"),
            "rows_rejected": pd.Series(dtype="int64"),
            "seconds": pd.Series(dtype="float64"),
            "output": pd.Series(dtype="object"),
            "rejects": pd.Series(dtype="object"),
            "peak_rss_mb": pd.Series(dtype="float64"),
            "cpu_seconds": pd.Series(dtype="float64"),
            "checks": pd.Series(dtype="object"),
        }
    )


def arrow_frame(tables: list[pa.Table], schema: pa.Schema) -> pd.DataFrame:
    """The part's tables as one Arrow-backed pandas frame, sharing their buffers.

    The tables' chunks become the chunks of each column (no concatenation);
    ``pd.ArrowDtype`` columns wrap those chunked arrays without copying.
    """
    batches = [batch for table in tables for batch in table.to_batches()]
    table = pa.Table.from_batches(batches, schema=schema)
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def frame_batches(frame: pd.DataFrame, schema: pa.Schema, rows: int) -> list[pa.Table]:
    """An Arrow-backed frame back as tables of at most ``rows`` (buffers shared, not copied)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(None)
    if not table.schema.equals(schema):
        table = table.cast(schema)  # only for a frame that did not come from arrow_frame
    return [table.slice(i, rows) for i in range(0, table.num_rows, rows)]


def _read_frame(part: Part, work: WorkSpec) -> pd.DataFrame:
    since = (os.getpid(), time.perf_counter(), cpu_seconds())
    frame = arrow_frame(list(read_part(work, part, use_threads=False)), work.input_schema)
    # Read and score run in one fused task on one worker: the part's CPU counts the read.
    frame.attrs["modelyard_since"] = since
    return frame


def _score_frame(
    frame: pd.DataFrame,
    work: WorkSpec,
    todo: tuple[int, ...],
    plugin_name: str,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    from distributed import get_worker

    if partition_info is None:  # dask's metadata probe: nothing to score
        return _stats_meta()
    model = get_worker().plugins[plugin_name].model
    part = work.parts[todo[partition_info["number"]]]
    pid, *since = frame.attrs.get("modelyard_since") or (None,)
    batches = frame_batches(frame, work.input_schema, work.batch_rows)
    # Only this process's clocks compare (tasks fuse, but a frame could be moved).
    result = score_part(
        model, work, part, batches, since=(since[0], since[1]) if pid == os.getpid() else None
    )
    data = result.to_dict()
    return pd.DataFrame({k: [data[k]] for k in _STATS_COLUMNS}).astype(_stats_meta().dtypes)


try:  # distributed is optional; the plugin class exists only with it
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - the engine reports the missing extra
    WorkerPlugin = object  # type: ignore[assignment,misc]


class ModelPlugin(WorkerPlugin):  # type: ignore[misc,valid-type]
    """Carries a model's verified bytes to each worker and loads it there once."""

    def __init__(self, name: str, bundle: ModelBundle, payload: dict[str, bytes]) -> None:
        self.name = name
        self.bundle = bundle
        self.payload = payload
        self.model: Any = None
        self._root: Path | None = None
        self._limits: Any = None

    def setup(self, worker: Any) -> None:
        for key, value in _ONE_THREAD.items():
            os.environ.setdefault(key, value)
        with contextlib.suppress(ImportError):  # threadpoolctl comes with scikit-learn
            from threadpoolctl import threadpool_limits

            self._limits = threadpool_limits(limits=1)
        tune_worker_memory()
        self._root = Path(worker.local_directory) / "modelyard-models" / self.name
        local = self.bundle.unpack(self.payload, self._root)
        self.model = local.load()  # verifies every digest before unpickling
        self.payload = {}

    def teardown(self, worker: Any) -> None:
        self.model = None
        if self._limits is not None:
            with contextlib.suppress(Exception):
                self._limits.restore_original_limits()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
