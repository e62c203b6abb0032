"""Reading one part of the input and writing its scored output: the same on every engine.

A worker — a local process, a Dask worker or a Spark executor — gets a
:class:`WorkSpec` (small and picklable) and a part number. It streams the
part in record batches of ``batch_rows``, scores each with
:func:`~modelyard.batch.scoring.score_batch`, appends the results to
temporary Parquet files, renames them into place, and then writes the part's
completion marker. Memory is bounded by one batch, whatever the part's size.
"""

from __future__ import annotations

import contextlib
import queue
import resource
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.batch._fs import OutputDir
from modelyard.batch.defaults import DEFAULT_BATCH_ROWS
from modelyard.batch.job import InputFile, InputListing, Part, PartResult
from modelyard.batch.scoring import (
    BatchChecks,
    ScoringModel,
    ScoringSpec,
    output_schema,
    rejects_schema,
    score_batch,
)
from modelyard.errors import BackendUnavailable, InvalidInput

__all__ = [
    "WorkSpec",
    "cpu_seconds",
    "csv_listing",
    "read_part",
    "rows_of",
    "run_part",
    "score_part",
]

_CSV_BLOCK = 8 << 20


@dataclass(frozen=True)
class WorkSpec:
    """What any worker needs to score any part of one job."""

    job_id: str
    format: str
    protocol: str
    files: tuple[InputFile, ...]
    parts: tuple[Part, ...]
    input_schema: pa.Schema
    output: OutputDir
    scoring: ScoringSpec
    batch_rows: int = DEFAULT_BATCH_ROWS
    storage_options: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return max(5, len(str(len(self.parts) - 1)))

    def input_fs(self) -> Any:
        import fsspec

        options = dict(self.storage_options) if self.protocol != "file" else {}
        if self.protocol in ("s3", "gs", "gcs"):
            options.setdefault("use_listings_cache", False)
        return fsspec.filesystem(self.protocol, **options)


def rows_of(work: WorkSpec, todo: Iterable[int]) -> int | None:
    """Rows in the parts ``todo`` (None when one's count is unknown: a CSV file)."""
    total = 0
    for index in todo:
        rows = work.parts[index].rows
        if rows is None:
            return None
        total += rows
    return total


def read_part(work: WorkSpec, part: Part, *, use_threads: bool = True) -> Iterator[pa.Table]:
    """The part's rows in tables of at most ``batch_rows``, conformed to the job's input schema."""
    item = work.files[part.file]
    fs = work.input_fs()
    try:
        if work.format == "parquet":
            yield from _read_parquet(work, item, part, fs, use_threads)
        else:
            yield from _read_csv(work, item, fs, use_threads)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"input file {item.url!r} cannot be read: {exc}") from exc
    except OSError as exc:
        raise BackendUnavailable(f"Could not read input file {item.url!r}: {exc}") from exc


def _read_parquet(
    work: WorkSpec, item: InputFile, part: Part, fs: Any, use_threads: bool
) -> Iterator[pa.Table]:
    source = item.path if work.protocol == "file" else fs.open(item.path, "rb")
    # A row range inside the groups (a split large row group): rows before ``skip``
    # are decoded and dropped — Parquet pages cannot be skipped by row number here —
    # and reading stops after ``rows``.
    skip = part.skip
    left = part.rows
    try:
        # No pre-buffering: row groups are read column by column, not whole, which
        # keeps the reader's memory to about one batch.
        parquet = pq.ParquetFile(source, pre_buffer=False)
        for batch in parquet.iter_batches(
            batch_size=work.batch_rows,
            row_groups=list(range(part.start, part.stop)),
            use_threads=use_threads,
        ):
            if skip >= batch.num_rows:
                skip -= batch.num_rows
                continue
            if skip:
                batch, skip = batch.slice(skip), 0
            if left is not None:
                if batch.num_rows > left:
                    batch = batch.slice(0, left)
                left -= batch.num_rows
            if batch.num_rows:
                yield _conform(pa.Table.from_batches([batch]), work.input_schema)
            if left == 0:
                return
    finally:
        if not isinstance(source, str):
            source.close()


def _read_csv(work: WorkSpec, item: InputFile, fs: Any, use_threads: bool) -> Iterator[pa.Table]:
    import pyarrow.csv as pacsv

    types = {f.name: f.type for f in work.input_schema}
    with fs.open(item.path, "rb", compression="infer") as fh:
        reader = pacsv.open_csv(
            fh,
            read_options=pacsv.ReadOptions(block_size=_CSV_BLOCK, use_threads=use_threads),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
        )
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            while rows >= work.batch_rows:
                table = pa.Table.from_batches(pending)
                yield _conform(table.slice(0, work.batch_rows), work.input_schema)
                rest = table.slice(work.batch_rows)
                pending, rows = rest.to_batches(), rest.num_rows
        if rows:
            yield _conform(pa.Table.from_batches(pending), work.input_schema)


