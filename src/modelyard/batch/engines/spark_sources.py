"""Spark as the engine, not the scheduler: Spark reads, ``mapInArrow`` scores, Spark writes.

The input is any :class:`~modelyard.batch.spark_io.SparkSource` read by
Spark's own readers (partition pruning, pushed-down filters, JDBC
partitioning); each row gets a bucket number ``pmod(xxhash64(id), buckets)``
(or of the whole row without an id column); ``mapInArrow`` scores Arrow
batches on the executors with the same :func:`~modelyard.batch.scoring.score_batch`
as every engine, the model loaded once per Python worker from files shipped
with ``addFile`` and verified against the registry's digests (the registry's
safe formats; no pickle unless the version is trusted code). One pass scores
every bucket still to do (the source is read once) and keeps the result,
memory then disk; Spark's writer then commits from it a group of buckets at a
time with dynamic partition overwrite —
partitioned files, ``saveAsTable``/``insertInto`` — so a group is either
wholly in the output or not at all, and writing it again replaces it: that is
what makes a resumed job idempotent. JDBC and connector sinks have no
partition commit: they are written whole, in one overwrite.

Rejected rows (a wrong type; an out-of-domain value the version's policy
refuses) go to the sink's rejects location with ``_reason``, partitioned the
same way.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from modelyard.batch.bundle import ModelBundle, loads_in_process
from modelyard.batch.engines.spark import first_line, worker_model
from modelyard.batch.scoring import (
    REASON,
    BatchChecks,
    ScoringModel,
    ScoringSpec,
    output_schema,
    score_batch,
)
from modelyard.batch.spark_io import SparkSink, SparkSource, jdbc_credentials, jdbc_driver
from modelyard.errors import BackendUnavailable, InvalidInput

__all__ = [
    "GroupResult",
    "SparkPlan",
    "present_buckets",
    "read_source",
    "score_pass",
    "sink_exists",
    "source_lineage",
    "write_group",
]

REJECTED_INPUT = "__rejected_input"
"""The mapped rows' struct of a rejected row's input columns (those the output does not
keep); null on a scored row. One struct, not a column per input: Spark's cache of the
scored rows then holds one null a row instead of one per input column (1M rows on
local[2]: about 8 % more rows/s)."""


# ---------------------------------------------------------------- reading


def read_source(session: Any, source: SparkSource) -> Any:
    """The source as a Spark DataFrame (lazy: only the schema is resolved)."""
    try:
        if source.kind == "table":
            return session.table(source.location)
        reader = session.read
        if source.kind == "path":
            return (
                reader.format(source.format).options(**dict(source.options)).load(source.location)
            )
        if source.kind == "jdbc":
            options = _jdbc_options(source.location, dict(source.options), output=False)
            if source.jdbc_table is not None:
                options["dbtable"] = source.jdbc_table
            else:
                options["query"] = str(source.query)
            return reader.format("jdbc").options(**options).load()
        return reader.format(source.format).options(**dict(source.options)).load()
    except Exception as exc:  # Py4J and the JVM raise their own types
        raise _source_error(source, exc) from exc


def _jdbc_options(url: str, options: dict[str, str], *, output: bool) -> dict[str, str]:
    merged = {"url": url, **options, **jdbc_credentials(output=output)}
    driver = jdbc_driver(url)
    if driver is not None:
        merged.setdefault("driver", driver)
    return merged


def _source_error(source: SparkSource, exc: BaseException) -> Exception:
    text = first_line(exc)
    lowered = text.lower()
    missing = ("not found", "cannot be found", "does not exist", "path_not_found", "no such")
    if any(s in lowered for s in missing):
        return InvalidInput(f"input {source.describe()}: not found ({text})")
    return BackendUnavailable(f"Spark could not read input {source.describe()}: {text}")


def source_lineage(session: Any, source: SparkSource, frame: Any) -> dict[str, Any]:
    """What identifies the data read: files with sizes and times, a table's snapshot/version.

    Files (paths, file-based tables) are identified by count, total size and
    latest modification time, read through Spark's own filesystem; a Delta
    table by its version, an Iceberg table by its snapshot id. A JDBC source
    has no snapshot: its URL and table or query are recorded.
    """
    lineage: dict[str, Any] = {"kind": source.kind, "source": source.describe()}
    if source.kind == "table":
        lineage["table"] = source.location
        lineage.update(_table_details(session, source.location))
    if source.kind == "jdbc":
        lineage.update(url=source.location, table=source.jdbc_table, query=source.query)
        return lineage
    if source.kind == "connector":
        lineage.update(format=source.format, options=dict(source.options))
        return lineage
    with contextlib.suppress(Exception):  # not every source lists files (views, Iceberg)
        lineage.update(_files_summary(session, frame.inputFiles()))
    return lineage


COUNTED_FORMATS = frozenset({"parquet", "orc", "delta"})
"""Formats whose rows Spark counts from metadata (footers, the Delta log), not values."""


def forecast_rows(source: SparkSource, frame: Any, lineage: Mapping[str, Any]) -> int | None:
    """The rows the job will read, where counting them costs no pass over the values.

    Spark counts Parquet and ORC rows from the files' footers (and Delta's from its
    log) without decoding a column: a second or two, against a scoring pass of
    minutes. The count tells each Python worker its share, so that a large share
    compiles the tree kernel at load (:meth:`ModelBundle.for_job`). CSV, JSON,
    JDBC and connectors would be read in full to count: None, and the workers
    keep the deferral.
    """
    if source.kind == "path":
        fmt = str(source.format or "").lower()
    elif source.kind == "table":
        fmt = str(lineage.get("provider", "")).lower()
    else:
        return None
    if fmt not in COUNTED_FORMATS:
        return None
    return int(frame.count())  # an unreadable file fails here as it would in the pass


def _table_details(session: Any, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        rows = session.sql(f"DESCRIBE TABLE EXTENDED {name}").collect()
        info = {str(r[0]).strip(): str(r[1]).strip() for r in rows if r[0] and r[1] is not None}
        for key in ("Location", "Provider", "Type", "Created Time"):
            if info.get(key):
                details[key.lower().replace(" ", "_")] = info[key]
    provider = details.get("provider", "").lower()
    if provider == "delta":
        with contextlib.suppress(Exception):
            row = session.sql(f"DESCRIBE HISTORY {name} LIMIT 1").collect()[0]
            details["version"] = int(row["version"])
            details["version_time"] = str(row["timestamp"])
    elif provider == "iceberg":
        with contextlib.suppress(Exception):
            row = session.sql(
                f"SELECT snapshot_id, committed_at FROM {name}.snapshots "
                "ORDER BY committed_at DESC LIMIT 1"
            ).collect()[0]
            details["snapshot_id"] = int(row["snapshot_id"])
            details["version_time"] = str(row["committed_at"])
    return details


def _files_summary(session: Any, files: Sequence[str]) -> dict[str, Any]:
    jvm = session._jvm
    conf = session._jsc.hadoopConfiguration()
    total, latest = 0, 0
    for name in files:
        path = jvm.org.apache.hadoop.fs.Path(name)
        status = path.getFileSystem(conf).getFileStatus(path)
        total += int(status.getLen())
        latest = max(latest, int(status.getModificationTime()))
    return {"files": len(files), "bytes": total, "last_modified_ms": latest}


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class SparkPlan:
    """One job's columns and types, decided on the driver before anything runs."""

    scoring: ScoringSpec  # kept columns include the partition column
    input_schema: pa.Schema  # the selected input columns + the partition column
    output_schema: pa.Schema  # scored rows, Spark's Arrow types
    mapped_schema: pa.Schema  # scored and rejected rows together, Spark's Arrow types
    sink: SparkSink
    rejects: SparkSink

    @property
    def kept(self) -> list[str]:
        return self.scoring.kept_columns

    @property
    def reject_inputs(self) -> list[str]:
        return [f.name for f in self.input_schema if f.name not in self.kept]


