"""The inputs monitoring accepts, as one thing: a schema and record batches on demand.

Accepted: a pandas DataFrame, a pyarrow Table or RecordBatch, a path to a Parquet file
or a directory of them (read a batch at a time, string columns dictionary-encoded), a
zero-argument callable returning an iterable of RecordBatches (called once per pass),
or an iterable of RecordBatches (a list, or a one-shot iterator good for one pass).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard.errors import InvalidInput

__all__ = ["BATCH_ROWS", "ParquetPart", "Source", "as_source", "is_string"]

BATCH_ROWS = 1 << 16  # numpy temporaries of a batch column stay in the CPU cache


def is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


@dataclass(frozen=True)
class ParquetPart:
    """Row groups of Parquet files: one worker's share of a file source."""

    files: tuple[tuple[str, tuple[int, ...]], ...]
    rows: int

    def batches(
        self, columns: Sequence[str], dictionary: Sequence[str]
    ) -> Iterator[pa.RecordBatch]:
        for path, groups in self.files:
            f = pq.ParquetFile(path, read_dictionary=list(dictionary))
            present = [c for c in columns if c in f.schema_arrow.names]
            yield from f.iter_batches(
                batch_size=BATCH_ROWS, row_groups=list(groups), columns=present, use_threads=False
            )


class Source:
    """A schema and a way to iterate record batches (see the module docstring)."""

    def __init__(
        self,
        schema: pa.Schema,
        batches: Callable[[Sequence[str] | None], Iterator[pa.RecordBatch]],
        *,
        reiterable: bool,
        num_rows: int | None,
        files: list[str] | None = None,
    ) -> None:
        self.schema = schema
        self._batches = batches
        self.reiterable = reiterable
        self.num_rows = num_rows
        self.files = files
        self._used = False

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Batches holding at least ``columns`` (all when None) of the schema."""
        if self._used and not self.reiterable:
            raise InvalidInput(
                "This input is a one-shot iterator and was read already; pass a DataFrame, "
                "a Table, a Parquet path or a callable returning batches to read it twice."
            )
        self._used = True
        return self._batches(columns)

    def parts(self, min_rows: int = 1 << 18) -> list[ParquetPart]:
        """Split a Parquet source into runs of whole row groups of at least ``min_rows``."""
        if self.files is None:
            raise ValueError("parts() is for Parquet sources")
        out: list[ParquetPart] = []
        run: list[tuple[str, int]] = []
        rows = 0
        for path in self.files:
            meta = pq.ParquetFile(path).metadata
            for i in range(meta.num_row_groups):
                run.append((path, i))
                rows += meta.row_group(i).num_rows
                if rows >= min_rows:
                    out.append(_part(run, rows))
                    run, rows = [], 0
        if run:
            out.append(_part(run, rows))
        return out


def _part(run: list[tuple[str, int]], rows: int) -> ParquetPart:
    files = [(p, tuple(i for _, i in grp)) for p, grp in itertools.groupby(run, key=lambda g: g[0])]
    return ParquetPart(tuple(files), rows)


def _table_source(table: pa.Table) -> Source:
    def batches(columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        t = (
            table
            if columns is None
            else table.select([c for c in columns if c in table.schema.names])
        )
        return iter(t.to_batches(max_chunksize=BATCH_ROWS))

    return Source(table.schema, batches, reiterable=True, num_rows=table.num_rows)


def _parquet_files(path: Path) -> list[str]:
    if path.is_dir():
        files = sorted(str(p) for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise InvalidInput(f"The directory {str(path)!r} holds no *.parquet files.")
        return files
    if not path.exists():
        raise InvalidInput(f"No such file or directory: {str(path)!r}.")
    return [str(path)]


def _parquet_source(path: Path) -> Source:
    files = _parquet_files(path)
    try:
        schema = pq.read_schema(files[0])
        num_rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    except (OSError, pa.ArrowException) as exc:
        raise InvalidInput(f"Cannot read {str(path)!r} as Parquet: {exc}") from exc
    whole = ParquetPart(
        tuple((f, tuple(range(pq.ParquetFile(f).num_row_groups))) for f in files), 0
    )
    strings = [f.name for f in schema if is_string(f.type)]

    def batches(columns: Sequence[str] | None) -> Iterator[pa.RecordBatch]:
        cols = list(schema.names if columns is None else columns)
        return whole.batches(cols, [c for c in strings if c in cols])

    return Source(schema, batches, reiterable=True, num_rows=num_rows, files=files)


def _peeked(first: pa.RecordBatch, rest: Iterator[Any]) -> Iterator[pa.RecordBatch]:
    for batch in itertools.chain([first], rest):
        if not isinstance(batch, pa.RecordBatch):
            raise InvalidInput(
                f"Expected RecordBatches from the input. Got {type(batch).__name__}."
            )
        yield batch


def _first(it: Iterable[Any], what: str) -> tuple[pa.RecordBatch, Iterator[Any]]:
    it = iter(it)
    try:
        first = next(it)
    except StopIteration:
        raise InvalidInput(f"{what} yielded no record batches.") from None
    if not isinstance(first, pa.RecordBatch):
        raise InvalidInput(f"Expected RecordBatches from {what}. Got {type(first).__name__}.")
    return first, it


def _callable_source(make: Callable[[], Iterable[Any]]) -> Source:
    first, _ = _first(make(), "the batches callable")
    return Source(
        first.schema,
        lambda _c: _peeked(*_first(make(), "the batches callable")),
        reiterable=True,
        num_rows=None,
    )


def as_source(data: Any, name: str = "data") -> Source:
    """Wrap ``data`` (see the module docstring) as a ``Source``.

    Raises:
        InvalidInput: ``data`` is none of the accepted kinds or cannot be read.
    """
    if isinstance(data, Source):
        return data
    if isinstance(data, pd.DataFrame):
        try:
            return _table_source(pa.Table.from_pandas(data, preserve_index=False))
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"The {name!r} DataFrame cannot be converted to Arrow (one type per column "
                f"is needed): {exc}"
            ) from exc
    if isinstance(data, pa.RecordBatch):
        return _table_source(pa.Table.from_batches([data]))
    if isinstance(data, pa.Table):
        return _table_source(data)
    if isinstance(data, str | os.PathLike):
        return _parquet_source(Path(data))
    if callable(data):
        return _callable_source(data)
    if isinstance(data, Iterable) and not isinstance(data, bytes | dict):
        if isinstance(data, Sequence):  # a list of batches can be read again
            first, _ = _first(data, f"the {name!r} sequence")
            return Source(
                first.schema,
                lambda _c: _peeked(*_first(data, "the sequence")),
                reiterable=True,
                num_rows=None,
            )
        first, rest = _first(data, f"the {name!r} iterator")
        return Source(
            first.schema, lambda _c: _peeked(first, rest), reiterable=False, num_rows=None
        )
    raise InvalidInput(
        f"The {name!r} parameter must be a pandas DataFrame, a pyarrow Table, a Parquet path, "
        f"a callable returning RecordBatches or an iterable of them. Got "
        f"{type(data).__name__} instead."
    )
