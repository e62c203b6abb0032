"""Runs: creation, logging of params, metrics, tags, inputs and artifacts, and search.

Each logging call is one short transaction, so a crash loses at most the call
in flight, and eight processes can log into one SQLite file at once. Metric
points go in with one multi-row INSERT per batch; the latest value per key is
kept in ``latest_metrics`` so that search and ordering never scan history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard._util.clock import now_ms
from modelyard._util.dialect import upsert_insert
from modelyard.artifacts import ArtifactStore
from modelyard.errors import Conflict, InvalidInput, NotFound
from modelyard.store import MetadataStore
from modelyard.store.models import (
    Dataset,
    DatasetVersion,
    Experiment,
    LatestMetric,
    Metric,
    Param,
    Run,
    RunArtifact,
    RunInput,
    Tag,
)
from modelyard.tracking import environment, search
from modelyard.tracking._statements import statements
from modelyard.tracking.entities import (
    FINISHED,
    RUN_STATUSES,
    RUNNING,
    MetricPoint,
    RunArtifactInfo,
    RunInfo,
    RunInputInfo,
)

__all__ = ["RunService"]

MAX_KEY_LENGTH = 255
MAX_PARAM_LENGTH = 8000


class DatasetVersionRef(Protocol):
    """Anything that names a stored dataset version by its database id."""

    id: int


def _check_key(kind: str, key: Any) -> str:
    if not isinstance(key, str) or not key.strip():
        raise InvalidInput(f"{kind} name must be a non-empty string; got {key!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(
            f"{kind} name {key[:40]!r}... is longer than {MAX_KEY_LENGTH} characters"
        )
    return key


def _check_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise InvalidInput(f"metric {key!r}: value must be a number; got {value!r}")
    return float(value)


def _check_step(key: str, step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, int | Real) or int(step) != step:
        raise InvalidInput(f"metric {key!r}: step must be an integer; got {step!r}")
    return int(step)


class RunService:
    """The tracking service over one metadata store and one artifact store."""

    def __init__(self, store: MetadataStore, artifacts: ArtifactStore, *, user: str) -> None:
        self._store = store
        self._artifacts = artifacts
        self._user = user
        self._experiment_ids: dict[str, int] = {}
        self._sql = statements(store.dialect)

    # -- runs -------------------------------------------------------------
    def create(
        self,
        *,
        experiment: str = "default",
        name: str | None = None,
        tags: Mapping[str, Any] | None = None,
        inputs: Sequence[DatasetVersionRef] = (),
        parent_run_id: str | None = None,
        capture_environment: bool = True,
    ) -> str:
        """Create a RUNNING run and return its id."""
        _check_key("experiment", experiment)
        run_id = uuid.uuid4().hex
        commit, dirty = environment.git_state() if capture_environment else (None, None)
        env = environment.python_environment() if capture_environment else {}
        with self._store.write_connection() as conn:
            experiment_id = self._experiment_id(conn, experiment)
            if parent_run_id is not None:
                self._require_run(conn, parent_run_id)
            conn.execute(
                self._sql.insert_run,
                {
                    "id": run_id,
                    "experiment_id": experiment_id,
                    "name": name or f"run-{run_id[:8]}",
                    "status": RUNNING,
                    "user": self._user,
                    "start_time": now_ms(),
                    "parent_run_id": parent_run_id,
                    "git_commit": commit,
                    "git_dirty": dirty,
                    "environment": env,
                    "error": None,
                    "end_time": None,
                },
            )
            if tags:
                self._insert_tags(conn, run_id, tags)
            for ref in inputs:
                self._insert_input(conn, run_id, ref, "input")
        return run_id

    def _experiment_id(self, conn: Any, name: str) -> int:
        cached = self._experiment_ids.get(name)
        if cached is not None:
            return cached
        stmt = upsert_insert(conn, Experiment).values(name=name, created_at=now_ms())
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        found = conn.scalar(select(Experiment.id).where(Experiment.name == name))
        assert found is not None  # just inserted or already there; never reached otherwise
        self._experiment_ids[name] = found
        return found

    def _require_run(self, conn: Any, run_id: str, *, running: bool = False) -> str:
        """The run's status; NotFound if absent, Conflict if ``running`` and it has ended."""
        status = conn.execute(self._sql.run_status, {"run_id": run_id}).scalar()
        if status is None:
            raise NotFound(f"no run {run_id!r}; see 'modelyard runs list'")
        if running and status != RUNNING:
            raise Conflict(f"run {run_id} is {status}; only a RUNNING run accepts changes")
        return status

    def end(self, run_id: str, status: str = FINISHED, *, error: str | None = None) -> None:
        if status not in RUN_STATUSES or status == RUNNING:
            allowed = ", ".join(s for s in RUN_STATUSES if s != RUNNING)
            raise InvalidInput(f"status must be one of {allowed}; got {status!r}")
        with self._store.write_connection() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                self._sql.end_run,
                {"rid": run_id, "status": status, "end_time": now_ms(), "error": error},
            )

    # -- logging ----------------------------------------------------------
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Record parameters. A parameter is immutable: a different second value is a conflict."""
        values = {}
        for key, value in params.items():
            text = str(value)
            if len(text) > MAX_PARAM_LENGTH:
                raise InvalidInput(
                    f"param {key!r}: value longer than {MAX_PARAM_LENGTH} characters"
                )
            values[_check_key("param", key)] = text
        if not values:
            return
        with self._store.write_connection() as conn:
            self._require_run(conn, run_id, running=True)
            existing: dict[str, str] = dict(
                conn.execute(
                    self._sql.existing_params, {"run_id": run_id, "keys": list(values)}
                ).all()
            )
            for key, old in existing.items():
                if old != values[key]:
                    raise Conflict(
                        f"param {key!r} of run {run_id} is already {old!r}; params cannot change "
                        f"(got {values[key]!r}). Log a metric or tag for values that change."
                    )
            new = [
                {"run_id": run_id, "key": k, "value": v}
                for k, v in values.items()
                if k not in existing
            ]
            if new:
                conn.execute(self._sql.insert_params, new)

    def log_metrics(
        self,
        run_id: str,
        points: Iterable[tuple[str, Any, int | None, int | None] | MetricPoint],
    ) -> int:
        """Log many metric points in one transaction; returns how many were written.

        Each point is ``(key, value, step, timestamp_ms)``; a ``None`` step is 0
        and a ``None`` timestamp is now.
        """
        now = now_ms()
        rows: list[dict[str, Any]] = []
        latest: dict[str, tuple[int, int, float]] = {}
        checked_keys: set[str] = set()
        for point in points:
            if isinstance(point, MetricPoint):
                key, value, step, ts = point.key, point.value, point.step, point.timestamp
            else:
                key, value, step, ts = point
            if key not in checked_keys:
                checked_keys.add(_check_key("metric", key))
            # Exact-type fast paths first: the ABC checks cost more than the insert.
            if type(value) is not float:
                value = _check_value(key, value)
            if step is None:
                step = 0
            elif type(step) is not int:
                step = _check_step(key, step)
            ts = now if ts is None else int(ts)
            rows.append(
                {"run_id": run_id, "key": key, "value": value, "step": step, "timestamp": ts}
            )
            best = latest.get(key)
            if best is None or (step, ts) >= best[:2]:
                latest[key] = (step, ts, value)
        if not rows:
            return 0
        latest_rows = [
            {"run_id": run_id, "key": k, "value": v, "step": st, "timestamp": t}
            for k, (st, t, v) in latest.items()
        ]
        with self._store.write_connection() as conn:
            self._require_run(conn, run_id, running=True)
            conn.execute(self._sql.insert_metrics, rows)
            conn.execute(self._sql.upsert_latest, latest_rows)
        return len(rows)

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        with self._store.write_connection() as conn:
            self._require_run(conn, run_id)
            self._insert_tags(conn, run_id, tags)

    def _insert_tags(self, conn: Any, run_id: str, tags: Mapping[str, Any]) -> None:
        rows = [
            {"run_id": run_id, "key": _check_key("tag", key), "value": str(value)}
            for key, value in tags.items()
        ]
        if rows:
            conn.execute(self._sql.upsert_tag, rows)

    def log_inputs(
        self, run_id: str, inputs: Sequence[DatasetVersionRef], role: str = "input"
    ) -> None:
        with self._store.write_connection() as conn:
            self._require_run(conn, run_id, running=True)
            for ref in inputs:
                self._insert_input(conn, run_id, ref, role)

    def _insert_input(self, conn: Any, run_id: str, ref: DatasetVersionRef, role: str) -> None:
        version_id = getattr(ref, "id", None)
        known = select(DatasetVersion.id).where(DatasetVersion.id == version_id)
        if not isinstance(version_id, int):
            raise InvalidInput(f"inputs: {ref!r} is not a registered dataset version")
        if conn.scalar(known) is None:  # a well-formed reference to nothing: 404, not 422
            raise NotFound(f"inputs: no dataset version with id {version_id}")
        stmt = upsert_insert(conn, RunInput).values(
            run_id=run_id, dataset_version_id=version_id, role=_check_key("input role", role)
        )
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["run_id", "dataset_version_id"]))

    def log_artifact(
        self, run_id: str, local_path: str | Path, name: str | None = None
    ) -> RunArtifactInfo:
        """Store a file or a directory as an artifact of the run under ``name``."""
        path = Path(local_path)
        if not path.exists():
            raise InvalidInput(f"artifact path {str(path)!r} does not exist")
        name = _check_key("artifact", name or path.name)
        if path.is_dir():
            digest = self._artifacts.put_dir(path)
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        else:
            digest = self._artifacts.put_file(path)
            size = path.stat().st_size
        with self._store.write_connection() as conn:
            self._require_run(conn, run_id)
            stmt = upsert_insert(conn, RunArtifact).values(
                run_id=run_id,
                path=name,
                digest=digest,
                size=size,
                is_dir=path.is_dir(),
                created_at=now_ms(),
            )
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["run_id", "path"],
                    set_={"digest": digest, "size": size, "is_dir": path.is_dir()},
                )
            )
        return RunArtifactInfo(name, digest, size, path.is_dir())

    def download_artifact(self, run_id: str, name: str, dest: str | Path) -> Path:
        with self._store.read() as session:
            row = session.get(RunArtifact, (self.resolve_id(run_id, session), name))
            if row is None:
                raise NotFound(f"run {run_id} has no artifact {name!r}")
            digest, is_dir = row.digest, row.is_dir
        dest = Path(dest)
        if is_dir:
            return self._artifacts.get_dir(digest, dest)
        return self._artifacts.get_file(digest, dest)

    # -- reading ----------------------------------------------------------
    def resolve_id(self, run_id: str, session: Session | None = None) -> str:
        """Accept a full run id or a unique prefix of at least 6 characters."""
        if not isinstance(run_id, str) or not run_id:
            raise InvalidInput(f"run id must be a non-empty string; got {run_id!r}")
        if len(run_id) == 32:
            return run_id
        if len(run_id) < 6:
            raise InvalidInput(f"run id prefix {run_id!r} is too short; give at least 6 characters")
        if session is None:
            with self._store.read() as own:
                return self.resolve_id(run_id, own)
        matches = session.scalars(select(Run.id).where(Run.id.like(f"{run_id}%")).limit(2)).all()
        if not matches:
            raise NotFound(f"no run {run_id!r}; see 'modelyard runs list'")
        if len(matches) > 1:
            raise InvalidInput(f"run id prefix {run_id!r} is ambiguous; give more characters")
        return matches[0]

    def get(self, run_id: str) -> RunInfo:
        with self._store.read() as session:
            run_id = self.resolve_id(run_id, session)
            found = self._load(session, [run_id])
        if not found:
            raise NotFound(f"no run {run_id!r}; see 'modelyard runs list'")
        return found[0]

    def search(
        self,
        filter: str | None = None,
        *,
        order_by: list[str] | None = None,
        experiment: str | None = None,
        max_results: int = 100,
        offset: int = 0,
        top_level: bool = False,
    ) -> list[RunInfo]:
        """Runs matching ``filter`` (see ``modelyard.tracking.search``), newest first by default.

        ``top_level`` leaves out runs that have a parent (pipeline steps), which lists
        show nested under their parent instead."""
        if not 1 <= max_results <= 50_000:
            raise InvalidInput(f"max_results must be between 1 and 50000; got {max_results}")
        clauses = search.parse_filter(filter)
        if experiment:
            clauses.append(search.Clause("attribute", "experiment", "=", experiment))
        if top_level:
            clauses.append(search.Clause("attribute", "parent_run_id", "is null", None))
        if offset < 0:
            raise InvalidInput(f"offset must be >= 0; got {offset}")
        keys = search.parse_order(order_by)
        with self._store.read() as session:
            if keys and keys[0].kind == "metric":
                ids = search.ids_by_metric(session, clauses, keys, max_results, offset)
            else:
                query = search.apply_order(search.apply_filter(select(Run.id), clauses), keys)
                ids = list(session.scalars(query.limit(max_results).offset(offset)))
            return self._load(session, ids)

    def count(self, filter: str | None = None) -> int:
        query = search.apply_filter(
            select(func.count()).select_from(Run), search.parse_filter(filter)
        )
        with self._store.read() as session:
            return int(session.scalar(query) or 0)

    def metric_history(self, run_id: str, key: str) -> list[MetricPoint]:
        with self._store.read() as session:
            run_id = self.resolve_id(run_id, session)
            rows = session.execute(
                select(Metric.key, Metric.value, Metric.step, Metric.timestamp)
                .where(Metric.run_id == run_id, Metric.key == key)
                .order_by(Metric.step, Metric.timestamp, Metric.id)
            )
            return [MetricPoint(*row) for row in rows]

    def _load(self, session: Session, ids: list[str]) -> list[RunInfo]:
        """Load runs with their params, metrics, tags, inputs and artifacts: six queries in all."""
        if not ids:
            return []
        runs: dict[str, Run] = {}
        experiments: dict[str, str] = {}
        for run, experiment_name in session.execute(
            select(Run, Experiment.name).join(Experiment).where(Run.id.in_(ids))
        ):
            runs[run.id] = run
            experiments[run.id] = experiment_name
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        for run_id, key, value in session.execute(
            select(Param.run_id, Param.key, Param.value).where(Param.run_id.in_(ids))
        ):
            params[run_id][key] = value
        metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
        for run_id, key, value in session.execute(
            select(LatestMetric.run_id, LatestMetric.key, LatestMetric.value).where(
                LatestMetric.run_id.in_(ids)
            )
        ):
            metrics[run_id][key] = value
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        for run_id, key, value in session.execute(
            select(Tag.run_id, Tag.key, Tag.value).where(Tag.run_id.in_(ids))
        ):
            tags[run_id][key] = value
        inputs: dict[str, list[RunInputInfo]] = {i: [] for i in ids}
        for run_id, name, version, digest, role in session.execute(
            select(
                RunInput.run_id,
                Dataset.name,
                DatasetVersion.version,
                DatasetVersion.digest,
                RunInput.role,
            )
            .join(DatasetVersion, DatasetVersion.id == RunInput.dataset_version_id)
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(RunInput.run_id.in_(ids))
            .order_by(Dataset.name, DatasetVersion.version)
        ):
            inputs[run_id].append(RunInputInfo(name, version, digest, role))
        artifacts: dict[str, list[RunArtifactInfo]] = {i: [] for i in ids}
        for row in session.scalars(
            select(RunArtifact).where(RunArtifact.run_id.in_(ids)).order_by(RunArtifact.path)
        ):
            artifacts[row.run_id].append(
                RunArtifactInfo(row.path, row.digest, row.size, row.is_dir)
            )
        result = []
        for run_id in ids:
            run = runs.get(run_id)
            if run is None:
                continue
            result.append(
                RunInfo(
                    id=run.id,
                    experiment=experiments[run.id],
                    name=run.name,
                    status=run.status,
                    user=run.user,
                    start_time=run.start_time,
                    end_time=run.end_time,
                    parent_run_id=run.parent_run_id,
                    git_commit=run.git_commit,
                    git_dirty=run.git_dirty,
                    params=params[run_id],
                    metrics=metrics[run_id],
                    tags=tags[run_id],
                    inputs=tuple(inputs[run_id]),
                    artifacts=tuple(artifacts[run_id]),
                    python_version=(run.environment or {}).get("python"),
                    error=run.error,
                )
            )
        return result

    def compare(self, run_ids: Sequence[str]) -> dict[str, Any]:
        """Runs side by side: one row per param and metric, one column per run."""
        if len(run_ids) < 1:
            raise InvalidInput("compare needs at least one run id")
        runs = [self.get(r) for r in run_ids]
        param_keys = sorted({k for r in runs for k in r.params})
        metric_keys = sorted({k for r in runs for k in r.metrics})
        return {
            "runs": [
                {"id": r.id, "name": r.name, "experiment": r.experiment, "status": r.status}
                for r in runs
            ],
            "params": {k: [r.params.get(k) for r in runs] for k in param_keys},
            "metrics": {k: [r.metrics.get(k) for r in runs] for k in metric_keys},
        }