def col(name: str) -> Any:
    """A column by its exact name (dots and spaces are part of it, not struct access)."""
    from pyspark.sql import functions as sf

    return sf.col("`" + name.replace("`", "``") + "`")


def with_buckets(frame: Any, sink: SparkSink, id_column: str | None) -> Any:
    """The frame with the partition column: a stable hash of the id (or the whole row)."""
    from pyspark.sql import functions as sf

    if sink.partition_column in frame.columns:
        raise InvalidInput(
            f"partition_column: the input already has a column {sink.partition_column!r}; "
            "choose another --partition-column"
        )
    keys = [col(id_column)] if id_column else [col(c) for c in frame.columns]
    bucket = sf.pmod(sf.xxhash64(*keys), sf.lit(sink.buckets)).cast("int")
    return frame.withColumn(sink.partition_column, bucket)


def spark_arrow_schema(session: Any, struct: Any) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(struct, timezone=session.conf.get("spark.sql.session.timeZone"))


def make_plan(
    session: Any,
    model_schema: Callable[[pa.Schema, ScoringSpec], pa.Schema],
    frame: Any,
    scoring: ScoringSpec,
    sink: SparkSink,
) -> SparkPlan:
    """Column plan: the scorer's output schema and the one ``mapInArrow`` returns."""
    from pyspark.sql.pandas.types import from_arrow_schema

    input_schema = spark_arrow_schema(session, frame.schema)
    out = model_schema(input_schema, scoring)
    out_struct = from_arrow_schema(out)
    out_arrow = spark_arrow_schema(session, out_struct)
    extra = [f for f in input_schema if f.name not in scoring.kept_columns]
    rejected = [pa.field(REJECTED_INPUT, pa.struct(extra))] if extra else []
    mapped = pa.schema([*out_arrow, *rejected, pa.field(REASON, pa.string())])
    mapped = spark_arrow_schema(session, from_arrow_schema(mapped))
    return SparkPlan(scoring, input_schema, out_arrow, mapped, sink, sink.rejects())


