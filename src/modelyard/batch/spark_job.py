"""A batch job whose input and output are Spark data sources: plan, resume, record.

``yard.batch.score(ref, SparkSource.table("db.loans"), SparkSink.table("db.scores"),
engine="spark")`` comes here. In order: resolve the version and its verified
files; read the source's schema with Spark and check it against the
signature (nothing is written on a mismatch); record what was read (table,
location, files and their times, Delta version or Iceberg snapshot; JDBC URL
and table or query); derive the job id from the model, that lineage, the
sink and the columns; then score and commit the buckets in groups (see
:mod:`modelyard.batch.engines.spark_sources`), recording each committed group
in the job's record. The same command after a crash finds the record and
rewrites only the groups not recorded — with dynamic partition overwrite, so
a group committed just before the crash is replaced, never duplicated.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from modelyard._util.clock import now_ms
from modelyard.batch.entities import BatchJobInfo
from modelyard.batch.parts import peak_rss_mb
from modelyard.batch.progress import Progress
from modelyard.batch.scoring import BatchChecks, ScoringSpec, check_schema
from modelyard.batch.spark_io import SparkSink, SparkSource
from modelyard.errors import BackendUnavailable, Conflict, InvalidInput, ModelyardError
from modelyard.registry import audit
from modelyard.store.models import BatchJob

if TYPE_CHECKING:
    from modelyard.batch.service import BatchService

__all__ = ["DEFAULT_BUCKETS_PER_COMMIT", "score_on_spark"]

DEFAULT_BUCKETS_PER_COMMIT = 2


def score_on_spark(
    service: BatchService,
    ref: str,
    source: SparkSource,
    sink: SparkSink,
    *,
    id_column: str | None,
    passthrough: Sequence[str],
    form: str,
    batch_rows: int,
    engine_options: dict[str, Any],
    overwrite: bool,
    progress: Progress,
    max_reject_rate: float,
    explain: int = 0,
) -> BatchJobInfo:
    """Run (or resume) one Spark-source job; see the module's docstring.

    ``explain`` adds each row's top adverse reasons as ``reason_<rank>_*`` columns,
    computed inside ``mapInArrow`` by the same scorer and explainer as the local
    engine, so the same rows get the same reasons.
    """
    from modelyard.batch.engines import get_engine
    from modelyard.batch.service import _signature_of

    begun = time.perf_counter()
    per_commit = engine_options.pop("buckets_per_commit", DEFAULT_BUCKETS_PER_COMMIT)
    if isinstance(per_commit, bool) or not isinstance(per_commit, int) or per_commit < 1:
        raise InvalidInput(
            f"The 'buckets_per_commit' parameter must be an integer >= 1. Got {per_commit!r}."
        )
    get_engine("spark")  # a missing PySpark is reported with the extra that installs it
    name, version, digest = service._models.resolve_digest(ref)
    bundle = service._bundle(f"{name}/{version}", digest, form)
    # Checks the count and that the model can be explained, before Spark starts.
    reason_table = service._reason_table(f"{name}/{version}", bundle, explain)
    signature = _signature_of(bundle)
    from modelyard.batch.engines import spark_sources as sx
    from modelyard.batch.engines.spark import python_workers_reused, spark_session, warm_workers

    session = engine_options.get("session")
    owned = False
    if session is None:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is None and SparkContext._active_spark_context is not None:
            session = SparkSession.builder.getOrCreate()  # this process's running session
    if session is None:
        session = spark_session(engine_options.get("master"), config=engine_options.get("conf"))
        owned = True
    try:
        frame = sx.read_source(session, source)
        framed = sx.with_buckets(frame, sink, id_column)
        scoring = ScoringSpec(
            name,
            version,
            id_column,
            (*passthrough, sink.partition_column),
            now_ms(),
            explain,
            reason_table,
        )
        arrow_schema = sx.spark_arrow_schema(session, framed.schema)
        check_schema(
            signature, arrow_schema, scoring, where=source.describe(), text_input=source.text_input
        )
        wanted = list(dict.fromkeys([*signature.input_names, *scoring.kept_columns]))
        framed = framed.select(*[sx.col(c) for c in wanted])
        lineage = sx.source_lineage(session, source, frame)
        job_id = _job_id(digest, bundle, lineage, sink, id_column, passthrough, scoring)
        record = service._find(job_id)
        if record is not None and record.status == "FINISHED" and not overwrite:
            return record
        done = _groups_done(record, session, sink) if record is not None and not overwrite else []
        if not done and (record is None or overwrite) and sx.sink_exists(session, sink):
            if not overwrite:
                raise Conflict(
                    f"output {sink.describe()} already exists and holds no unfinished job of "
                    "this command; choose another output or pass overwrite=True (--overwrite)"
                )
            sx.remove_sink(session, sink)
            sx.remove_sink(session, sink.rejects())
        scoring = ScoringSpec(
            name,
            version,
            id_column,
            scoring.passthrough,
            int(
                (record.params.get("scored_at") if record and done else None)
                or scoring.scored_at_ms
            ),
            explain,
            reason_table,
        )
        model = bundle.load()  # verified on the driver too: the plan needs its output columns
        plan = sx.make_plan(session, sx.output_schema_of(model), framed, scoring, sink)
        finished = {b for g in done for b in g.buckets}
        remaining = [b for b in range(sink.buckets) if b not in finished]
        size = per_commit if sink.partial_resume else max(1, len(remaining))
        groups = [remaining[i : i + size] for i in range(0, len(remaining), size)]
        params = {
            "kind": "spark-sources",
            "input": lineage,
            "output": {"kind": sink.kind, "sink": sink.describe(), "format": sink.format},
            "rejects_uri": sink.rejects().describe(),
            "id_column": id_column,
            "passthrough": list(passthrough),
            "form": model.form,
            "buckets": sink.buckets,
            "partition_column": sink.partition_column,
            "buckets_per_commit": size,
            "batch_rows": batch_rows,
            "scored_at": scoring.scored_at_ms,
            "attempts": (int(record.params.get("attempts", 0)) if record else 0) + 1,
            "max_reject_rate": max_reject_rate,
            "explain": explain,
            "groups_done": [g.to_dict() for g in done],
        }
        _record_start(service, job_id, name, version, source, sink, params, record is not None)
        rows_this_attempt = 0
        accumulator = None
        try:
            cores = int(session.sparkContext.defaultParallelism)
            reused = python_workers_reused(session)
            forecast = sx.forecast_rows(source, frame, lineage) if groups else None
            params["rows_forecast"] = forecast  # the progress total, recorded at once
            _record_progress(service, job_id, params)
            # Each reused Python worker scores about its core's share of the remaining
            # buckets; with a fresh worker per task, or no count, the share is unknown.
            # The break-even is the submitting machine's setting, as on the other engines.
            expected = None
            if reused and forecast is not None:
                expected = forecast * len(remaining) // sink.buckets
            bundle = bundle.for_job(expected, cores)
            model_name, compiled_name = sx.ship_bundle(session, bundle)
            if reused and groups:  # the model is loaded (and its kernel compiled) before a row
                params["worker_load_seconds"] = warm_workers(
                    session, bundle, cores, model_name, compiled_name
                )
            started = time.perf_counter()
            progress.start(forecast, sum(g.rows_in for g in done), f"scoring {name}/{version}")
            with sx.job_settings(session, batch_rows):
                if groups:
                    # One pass scores every remaining bucket (the source is read once);
                    # the groups are then committed, and recorded, one at a time.
                    accumulator = sx.new_accumulator(session)
                    score = sx.scorer(bundle, model_name, compiled_name, plan, accumulator, groups)
                    mapped, rows_out, rows_rejected = sx.score_pass(framed, plan, remaining, score)
                    try:
                        for number, group in enumerate(groups):
                            result = sx.write_group(
                                session, mapped, plan, group, number, rows_out, rows_rejected,
                                accumulator,
                            )  # fmt: skip
                            progress.advance(result.rows_in)
                            rows_this_attempt += result.rows_in
                            done.append(result)
                            params["groups_done"] = [g.to_dict() for g in done]
                            _record_progress(service, job_id, params)
                    finally:
                        mapped.unpersist()
            progress.stop()
        except BaseException as exc:
            progress.stop()
            status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
            error = _spark_error(exc)
            _record_end(service, job_id, params, done, status, str(error or exc)[:4000])
            if error is not None:
                raise error from exc
            raise
        seconds = time.perf_counter() - started
        workers_cpu = float(accumulator.value["cpu_seconds"]) if accumulator else 0.0
        evaluators = accumulator.value.get("evaluators") if accumulator else None
        if accumulator:  # loads in the pass's tasks: 0 when the warm-up loaded their workers
            params["model_loads_while_scoring"] = int(accumulator.value.get("model_loads") or 0)
        params.update(
            rows_this_attempt=rows_this_attempt,
            seconds=round(seconds, 3),
            load_seconds=round(started - begun, 3),
            rows_per_s=round(rows_this_attempt / seconds, 1) if seconds > 0 else None,
            workers=int(session.sparkContext.defaultParallelism),
            # The Python workers' CPU from their first batch to their last (model load
            # excluded; Spark's JVM reading and writing is not in it) and their peak RSS.
            worker_cpu_seconds=round(workers_cpu, 3),
            worker_cpu_us_per_row=(
                round(workers_cpu / rows_this_attempt * 1e6, 3) if rows_this_attempt else None
            ),
            worker_peak_rss_mb=(
                round(float(accumulator.value["peak_rss_mb"]), 1) if accumulator else None
            ),
            evaluator="; ".join(evaluators) if evaluators else None,
            driver_peak_rss_mb=peak_rss_mb(),
        )
        return _record_end(service, job_id, params, done, "FINISHED", None)
    finally:
        if owned:
            session.stop()


def _spark_error(exc: BaseException) -> Exception | None:
    if isinstance(exc, ModelyardError | KeyboardInterrupt | SystemExit):
        return None
    from modelyard.batch.engines.spark import first_line, modelyard_cause

    cause = modelyard_cause(exc)
    if cause is not None:
        return cause
    return BackendUnavailable(
        f"the Spark job failed: {first_line(exc)}; committed groups are kept — run the "
        "same command again to resume"
    )


def _job_id(
    digest: str,
    bundle: Any,
    lineage: dict[str, Any],
    sink: SparkSink,
    id_column: str | None,
    passthrough: Sequence[str],
    scoring: ScoringSpec,
) -> str:
    identity: dict[str, Any] = {
        "engine": "spark-sources",
        "model_digest": digest,
        "form": "onnx" if bundle.compiled_dir is not None else "native",
        "input": lineage,
        "output": sink.describe(),
        "output_format": sink.format,
        "buckets": sink.buckets,
        "partition_column": sink.partition_column,
        "id_column": id_column,
        "passthrough": list(passthrough),
    }
    if scoring.explain:  # jobs that do not explain keep the ids they always had
        identity["explain"] = scoring.explain
        identity["reason_table"] = scoring.reason_table
    body = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(body).hexdigest()[:32]


def _groups_done(record: BatchJobInfo, session: Any, sink: SparkSink) -> list[Any]:
    """Recorded groups whose partitions are all still in the output (others are redone)."""
    from modelyard.batch.engines.spark_sources import GroupResult, present_buckets

    groups = [GroupResult.from_dict(g) for g in record.params.get("groups_done") or []]
    if not sink.partial_resume:
        return []  # written whole: an unfinished attempt is rewritten whole
    present = present_buckets(session, sink)
    return [g for g in groups if all(b in present for b, n in g.rows_out.items() if n)]


def _record_start(
    service: BatchService,
    job_id: str,
    name: str,
    version: int,
    source: SparkSource,
    sink: SparkSink,
    params: dict[str, Any],
    resuming: bool,
) -> None:
    with service._store.write() as session:
        row = session.get(BatchJob, job_id)
        if row is None:
            row = BatchJob(
                id=job_id,
                model_name=name,
                model_version=version,
                input_uri=source.describe(),
                output_uri=sink.describe(),
                engine="spark",
                status="RUNNING",
                rows_in=0,
                rows_out=0,
                rows_rejected=0,
                params=params,
                created_by=service._user,
                started_at=now_ms(),
            )
            session.add(row)
        else:
            row.status, row.params, row.error, row.ended_at = "RUNNING", params, None, None
        audit.append(
            session,
            service._user,
            "batch.start",
            f"batch/{job_id}",
            {
                "model": f"model/{name}/{version}",
                "input": source.describe(),
                "input_lineage": params["input"],
                "output": sink.describe(),
                "engine": "spark",
                "attempt": params["attempts"],
                "buckets": sink.buckets,
                "buckets_done_before": sum(len(g["buckets"]) for g in params["groups_done"]),
                "resumed": resuming,
            },
        )


def _record_progress(service: BatchService, job_id: str, params: dict[str, Any]) -> None:
    with service._store.write() as session:
        row = session.get(BatchJob, job_id)
        if row is not None:
            row.params = dict(params)


def _record_end(
    service: BatchService,
    job_id: str,
    params: dict[str, Any],
    done: list[Any],
    status: str,
    error: str | None,
) -> BatchJobInfo:
    from modelyard.batch.service import _info

    rows_out = sum(sum(g.rows_out.values()) for g in done)
    rejected = sum(sum(g.rows_rejected.values()) for g in done)
    rows_in = rows_out + rejected
    checks = BatchChecks()
    for group in done:
        checks.add(group.warnings, group.rejects)
    summary = {
        "warnings": dict(sorted(checks.warnings.items())),
        "rejects_by_reason": dict(sorted(checks.rejects.items(), key=lambda kv: -kv[1])),
        "reject_rate": round(rejected / rows_in, 6) if rows_in else 0.0,
        "buckets_done": sorted(b for g in done for b in g.buckets),
    }
    with service._store.write() as session:
        row = session.get(BatchJob, job_id)
        assert row is not None
        row.status = status
        row.rows_in, row.rows_out, row.rows_rejected = rows_in, rows_out, rejected
        row.params = {**params, **summary}
        row.error = error
        row.ended_at = now_ms()
        session.flush()
        audit.append(
            session,
            service._user,
            "batch.finish" if status == "FINISHED" else f"batch.{status.lower()}",
            f"batch/{job_id}",
            {
                "model": f"model/{row.model_name}/{row.model_version}",
                "status": status,
                "input_lineage": params["input"],
                "output": row.output_uri,
                "rows_in": rows_in,
                "rows_out": rows_out,
                "rows_rejected": rejected,
                "error": error,
            },
        )
        return _info(session, row)
