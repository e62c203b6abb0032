"""The Dask engine: ``map_partitions`` of the same scoring function on a distributed cluster.

The job's parts become the partitions of a Dask DataFrame (``from_map`` over
the part list, read with the same reader as the local engine, columns kept
as Arrow types so nothing is lost on the way through pandas). Each partition
is scored by ``map_partitions``, which writes the part's files and marker on
the worker and returns one row of counts; the driver records parts as they
complete.

The model reaches every worker once, through a worker plugin that carries
the verified bytes, checks their digests on the worker and loads the model
there — once per worker process, whatever the number of partitions.

The cluster: ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) from
the call or the settings (``dask_scheduler`` in modelyard.toml, or
``MODELYARD_DASK_SCHEDULER``);
without one, a ``LocalCluster`` of ``workers`` single-threaded processes.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from modelyard.batch.bundle import ModelBundle
from modelyard.batch.engines import EngineStats
from modelyard.batch.job import Part, PartResult
from modelyard.batch.parts import WorkSpec, read_part, score_part
from modelyard.batch.progress import Progress
from modelyard.errors import BackendUnavailable

__all__ = ["DaskEngine", "ModelPlugin"]

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
                cluster = LocalCluster(
                    n_workers=self.workers,
                    processes=True,
                    threads_per_worker=1,
                    dashboard_address=":0",
                )
                client = Client(cluster)
        except OSError as exc:
            raise BackendUnavailable(
                f"Could not reach the Dask scheduler {self.scheduler!r}: {exc}"
            ) from exc
        plugin_name = f"modelyard-model-{bundle.short}-{work.job_id[:8]}"
        try:
            client.register_plugin(
                ModelPlugin(plugin_name, bundle, bundle.pack()), name=plugin_name
            )
            stats.workers = len(client.scheduler_info().get("workers", {}))
            stats.load_seconds = time.perf_counter() - started
            parts = [work.parts[i] for i in todo]
            frames = dd.from_map(
                _read_frame, parts, work=work, meta=_meta(work.input_schema), enforce_metadata=False
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


def _read_frame(part: Part, work: WorkSpec) -> pd.DataFrame:
    tables = list(read_part(work, part, use_threads=False))
    table = pa.concat_tables(tables) if tables else work.input_schema.empty_table()
    return table.to_pandas(types_mapper=pd.ArrowDtype)


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
    table = pa.Table.from_pandas(frame, preserve_index=False).cast(work.input_schema)
    batches = (table.slice(i, work.batch_rows) for i in range(0, table.num_rows, work.batch_rows))
    result = score_part(model, work, part, batches)
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

    def setup(self, worker: Any) -> None:
        self._root = Path(worker.local_directory) / "modelyard-models" / self.name
        local = self.bundle.unpack(self.payload, self._root)
        self.model = local.load()  # verifies every digest before unpickling
        self.payload = {}

    def teardown(self, worker: Any) -> None:
        self.model = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
