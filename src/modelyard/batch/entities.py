"""What the batch service returns: plain frozen records, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard._util.clock import ms_to_iso


@dataclass(frozen=True)
class BatchJobInfo:
    """One batch scoring job (all its attempts: a resumed job keeps its id).

    Attributes:
        id: 32 hex characters, a hash of model, input listing, output and the
            parameters that decide the output; the same command gives the same id.
        status: RUNNING, FINISHED, FAILED or KILLED.
        rows_in / rows_out / rows_rejected: Rows read, scored, and rejected
            (``rows_in == rows_out + rows_rejected`` once finished).
        params: Columns, sizes, model form, parts and timings of the last attempt.
        output_dataset: ``name/version`` of the registered output, if registered.
        progress: For a running job, what its manifest says (parts and rows done).
    """

    id: str
    model_name: str
    model_version: int
    input_uri: str
    output_uri: str
    engine: str
    status: str
    rows_in: int
    rows_out: int
    rows_rejected: int
    params: dict[str, Any]
    error: str | None
    output_dataset: str | None
    created_by: str
    started_at: int
    ended_at: int | None
    progress: dict[str, Any] = field(default_factory=dict)

    @property
    def model_ref(self) -> str:
        return f"{self.model_name}/{self.model_version}"

    @property
    def duration_s(self) -> float | None:
        """Seconds from the first start to the end (interruptions included)."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at) / 1000.0

    @property
    def rows_per_s(self) -> float | None:
        """Scoring throughput of the last attempt, model loading excluded."""
        value = self.params.get("rows_per_s")
        return float(value) if value is not None else None

    @property
    def scorer(self) -> str | None:
        """What predicted: a compiled scorer (``"forest-compiled"``, ...), ``"onnx"``,
        ``"lightgbm-booster"`` or ``"native"``; see :attr:`scorer_reason` for why."""
        value = self.params.get("scorer")
        return str(value) if value else None

    @property
    def scorer_reason(self) -> str | None:
        """``"compiled"``, or why the pipeline was not scored compiled."""
        value = self.params.get("scorer_reason")
        return str(value) if value else None

    @property
    def evaluator(self) -> str | None:
        """What evaluated a compiled scorer's model: ``"numba tree kernel"`` (compiled at
        load), the kernel after so many rows a process with the tree library's own
        evaluator before, or what a scorer without the kernel uses (``"numpy"``, the
        C API and why); None for the other scorers."""
        value = self.params.get("evaluator")
        return str(value) if value else None

    @property
    def warnings(self) -> dict[str, int]:
        """Scored rows with an out-of-domain value, per ``"column: kind"``."""
        return dict(self.params.get("warnings") or {})

    @property
    def rejects_by_reason(self) -> dict[str, int]:
        """Rejected rows per ``"column: problem"`` (a row with two problems counts twice)."""
        return dict(self.params.get("rejects_by_reason") or {})

    @property
    def reject_rate(self) -> float:
        return self.rows_rejected / self.rows_in if self.rows_in else 0.0

    @property
    def rejects_exceeded(self) -> bool:
        """More rows rejected than the job's ``max_reject_rate`` allows."""
        limit = self.params.get("max_reject_rate")
        return limit is not None and self.reject_rate > float(limit)

    @property
    def rejects_uri(self) -> str:
        """Where rejected rows are: ``<output>/_rejects``, or what a Spark-source job recorded."""
        recorded = self.params.get("rejects_uri")
        return str(recorded) if recorded else f"{self.output_uri.rstrip('/')}/_rejects"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model_ref,
            "input": self.input_uri,
            "output": self.output_uri,
            "rejects": self.rejects_uri,
            "engine": self.engine,
            "status": self.status,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_rejected": self.rows_rejected,
            "reject_rate": round(self.reject_rate, 6),
            "rejects_exceeded": self.rejects_exceeded,
            "rejects_by_reason": self.rejects_by_reason,
            "warnings": self.warnings,
            "scorer": self.scorer,
            "scorer_reason": self.scorer_reason,
            "evaluator": self.evaluator,
            "rows_per_s": self.rows_per_s,
            "duration_s": self.duration_s,
            "params": self.params,
            "error": self.error,
            "output_dataset": self.output_dataset,
            "created_by": self.created_by,
            "started_at": ms_to_iso(self.started_at),
            "ended_at": ms_to_iso(self.ended_at),
            "progress": self.progress,
        }