def output_schema_of(model: ScoringModel) -> Callable[[pa.Schema, ScoringSpec], pa.Schema]:
    def schema(input_schema: pa.Schema, spec: ScoringSpec) -> pa.Schema:
        return output_schema(model, spec, input_schema)

    return schema


# ---------------------------------------------------------------- scoring (executors)


def _no_checks() -> dict[str, Any]:
    """The accumulator's zero (see :class:`_ChecksParam`)."""
    return {
        "groups": {},
        "cpu_seconds": 0.0,
        "peak_rss_mb": 0.0,
        "evaluators": [],
        "model_loads": 0,
    }


class _ChecksParam:
    """Accumulator of a scoring pass: per commit group, warning and reject-reason counts;
    the Python workers' CPU seconds, peak RSS, evaluators and model loads (for the job's
    record). A task Spark runs again (a cached partition lost and recomputed for a later
    commit) adds its counts again: the rows per bucket come from the cache, not from
    here, and stay exact."""

    def zero(self, value: dict[str, Any]) -> dict[str, Any]:
        return _no_checks()

    def addInPlace(  # noqa: N802 (PySpark's AccumulatorParam API)
        self, a: dict[str, Any], b: dict[str, Any]
    ) -> dict[str, Any]:
        for group, counts in (b.get("groups") or {}).items():
            into = a["groups"].setdefault(group, {"warnings": {}, "rejects": {}})
            for kind in ("warnings", "rejects"):
                for key, n in (counts.get(kind) or {}).items():
                    into[kind][key] = into[kind].get(key, 0) + int(n)
        a["cpu_seconds"] = a.get("cpu_seconds", 0.0) + float(b.get("cpu_seconds") or 0.0)
        a["peak_rss_mb"] = max(a.get("peak_rss_mb", 0.0), float(b.get("peak_rss_mb") or 0.0))
        a["evaluators"] = sorted({*a.get("evaluators", ()), *(b.get("evaluators") or ())})
        a["model_loads"] = int(a.get("model_loads", 0)) + int(b.get("model_loads") or 0)
        return a


