"""Batch engines: where the parts of a job run. Each calls the same ``score_batch``.

* ``local`` (default): a pool of worker processes on this machine, streaming.
* ``dask``: a ``dask.distributed`` cluster (a scheduler address, or a LocalCluster).
* ``spark``: a Spark session (``local[2]`` by default; any master, e.g. Dataproc).
  With a :class:`~modelyard.batch.spark_io.SparkSource` or ``SparkSink`` (tables,
  JDBC, connectors, any file format), Spark itself reads, scores with
  ``mapInArrow`` and writes: :mod:`modelyard.batch.engines.spark_sources`.

Engines are imported only when chosen, so ``import modelyard`` never imports
Dask or PySpark; a missing one is reported with the extra that installs it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from modelyard.batch.bundle import ModelBundle
from modelyard.batch.job import PartResult
from modelyard.batch.parts import WorkSpec
from modelyard.batch.progress import Progress
from modelyard.errors import BackendUnavailable, InvalidInput

__all__ = ["ENGINES", "SCORING_LIBRARIES", "Engine", "EngineStats", "get_engine"]

ENGINES = ("local", "dask", "spark")
SCORING_LIBRARIES = (
    "pandas",
    "pyarrow.parquet",
    "sklearn.pipeline",
    "sklearn.compose",
    "sklearn.preprocessing",
    "lightgbm",
)
"""What a scoring worker imports: a forkserver that imports them once (local and Dask
engines) spares every worker the ~2 s of CPU it takes."""
_MODULES = {
    "local": ("modelyard.batch.engines.local", "LocalEngine", None),
    "dask": ("modelyard.batch.engines.dask", "DaskEngine", ("distributed", "dask")),
    "spark": ("modelyard.batch.engines.spark", "SparkEngine", ("pyspark", "spark")),
}


@dataclass
class EngineStats:
    """How the engine spent its time (model load excluded from scoring throughput)."""

    workers: int = 0
    load_seconds: float = 0.0
    score_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Engine(Protocol):
    name: str

    def run(
        self,
        work: WorkSpec,
        bundle: ModelBundle,
        todo: list[int],
        on_done: Callable[[PartResult], None],
        progress: Progress,
    ) -> EngineStats:
        """Score parts ``todo``; call ``on_done`` (from any thread) as each part completes."""
        ...


def get_engine(name: str, **options: Any) -> Engine:
    """The engine called ``name``, imported on first use."""
    entry = _MODULES.get(name)
    if entry is None:
        raise InvalidInput(f"The engine must be one of {ENGINES}. Got {name!r} instead.")
    module, cls, needs = entry
    if needs is not None:
        try:
            importlib.import_module(needs[0])
        except ImportError as exc:
            raise BackendUnavailable(
                f"install modelyard[{needs[1]}] to use the {name} engine ({exc})"
            ) from exc
    return getattr(importlib.import_module(module), cls)(**options)
