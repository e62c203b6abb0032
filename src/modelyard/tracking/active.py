"""``ActiveRun``: the handle a ``with yard.start_run(...) as run:`` block logs through."""

from __future__ import annotations

import atexit
import contextlib
import threading
import traceback
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from modelyard.tracking.entities import FAILED, FINISHED, KILLED, RunArtifactInfo, RunInfo
from modelyard.tracking.service import DatasetVersionRef, RunService

__all__ = ["ActiveRun"]

_open_runs: dict[str, ActiveRun] = {}
_open_lock = threading.Lock()


@atexit.register
def _end_open_runs() -> None:
    """A process that exits with runs still open marks them KILLED, not RUNNING forever."""
    with _open_lock:
        runs = list(_open_runs.values())
    for run in runs:
        # Exiting anyway: never mask the process's own exit status.
        with contextlib.suppress(Exception):
            run.end(KILLED, error="the process exited while the run was open")


class ActiveRun:
    """A run being recorded. Ends FINISHED, FAILED (an exception) or KILLED (interrupted)."""

    def __init__(self, service: RunService, run_id: str) -> None:
        self._service = service
        self.id = run_id
        self._ended = False
        with _open_lock:
            _open_runs[run_id] = self

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.end(FINISHED)
        elif issubclass(exc_type, KeyboardInterrupt | SystemExit):
            self.end(KILLED, error=f"{exc_type.__name__}")
        else:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            self.end(FAILED, error=text[-8000:])

    def end(self, status: str = FINISHED, *, error: str | None = None) -> None:
        if self._ended:
            return
        self._service.end(self.id, status, error=error)
        self._ended = True
        with _open_lock:
            _open_runs.pop(self.id, None)

    # -- logging ----------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        self._service.log_params(self.id, {key: value})

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._service.log_params(self.id, params)

    def log_metric(
        self, key: str, value: float, step: int | None = None, timestamp: int | None = None
    ) -> None:
        self._service.log_metrics(self.id, [(key, value, step, timestamp)])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._service.log_metrics(self.id, [(k, v, step, None) for k, v in metrics.items()])

    def log_batch(self, points: Iterable[tuple[str, float, int | None, int | None]]) -> int:
        """Log many ``(key, value, step, timestamp_ms)`` points in one transaction."""
        return self._service.log_metrics(self.id, points)

    def log_metric_series(self, key: str, values: Sequence[float], *, start_step: int = 0) -> int:
        """Log ``values`` as steps ``start_step, start_step + 1, ...`` of one metric."""
        return self._service.log_metrics(
            self.id, ((key, v, start_step + i, None) for i, v in enumerate(values))
        )

    def set_tag(self, key: str, value: Any) -> None:
        self._service.set_tags(self.id, {key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self._service.set_tags(self.id, tags)

    def log_input(self, dataset_version: DatasetVersionRef, role: str = "input") -> None:
        self._service.log_inputs(self.id, [dataset_version], role)

    def log_artifact(self, path: str | Path, name: str | None = None) -> RunArtifactInfo:
        return self._service.log_artifact(self.id, path, name)

    def info(self) -> RunInfo:
        return self._service.get(self.id)

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r})"
