"""``remote.runs``: the RunService interface over the REST API (``ActiveRun`` works on it)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from modelyard.client import _decode
from modelyard.client._artifacts import RemoteArtifacts
from modelyard.client._http import Transport
from modelyard.errors import InvalidInput, NotFound
from modelyard.tracking.entities import FINISHED, MetricPoint, RunArtifactInfo, RunInfo

METRIC_BATCH = 10_000


class RemoteRuns:
    def __init__(self, transport: Transport, artifacts: RemoteArtifacts) -> None:
        self._http = transport
        self._artifacts = artifacts

    # -- runs -------------------------------------------------------------
    def create(
        self,
        *,
        experiment: str = "default",
        name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        inputs: Sequence[Any] = (),
        parent_run_id: str | None = None,
        capture_environment: bool = True,
    ) -> str:
        body = {
            "experiment": experiment,
            "name": name,
            "tags": {str(k): str(v) for k, v in (tags or {}).items()},
            "inputs": [_dataset_id(i) for i in inputs],
            "parent_run_id": parent_run_id,
        }
        return self._http.post("/runs", body)["id"]

    def end(self, run_id: str, status: str = FINISHED, *, error: str | None = None) -> None:
        self._http.post(f"/runs/{run_id}/end", {"status": status, "error": error})

    # -- logging ----------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        if params:
            body = {"params": {str(k): str(v) for k, v in params.items()}}
            self._http.post(f"/runs/{run_id}/params", body)

    def log_metrics(
        self,
        run_id: str,
        points: Iterable[tuple[str, Any, int | None, int | None] | MetricPoint],
    ) -> int:
        written = 0
        iterator = iter(points)
        while batch := list(islice(iterator, METRIC_BATCH)):
            body = {"points": [_point(p) for p in batch]}
            written += self._http.post(f"/runs/{run_id}/metrics", body)["written"]
        return written

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        self._http.post(f"/runs/{run_id}/tags", {"tags": {str(k): str(v) for k, v in tags.items()}})

    def log_inputs(self, run_id: str, inputs: Sequence[Any], role: str = "input") -> None:
        body = {"inputs": [_dataset_id(i) for i in inputs], "role": role}
        self._http.post(f"/runs/{run_id}/inputs", body)

    def log_artifact(
        self, run_id: str, local_path: str | Path, name: str | None = None
    ) -> RunArtifactInfo:
        path = Path(local_path)
        if not path.exists():
            raise InvalidInput(f"artifact path {str(path)!r} does not exist")
        is_dir = path.is_dir()
        digest = self._artifacts.put_dir(path) if is_dir else self._artifacts.put_file(path)
        body = {"name": name or path.name, "digest": digest, "is_dir": is_dir}
        found = self._http.post(f"/runs/{run_id}/artifacts", body)
        return RunArtifactInfo(found["path"], found["digest"], found["size"], found["is_dir"])

    def download_artifact(self, run_id: str, name: str, dest: str | Path) -> Path:
        info = self.get(run_id)
        record = next((a for a in info.artifacts if a.path == name), None)
        if record is None:
            raise NotFound(f"run {run_id} has no artifact {name!r}")
        if record.is_dir:
            return self._artifacts.get_dir(record.digest, dest)
        return self._artifacts.get_file(record.digest, dest)

    # -- reading ----------------------------------------------------------
    def resolve_id(self, run_id: str, session: Any = None) -> str:
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInput(f"run id must be a non-empty string; got {run_id!r}")
        if len(run_id) == 32:
            return run_id
        if len(run_id) < 6:
            raise InvalidInput(f"run id prefix {run_id!r} is too short; give at least 6 characters")
        return self.get(run_id).id

    def get(self, run_id: str) -> RunInfo:
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInput(f"run id must be a non-empty string; got {run_id!r}")
        if len(run_id) < 6:
            raise InvalidInput(f"run id prefix {run_id!r} is too short; give at least 6 characters")
        return _decode.run(self._http.get(f"/runs/{run_id}"))

    def search(
        self,
        filter: str | None = None,
        *,
        order_by: list[str] | None = None,
        experiment: str | None = None,
        max_results: int = 100,
        offset: int = 0,
    ) -> list[RunInfo]:
        if not 1 <= max_results <= 50_000:
            raise InvalidInput(f"max_results must be between 1 and 50000; got {max_results}")
        found = self._http.pages(
            "/runs",
            limit=offset + max_results,
            filter=filter,
            order_by=order_by,
            experiment=experiment,
        )
        return [_decode.run(r) for r in islice(found, offset, None)]

    def count(self, filter: str | None = None) -> int:
        return int(self._http.get("/runs/count", filter=filter)["count"])

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        points = self._http.pages(f"/runs/{run_id}/metrics/{key}/history")
        return [_decode.metric_point(p) for p in points]

    def compare(self, run_ids: Sequence[str]) -> dict[str, Any]:
        if len(run_ids) < 1:
            raise InvalidInput("compare needs at least one run id")
        return self._http.get("/runs/compare", ids=list(run_ids))


def _dataset_id(ref: Any) -> int:
    value = getattr(ref, "id", None)
    if not isinstance(value, int):
        raise InvalidInput(f"inputs: {ref!r} is not a registered dataset version")
    return value


def _point(point: Any) -> dict[str, Any]:
    if isinstance(point, MetricPoint):
        key, value, step, ts = point.key, point.value, point.step, point.timestamp
    else:
        key, value, step, ts = point
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"metric {key!r}: value must be a number; got {value!r}") from None
    return {"key": key, "value": value, "step": step, "timestamp": ts}


__all__ = ["RemoteRuns"]
