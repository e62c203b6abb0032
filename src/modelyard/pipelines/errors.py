"""The errors a pipeline raises on purpose.

    ModelyardError
    ├── GateFailed       a gate between evaluation and promotion did not hold (HTTP 422)
    └── PipelineFailed   a step failed; its dependants were skipped           (HTTP 500)

Both carry structured ``details`` (the gate results, the failed and skipped
steps) so the CLI, the REST API and the audit trail say the same thing.
"""

from __future__ import annotations

from typing import Any

from modelyard.errors import ModelyardError

__all__ = ["GateFailed", "PipelineFailed"]


class GateFailed(ModelyardError):
    """One or more gates failed; ``results`` holds every gate's outcome, passed or not."""

    http_status = 422
    code = "gate_failed"

    def __init__(self, message: str, *, results: list[Any], subject: str) -> None:
        super().__init__(
            message, details={"subject": subject, "gates": [r.to_dict() for r in results]}
        )
        self.results = results
        self.subject = subject


class PipelineFailed(ModelyardError):
    """A pipeline run ended with a failed step; the message names it and how to resume."""

    http_status = 500
    code = "pipeline_failed"

    def __init__(self, message: str, *, run_id: str, failed: dict[str, str], skipped: list[str]):
        super().__init__(message, details={"run_id": run_id, "failed": failed, "skipped": skipped})
        self.run_id = run_id
        self.failed = failed
        self.skipped = skipped