def csv_listing(fs: Any, listing: InputListing, text_columns: Iterable[str]) -> InputListing:
    """The CSV listing with each file's header and the types every part will read with.

    ``text_columns`` (the signature's) are read as text and parsed per row by
    the scoring function; other columns keep the types Arrow infers from the
    first file's first block, fixed for every part so all parts agree.
    """
    import pyarrow.csv as pacsv

    text = set(text_columns)
    schema: pa.Schema | None = None
    files = []
    for item in listing.files:
        try:
            with fs.open(item.path, "rb", compression="infer") as fh:
                reader = pacsv.open_csv(
                    fh,
                    read_options=pacsv.ReadOptions(block_size=1 << 20),
                    convert_options=pacsv.ConvertOptions(
                        column_types={name: pa.string() for name in text},
                        strings_can_be_null=True,
                    ),
                )
                header = reader.schema
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"input file {item.url!r} is not readable CSV: {exc}") from exc
        schema = schema or header
        files.append(replace(item, columns=tuple(header.names)))
    assert schema is not None
    names = list(schema.names)
    for item in files[1:]:
        names += [c for c in item.columns if c not in names]
    fields = [schema.field(n) if n in schema.names else pa.field(n, pa.string()) for n in names]
    return listing.with_schema(pa.schema(fields), tuple(files))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Columns in the job's order and types; a column some file lacks becomes nulls."""
    table = table.replace_schema_metadata(None)
    if table.schema.equals(schema):
        return table
    arrays = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def score_part(
    model: ScoringModel,
    work: WorkSpec,
    part: Part,
    tables: Iterable[pa.Table],
    on_rows: Callable[[int], None] | None = None,
    *,
    since: tuple[float, float] | None = None,
) -> PartResult:
    """Score ``tables`` (the part's rows) and commit the part's files, then its marker.

    ``since``: (``time.perf_counter()``, :func:`cpu_seconds`) when the part's
    work began, for an engine that reads the part before calling this; the
    part's seconds and CPU then include the read, as they do when ``tables``
    streams from storage.
    """
    started, cpu_started = since or (time.perf_counter(), cpu_seconds())
    out, width = work.output, work.width
    name = out.part_name(part.index, width)
    rejects_name = out.rejects_name(part.index, width)
    rows_in = rows_out = rows_rejected = 0
    checks = BatchChecks()
    rejects_temp = None
    rejects_writer: pq.ParquetWriter | None = None
    scored_all = False
    with out.open_temp(name) as (temp, fh):
        writer = pq.ParquetWriter(fh, output_schema(model, work.scoring, work.input_schema))
        try:
            for table in tables:
                scored, rejected = score_batch(model, table, work.scoring, checks)
                rows_in += table.num_rows
                rows_out += scored.num_rows
                if scored.num_rows:
                    writer.write_table(scored)
                if rejected.num_rows:
                    if rejects_writer is None:
                        rejects_temp, rejects_writer = _open_rejects(out, rejects_name, work)
                    rejects_writer.write_table(rejected)
                    rows_rejected += rejected.num_rows
                if on_rows is not None:
                    on_rows(table.num_rows)
            scored_all = True
        finally:
            writer.close()
            if rejects_writer is not None:
                rejects_writer.close()
                handle = rejects_writer.where  # type: ignore[attr-defined]
                try:
                    if scored_all:  # on the device before its rename and the marker
                        out.sync(handle, rejects_name)
                finally:
                    handle.close()
    if rejects_temp is not None:
        out.commit(rejects_temp, rejects_name)
    else:
        out.remove(rejects_name)  # a stale file from an earlier attempt must not linger
    out.commit(temp, name)
    result = PartResult(
        index=part.index,
        rows_in=rows_in,
        rows_out=rows_out,
        rows_rejected=rows_rejected,
        seconds=time.perf_counter() - started,
        output=name,
        rejects=rejects_name if rejects_temp is not None else None,
        peak_rss_mb=peak_rss_mb(),
        cpu_seconds=round(cpu_seconds() - cpu_started, 3),
        warnings=checks.warnings,
        reject_reasons=checks.rejects,
        scorer=model.form,
        scorer_reason=model.reason,
        evaluator=model.evaluator,
    )
    out.write_marker(out.marker_name(part.index, width), result.to_dict())
    return result


def _open_rejects(out: OutputDir, rel: str, work: WorkSpec) -> tuple[str, pq.ParquetWriter]:
    temp = out.temp_name(rel)
    handle = out.fs.open(out.path(temp), "wb")
    writer = pq.ParquetWriter(handle, rejects_schema(work.input_schema))
    writer.where = handle  # type: ignore[attr-defined]  # closed with the writer
    return temp, writer


def run_part(
    model: ScoringModel,
    work: WorkSpec,
    index: int,
    on_rows: Callable[[int], None] | None = None,
    *,
    use_threads: bool = True,
) -> PartResult:
    """Read, score and write part ``index`` of the job.

    The next batch is read and decoded in a background thread while the model
    scores the current one (tree ensembles release the GIL), so a worker keeps
    one core on the model; at most two batches are in memory at a time.
    """
    part = work.parts[index]
    tables = prefetch(read_part(work, part, use_threads=use_threads))
    try:
        return score_part(model, work, part, tables, on_rows)
    finally:
        tables.close()


_END = object()


def prefetch(tables: Iterator[pa.Table]) -> Generator[pa.Table, None, None]:
    """Iterate ``tables`` one item ahead, produced by a background thread."""
    ready: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for table in tables:
                while not stop.is_set():
                    try:
                        ready.put(table, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(exc)

    thread = threading.Thread(target=produce, name="modelyard-batch-read", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            ready.get_nowait()  # let a producer blocked on put() see the stop
        thread.join()


def tune_worker_memory() -> None:
    """Make a scoring process hand freed memory back: flat RSS, whatever the input size.

    Arrow's default allocator keeps freed pages for reuse; a worker that
    allocates one batch after another then holds several batches' worth.
    jemalloc with immediate decay returns them to the system.
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):  # built without jemalloc
        return
    pa.set_memory_pool(pool)
    pa.jemalloc_set_decay_ms(0)


def cpu_seconds() -> float:
    """CPU time of this process so far (a worker scores one part at a time)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)
