"""Batch scoring: a registered model over Parquet/CSV files, resumably, on any engine.

``yard.batch.score(ref, input, output)`` is the entry point (see
:class:`BatchService`); ``score_batch`` is the one scoring function the
``local``, ``dask`` and ``spark`` engines share.

The names below are imported on first use: worker processes import
``modelyard.batch.engines.*`` and must not pay for the service's database
and data-catalogue imports (the service is the job's, not the workers').
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.batch.entities import BatchJobInfo
    from modelyard.batch.job import BatchJobSpec, JobManifest
    from modelyard.batch.scoring import ScoringModel, ScoringSpec, score_batch
    from modelyard.batch.service import BatchService

_LAZY = {
    "BatchJobInfo": "modelyard.batch.entities",
    "BatchJobSpec": "modelyard.batch.job",
    "JobManifest": "modelyard.batch.job",
    "ScoringModel": "modelyard.batch.scoring",
    "ScoringSpec": "modelyard.batch.scoring",
    "score_batch": "modelyard.batch.scoring",
    "BatchService": "modelyard.batch.service",
}

__all__ = [
    "BatchJobInfo",
    "BatchJobSpec",
    "BatchService",
    "JobManifest",
    "ScoringModel",
    "ScoringSpec",
    "score_batch",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modelyard.batch' has no attribute {name!r}")
