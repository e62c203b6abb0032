"""One streaming pass over current data, binned against a reference profile.

``summarize(current, reference)`` reads each current batch once and keeps, per column,
what drift tests and quality checks need: fine-bin counts and offsets on the reference's
grid plus range for numerics, counts per reference category plus unseen values for
categoricals, null counts for all, and 64-bit keys of an id column. Memory is one batch
plus O(columns x grid), plus 8 bytes a row for an id column.

A Parquet source can be split by row groups over processes (``n_jobs``): this process
and ``n_jobs - 1`` spawned workers share the runs of row groups, and the summaries (all
sums, counts and extremes) are merged. ``n_jobs=None`` uses every core for Parquet
inputs of at least ``PARALLEL_MIN_ROWS`` rows and one process otherwise.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.errors import InvalidInput, ModelyardError
from modelyard.monitoring import _arrays
from modelyard.monitoring._source import ParquetPart, Source, as_source, is_string
from modelyard.monitoring.reference import ReferenceProfile

__all__ = ["PARALLEL_MIN_ROWS", "ColumnSummary", "CurrentSummary", "summarize"]

PARALLEL_MIN_ROWS = 2_000_000
UNSEEN_CAP = 1000  # distinct unseen categories kept by value; more are only counted


@dataclass
class ColumnSummary:
    """What one pass saw of one current column.

    ``count`` is the non-null values, ``nulls`` the others (NaN included). Numeric:
    ``n`` finite values, ``infs``, ``min``/``max`` (None without values), fine-bin
    ``counts``/``offsets`` on the reference grid. Categorical: ``counts`` per reference
    category (in the reference's order), ``unseen`` value -> count, ``unseen_other``
    (count of unseen values beyond ``UNSEEN_CAP`` distinct ones). ``error`` says why a
    column could not be read as its reference kind (its statistics are then empty).
    """

    name: str
    kind: str
    arrow_type: str
    count: int = 0
    nulls: int = 0
    n: int = 0
    infs: int = 0
    min: float | None = None
    max: float | None = None
    counts: np.ndarray | None = None
    offsets: np.ndarray | None = None
    unseen: dict[Any, int] = field(default_factory=dict)
    unseen_other: int = 0
    error: str | None = None
    nulls_known: bool = True

    @property
    def rows(self) -> int:
        return self.count + self.nulls

    @property
    def null_rate(self) -> float | None:
        return self.nulls / self.rows if self.rows else None

    def merge(self, o: ColumnSummary) -> None:
        self.count += o.count
        self.nulls += o.nulls
        self.n += o.n
        self.infs += o.infs
        if o.min is not None:
            self.min = o.min if self.min is None else min(self.min, o.min)
            self.max = o.max if self.max is None else max(self.max, o.max)
        if self.counts is not None and o.counts is not None:
            self.counts += o.counts
        if self.offsets is not None and o.offsets is not None:
            self.offsets += o.offsets
        for v, c in o.unseen.items():
            _add_unseen(self, v, c)
        self.unseen_other += o.unseen_other
        self.error = self.error or o.error


def _add_unseen(s: ColumnSummary, value: Any, count: int) -> None:
    if value in s.unseen or len(s.unseen) < UNSEEN_CAP:
        s.unseen[value] = s.unseen.get(value, 0) + count
    else:
        s.unseen_other += count


@dataclass
class CurrentSummary:
    """The result of one pass: row count, the current schema, and per-column summaries.

    ``schema`` maps every current column to its type name (``_arrays.type_name``) and
    ``kinds`` to its kind (``_arrays.column_kind``); ``columns`` holds the
    summarised ones. With an ``id_column``: ``id_count`` ids and ``duplicate_ids``,
    the rows whose id appeared before.
    """

    rows: int
    schema: dict[str, str]
    kinds: dict[str, str]
    columns: dict[str, ColumnSummary]
    id_column: str | None = None
    id_count: int | None = None
    duplicate_ids: int | None = None


class _Scanner:
    """Accumulates batches into ColumnSummaries for a fixed plan (picklable)."""

    def __init__(
        self,
        reference: ReferenceProfile,
        names: Sequence[str],
        schema: pa.Schema,
        id_column: str | None,
    ) -> None:
        self.names = list(names)
        self.id_column = id_column
        self.rows = 0
        self.summaries: dict[str, ColumnSummary] = {}
        self.grids: dict[str, Any] = {}
        self.keys: dict[str, pa.Array] = {}
        self.ids: list[np.ndarray] = []
        for name in self.names:
            ref = reference.columns[name]
            s = ColumnSummary(name, ref.kind, _arrays.type_name(schema.field(name).type))
            if ref.kind == "numeric" and ref.grid is not None:
                self.grids[name] = ref.grid_object()
                s.counts, s.offsets = self.grids[name].zeros()
            elif ref.kind in ("categorical", "boolean"):
                values = [v for v, _ in ref.categories or []]
                self.keys[name] = pa.array(values) if values else pa.array([], pa.string())
                s.counts = np.zeros(len(values), dtype=np.int64)
            self.summaries[name] = s

    def update(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for name in self.names:
            s = self.summaries[name]
            arr = _arrays.batch_column(batch, name)
            if s.error:
                continue
            try:
                if s.kind == "numeric":
                    self._numeric(s, arr)
                elif s.kind in ("categorical", "boolean"):
                    self._categorical(s, arr)
                else:
                    s.nulls += arr.null_count
                    s.count += len(arr) - arr.null_count
            except (pa.ArrowException, TypeError, ValueError) as exc:
                s.error = f"cannot read {s.arrow_type} values as {s.kind}: {exc}"
        if self.id_column is not None:
            self.ids.append(_arrays.hash_ids(_arrays.batch_column(batch, self.id_column)))

    def _numeric(self, s: ColumnSummary, arr: pa.Array) -> None:
        if _arrays.column_kind(arr.type) != "numeric":
            raise TypeError(f"type {arr.type} is not numeric")
        v, nulls, infs = _arrays.numeric_values(arr)
        s.nulls += nulls
        s.count += len(arr) - nulls
        s.infs += infs
        if not v.size:
            return
        lo, hi = float(v.min()), float(v.max())
        s.min = lo if s.min is None else min(s.min, lo)
        s.max = hi if s.max is None else max(s.max, hi)
        s.n += v.size
        grid = self.grids.get(s.name)
        if grid is not None:
            grid.accumulate(v, s.counts, s.offsets)

    def _categorical(self, s: ColumnSummary, arr: pa.Array) -> None:
        s.nulls += arr.null_count
        s.count += len(arr) - arr.null_count
        if arr.null_count == len(arr):
            return
        values, counts = _arrays.category_counts(arr)
        keys = self.keys[s.name]
        if len(keys):
            if values.type != keys.type:
                values = values.cast(keys.type)
            idx = pc.index_in(values, value_set=keys).fill_null(-1).to_numpy()
        else:
            idx = np.full(len(values), -1)
        hit = idx >= 0
        s.counts[idx[hit]] += counts[hit]
        miss = np.flatnonzero(~hit)
        if miss.size:
            for v, c in zip(values.take(pa.array(miss)).to_pylist(), counts[miss], strict=True):
                _add_unseen(s, v, int(c))

    def result(self) -> tuple[int, dict[str, ColumnSummary], np.ndarray | None]:
        ids = None
        if self.id_column is not None:
            ids = np.concatenate(self.ids) if self.ids else np.zeros(0, np.uint64)
        return self.rows, self.summaries, ids


def _scan_part(
    part: ParquetPart,
    reference: ReferenceProfile,
    names: list[str],
    schema: pa.Schema,
    id_column: str | None,
    read: list[str],
) -> Any:
    scanner = _Scanner(reference, names, schema, id_column)
    strings = [c for c in read if is_string(schema.field(c).type) and c != id_column]
    for batch in part.batches(read, strings):
        scanner.update(batch)
    return scanner.result()


def _jobs(n_jobs: int | None, src: Source) -> int:
    if n_jobs is None:
        big = src.files is not None and (src.num_rows or 0) >= PARALLEL_MIN_ROWS
        return (os.cpu_count() or 1) if big else 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise InvalidInput(
            f"The 'n_jobs' parameter must be an int >= 1, -1 or None. Got {n_jobs!r}."
        )
    return (os.cpu_count() or 1) if n_jobs == -1 else n_jobs


def _metadata_nulls(src: Source, name: str) -> int | None:
    """Null count of an unread Parquet column from the row-group statistics, if all have one."""
    import pyarrow.parquet as pq

    total = 0
    for path in src.files or []:
        meta = pq.ParquetFile(path).metadata
        j = meta.schema.to_arrow_schema().get_field_index(name)
        for i in range(meta.num_row_groups):
            st = meta.row_group(i).column(j).statistics
            if st is None or not st.has_null_count:
                return None
            total += st.null_count
    return total


def summarize(
    current: Any,
    reference: ReferenceProfile,
    *,
    columns: Iterable[str] | None = None,
    id_column: str | None = None,
    n_jobs: int | None = None,
) -> CurrentSummary:
    """Read ``current`` once and summarise it against ``reference``.

    Args:
        current: A DataFrame, Arrow table, Parquet path, callable returning record
            batches, or an iterable of them.
        reference: The profile whose grids and categories the data is binned on.
        columns: Reference columns to summarise (default: every reference column present
            in ``current``; identifier columns other than ``id_column`` only get null
            counts, from Parquet statistics when the input is Parquet).
        id_column: A column whose duplicate values are counted.
        n_jobs: Processes for a Parquet input (see the module docstring).

    Raises:
        InvalidInput: A parameter is invalid or the data cannot be read.
    """
    src = as_source(current, "current")
    schema = src.schema
    jobs = _jobs(n_jobs, src)
    if id_column is not None and id_column not in schema.names:
        raise InvalidInput(
            f"The 'id_column' {id_column!r} is not a column of the current data; it has "
            f"{schema.names}."
        )
    wanted = list(reference.columns if columns is None else columns)
    unknown = [c for c in wanted if c not in reference.columns]
    if unknown:
        raise InvalidInput(f"Column(s) {unknown} are not in the reference profile.")
    present = [c for c in wanted if c in schema.names]
    lazy = [c for c in present if reference.columns[c].kind == "identifier" and c != id_column]
    names = [c for c in present if c not in lazy]
    read = names + ([id_column] if id_column and id_column not in names else [])

    if jobs > 1 and src.files is not None:
        rows, sums, ids = _parallel(src, reference, names, id_column, read, jobs)
    else:
        scanner = _Scanner(reference, names, schema, id_column)
        for batch in src.batches(read):
            scanner.update(batch)
        rows, sums, ids = scanner.result()
        if not read and src.num_rows is not None:
            rows = src.num_rows
        elif not read:
            rows = sum(b.num_rows for b in src.batches([]))

    for c in lazy:  # identifiers: nulls without reading the strings when we can
        s = ColumnSummary(c, "identifier", _arrays.type_name(schema.field(c).type))
        if src.files is not None:
            nulls = _metadata_nulls(src, c)
            if nulls is None:  # not recorded by the writer
                s.nulls_known, nulls = False, 0
        else:
            nulls = sum(b.column(c).null_count for b in src.batches([c]))
        s.nulls, s.count = nulls, rows - nulls
        sums[c] = s

    summary = CurrentSummary(
        rows=rows,
        schema={f.name: _arrays.type_name(f.type) for f in schema},
        kinds={f.name: _arrays.column_kind(f.type) for f in schema},
        columns={c: sums[c] for c in present},
        id_column=id_column,
    )
    if ids is not None:
        ids.sort()
        summary.id_count = int(ids.size)
        summary.duplicate_ids = int(np.count_nonzero(ids[1:] == ids[:-1])) if ids.size else 0
    return summary


def _parallel(
    src: Source,
    reference: ReferenceProfile,
    names: list[str],
    id_column: str | None,
    read: list[str],
    jobs: int,
) -> tuple[int, dict[str, ColumnSummary], Any]:
    """Scan row-group runs with ``jobs - 1`` workers and this process, sharing the work.

    Workers take runs from the end while this process takes them from the start: it
    cancels a run's pending task before scanning it itself, and stops at the first run
    a worker has started. No one waits for a slow worker start (about 1.5 s to import).
    """
    # at least four runs a process, so that whoever is free takes the next one
    parts = src.parts(min_rows=min(1 << 18, max(1, (src.num_rows or 0) // (4 * jobs))))
    args = (reference, names, src.schema, id_column, read)
    if len(parts) < 2:
        return _scan_part(parts[0], *args) if parts else _Scanner(*args[:4]).result()
    ctx = multiprocessing.get_context("spawn")  # fork is unsafe once Arrow's threads run
    results = []
    with ProcessPoolExecutor(
        max_workers=max(1, min(jobs - 1, len(parts) - 1)), mp_context=ctx
    ) as pool:
        futures = {i: pool.submit(_scan_part, parts[i], *args) for i in reversed(range(len(parts)))}
        for i in range(len(parts)):
            if not futures[i].cancel():
                break
            del futures[i]
            results.append(_scan_part(parts[i], *args))
        try:
            results += [f.result() for f in futures.values()]
        except BrokenProcessPool as exc:
            raise ModelyardError(
                "A worker process scanning the current data died (out of memory?); "
                "retry with n_jobs=1."
            ) from exc
    rows, sums, ids = results[0]
    for r, s, _ in results[1:]:
        rows += r
        for name, col in s.items():
            sums[name].merge(col)
    if ids is not None:
        ids = np.concatenate([i for _, _, i in results])
    return rows, sums, ids
