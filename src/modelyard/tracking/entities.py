"""What the tracking service returns: plain frozen records, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUNNING, FINISHED, FAILED, KILLED = "RUNNING", "FINISHED", "FAILED", "KILLED"
RUN_STATUSES = (RUNNING, FINISHED, FAILED, KILLED)


@dataclass(frozen=True, slots=True)
class MetricPoint:
    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True, slots=True)
class RunArtifactInfo:
    path: str
    digest: str
    size: int
    is_dir: bool


@dataclass(frozen=True, slots=True)
class RunInputInfo:
    dataset: str
    version: int
    digest: str
    role: str


@dataclass(frozen=True)
class RunInfo:
    id: str
    experiment: str
    name: str
    status: str
    user: str
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    git_commit: str | None
    git_dirty: bool | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: tuple[RunInputInfo, ...] = ()
    artifacts: tuple[RunArtifactInfo, ...] = ()
    python_version: str | None = None
    error: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time) / 1000

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "experiment": self.experiment,
            "name": self.name,
            "status": self.status,
            "user": self.user,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "duration_s": self.duration_s,
            "parent_run_id": self.parent_run_id,
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "python_version": self.python_version,
            "params": dict(self.params),
            "metrics": dict(self.metrics),
            "tags": dict(self.tags),
            "inputs": [
                {"dataset": i.dataset, "version": i.version, "digest": i.digest, "role": i.role}
                for i in self.inputs
            ],
            "artifacts": [
                {"path": a.path, "digest": a.digest, "size": a.size, "is_dir": a.is_dir}
                for a in self.artifacts
            ],
            "error": self.error,
        }
