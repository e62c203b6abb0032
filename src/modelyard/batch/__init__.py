"""Batch scoring: a registered model over Parquet/CSV files, resumably, on any engine.

``yard.batch.score(ref, input, output)`` is the entry point (see
:class:`BatchService`); ``score_batch`` is the one scoring function the
``local``, ``dask`` and ``spark`` engines share.
"""

from modelyard.batch.entities import BatchJobInfo
from modelyard.batch.job import BatchJobSpec, JobManifest
from modelyard.batch.scoring import ScoringModel, ScoringSpec, score_batch
from modelyard.batch.service import BatchService

__all__ = [
    "BatchJobInfo",
    "BatchJobSpec",
    "BatchService",
    "JobManifest",
    "ScoringModel",
    "ScoringSpec",
    "score_batch",
]