def new_accumulator(session: Any) -> Any:
    """A fresh accumulator for one scoring pass (see :class:`_ChecksParam`)."""
    return session.sparkContext.accumulator(_no_checks(), _ChecksParam())


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    table = table.replace_schema_metadata(None)
    if table.schema.equals(schema):
        return table
    arrays = [table.column(f.name).cast(f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def scorer(
    bundle: ModelBundle,
    model_name: str,
    compiled_name: str | None,
    plan: SparkPlan,
    accumulator: Any,
    groups: Sequence[Sequence[int]],
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function: Arrow batches in, scored and rejected rows out.

    One pass scores every bucket of ``groups``; the warnings and reject reasons
    are counted per commit group (rows of a batch split by their bucket's group
    when a batch holds several), so that each committed group records its own.
    """
    input_schema, mapped, spec = plan.input_schema, plan.mapped_schema, plan.scoring
    kept = plan.kept
    column = plan.sink.partition_column
    group_of = {b: n for n, group in enumerate(groups) for b in group}

    def score(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import resource
        import time

        import numpy as np

        before = loads_in_process()
        model = worker_model(bundle, model_name, compiled_name)  # verified, once per worker
        loads = loads_in_process() - before  # 0 in a worker the warm-up stage loaded
        cpu_started = time.process_time()
        lookup = np.full(max(group_of, default=0) + 1, -1, dtype=np.int64)
        for bucket, number in group_of.items():
            lookup[bucket] = number
        checks: dict[int, BatchChecks] = {}
        for batch in batches:
            table = pa.Table.from_batches([batch]).rename_columns(input_schema.names)
            table = _conform(table, input_schema)
            for number, piece in _by_group(table, column, lookup):
                scored, rejected = score_batch(
                    model, piece, spec, checks.setdefault(number, BatchChecks())
                )
                if scored.num_rows:
                    yield from _as_mapped(scored, mapped).to_batches()
                if rejected.num_rows:
                    yield from _as_mapped(rejected, mapped, kept).to_batches()
        accumulator.add(
            {
                "groups": {
                    str(n): {"warnings": c.warnings, "rejects": c.rejects}
                    for n, c in checks.items()
                },
                "cpu_seconds": time.process_time() - cpu_started,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "evaluators": [model.evaluator] if model.evaluator else [],
                "model_loads": loads,
            }
        )

    return score


def _by_group(table: pa.Table, column: str, lookup: Any) -> Iterator[tuple[int, pa.Table]]:
    """The rows of ``table`` split by commit group (in one piece when they share one)."""
    import numpy as np

    buckets = table.column(column).to_numpy()
    groups = lookup[buckets]
    first = int(groups[0]) if len(groups) else 0
    if not len(groups) or bool((groups == first).all()):
        yield first, table
        return
    order = np.argsort(groups, kind="stable")
    ordered = groups[order]
    starts = np.flatnonzero(np.diff(ordered)) + 1
    taken = table.take(pa.array(order))
    bounds = [0, *starts.tolist(), len(order)]
    for start, end in itertools.pairwise(bounds):
        yield int(ordered[start]), taken.slice(start, end - start)


def _as_mapped(table: pa.Table, schema: pa.Schema, kept: Sequence[str] | None = None) -> pa.Table:
    """Scored rows (``kept`` None) or rejected rows (their ``kept`` columns, their other
    inputs in the :data:`REJECTED_INPUT` struct, their reason) in the mapped schema."""
    rejected = kept is not None
    arrays: list[pa.Array | pa.ChunkedArray] = []
    for f in schema:
        if f.name == REJECTED_INPUT:
            if rejected:
                children = [table.column(c.name).combine_chunks().cast(c.type) for c in f.type]
                arrays.append(pa.StructArray.from_arrays(children, fields=list(f.type)))
            else:
                arrays.append(pa.nulls(table.num_rows, f.type))
        elif f.name in table.column_names and (not rejected or f.name in kept or f.name == REASON):
            arrays.append(table.column(f.name).cast(f.type))
        else:
            arrays.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


# ---------------------------------------------------------------- writing


@dataclass(frozen=True)
class GroupResult:
    """What one committed group of buckets holds."""

    buckets: tuple[int, ...]
    rows_out: dict[int, int]
    rows_rejected: dict[int, int]
    warnings: dict[str, int]
    rejects: dict[str, int]

    @property
    def rows_in(self) -> int:
        return sum(self.rows_out.values()) + sum(self.rows_rejected.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "buckets": list(self.buckets),
            "rows_out": {str(k): v for k, v in sorted(self.rows_out.items())},
            "rows_rejected": {str(k): v for k, v in sorted(self.rows_rejected.items())},
            "warnings": self.warnings,
            "rejects": self.rejects,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupResult:
        return cls(
            tuple(int(b) for b in data["buckets"]),
            {int(k): int(v) for k, v in (data.get("rows_out") or {}).items()},
            {int(k): int(v) for k, v in (data.get("rows_rejected") or {}).items()},
            dict(data.get("warnings") or {}),
            dict(data.get("rejects") or {}),
        )


def ship_bundle(session: Any, bundle: ModelBundle) -> tuple[str, str | None]:
    """Send the model's files to every executor once; their names under SparkFiles."""
    context = session.sparkContext
    context.addFile(bundle.model_dir, recursive=True)
    if bundle.compiled_dir is not None:
        context.addFile(bundle.compiled_dir, recursive=True)
    compiled = Path(bundle.compiled_dir).name if bundle.compiled_dir else None
    return Path(bundle.model_dir).name, compiled


def score_pass(
    frame: Any,
    plan: SparkPlan,
    buckets: Sequence[int],
    score: Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]],
) -> tuple[Any, dict[int, int], dict[int, int]]:
    """Score buckets ``buckets`` of ``frame`` in one pass, kept (memory, then disk) for
    the commits; rows out and rows rejected per bucket.

    One pass reads the source once, whatever the number of commit groups (a
    group scored on its own would read the whole source again to find its
    buckets). Call ``unpersist()`` on the frame when the groups are committed.
    """
    from pyspark import StorageLevel
    from pyspark.sql.pandas.types import from_arrow_schema

    column = plan.sink.partition_column
    subset = frame
    if plan.sink.partial_resume and len(buckets) < plan.sink.buckets:
        subset = frame.where(col(column).isin(list(buckets)))
    # Positional names going in: PySpark's mapInArrow resolves each input column by
    # name, and a name with a dot ("bureau.score") would be read as a struct field.
    # The scorer gives the columns their names back (the plan's input schema).
    subset = subset.select(*[col(c).alias(f"c{i}") for i, c in enumerate(subset.columns)])
    mapped = subset.mapInArrow(score, from_arrow_schema(plan.mapped_schema))
    mapped = mapped.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = mapped.groupBy(column, col(REASON).isNotNull().alias("rejected")).count().collect()
    except BaseException:
        mapped.unpersist()
        raise
    rows_out = {b: 0 for b in buckets}
    rows_rejected = {b: 0 for b in buckets}
    for row in counts:
        target = rows_rejected if row["rejected"] else rows_out
        target[int(row[column])] = int(row["count"])
    return mapped, rows_out, rows_rejected


def write_group(
    session: Any,
    mapped: Any,
    plan: SparkPlan,
    group: Sequence[int],
    number: int,
    rows_out: dict[int, int],
    rows_rejected: dict[int, int],
    accumulator: Any,
) -> GroupResult:
    """Commit buckets ``group`` (commit group ``number``) of a :func:`score_pass` result:
    rejects first, then scores, each with the sink's commit protocol."""
    column = plan.sink.partition_column
    rows = mapped.where(col(column).isin(list(group))) if plan.sink.partial_resume else mapped
    out = {b: rows_out.get(b, 0) for b in group}
    rejected = {b: rows_rejected.get(b, 0) for b in group}
    if sum(rejected.values()):
        rejects = rows.where(col(REASON).isNotNull()).select(
            *[col(c) for c in plan.kept if c != column],
            *[col(REJECTED_INPUT).getField(c).alias(c) for c in plan.reject_inputs],
            col(REASON),
            col(column),
        )
        write_frame(session, rejects, plan.rejects)
    scores = rows.where(col(REASON).isNull()).select(
        *[col(f.name) for f in plan.output_schema if f.name != column], col(column)
    )
    write_frame(session, scores, plan.sink)
    checks = (accumulator.value.get("groups") or {}).get(str(number)) or {}
    return GroupResult(
        tuple(group),
        out,
        rejected,
        dict(checks.get("warnings") or {}),
        dict(checks.get("rejects") or {}),
    )


def write_frame(session: Any, frame: Any, sink: SparkSink) -> None:
    """Commit ``frame`` to ``sink`` with Spark's writer and output commit protocol."""
    column = sink.partition_column
    if sink.kind == "path":
        (
            frame.write.mode("overwrite")
            .option("partitionOverwriteMode", "dynamic")
            .partitionBy(column)
            .format(sink.format)
            .options(**dict(sink.options))
            .save(sink.location)
        )
    elif sink.kind == "table":
        if session.catalog.tableExists(sink.location):
            columns = session.table(sink.location).columns
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                raise InvalidInput(
                    f"output_table: table {sink.location} has columns {missing} that the "
                    "scores do not; write to a new table or pass --overwrite"
                )
            frame.select(*[col(c) for c in columns]).write.insertInto(sink.location, overwrite=True)
        else:
            frame.write.partitionBy(column).format(sink.format).saveAsTable(sink.location)
    elif sink.kind == "jdbc":
        options = _jdbc_options(sink.location, dict(sink.options), output=True)
        options.update(dbtable=str(sink.jdbc_table), truncate="true")
        frame.write.format("jdbc").options(**options).mode("overwrite").save()
    else:
        frame.write.format(sink.format).options(**dict(sink.options)).mode("overwrite").save()


@contextlib.contextmanager
def job_settings(session: Any, batch_rows: int) -> Iterator[None]:
    """Dynamic partition overwrite (for ``insertInto`` too) and Arrow batches of
    ``batch_rows`` rows for the job; the session's own values are restored afterwards."""
    wanted = {
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(batch_rows),
        # The scored rows are cached only until the job's groups are committed: Spark's
        # cache compression (statistics of every column of every batch, then encoding)
        # cost more CPU than it saved (1M rows on local[2]: 15.9 s against 18.3 s).
        "spark.sql.inMemoryColumnarStorage.compressed": "false",
    }
    before = {key: session.conf.get(key) for key in wanted}
    for key, value in wanted.items():
        session.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            session.conf.set(key, value)


# ---------------------------------------------------------------- the output's state


def _hadoop_path(session: Any, location: str) -> tuple[Any, Any]:
    jvm = session._jvm
    path = jvm.org.apache.hadoop.fs.Path(location)
    return path.getFileSystem(session._jsc.hadoopConfiguration()), path


def sink_exists(session: Any, sink: SparkSink) -> bool:
    """Whether the output already holds something (a non-empty folder, a table)."""
    if sink.kind == "path":
        fs, path = _hadoop_path(session, sink.location)
        if not fs.exists(path):
            return False
        return any(not str(s.getPath().getName()).startswith((".", "_"))
                   for s in fs.listStatus(path))  # fmt: skip
    if sink.kind == "table":
        return bool(session.catalog.tableExists(sink.location))
    if sink.kind == "jdbc":
        options = _jdbc_options(sink.location, dict(sink.options), output=True)
        options["query"] = f"SELECT * FROM {sink.jdbc_table} WHERE 1 = 0"
        try:
            session.read.format("jdbc").options(**options).load()
        except Exception:  # no such table (or no access: the write will say so)
            return False
        return True
    return False


def remove_sink(session: Any, sink: SparkSink) -> None:
    """Delete a folder or drop a table (``--overwrite``); JDBC/connectors are overwritten whole."""
    if sink.kind == "path":
        fs, path = _hadoop_path(session, sink.location)
        if fs.exists(path):
            fs.delete(path, True)
    elif sink.kind == "table":
        session.sql(f"DROP TABLE IF EXISTS {sink.location}")


def present_buckets(session: Any, sink: SparkSink) -> set[int]:
    """Buckets committed in a partitioned output (folder ``col=N``, or a table partition)."""
    prefix = f"{sink.partition_column}="
    found: set[int] = set()
    if sink.kind == "path":
        fs, path = _hadoop_path(session, sink.location)
        if not fs.exists(path):
            return found
        names = [str(s.getPath().getName()) for s in fs.listStatus(path) if s.isDirectory()]
    elif sink.kind == "table":
        if not session.catalog.tableExists(sink.location):
            return found
        rows = session.sql(f"SHOW PARTITIONS {sink.location}").collect()
        names = [str(r[0]) for r in rows]
    else:
        return found
    for name in names:
        if name.startswith(prefix):
            with contextlib.suppress(ValueError):
                found.add(int(name[len(prefix) :]))
    return found


def summary_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)
