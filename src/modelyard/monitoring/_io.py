"""Reading what a monitor is given: frames, Arrow tables, Parquet or CSV files, datasets."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from modelyard.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from modelyard.yard import Yard

__all__ = ["batches_of", "is_path", "read_table"]

BATCH_ROWS = 65_536


def is_path(data: Any) -> bool:
    """A local path that exists, or a URL."""
    if isinstance(data, os.PathLike):
        return True
    return isinstance(data, str) and ("://" in data or Path(data).exists())


def _csv(path: str) -> pa.Table:
    import pyarrow.csv as pcsv

    try:
        return pcsv.read_csv(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"{path}: cannot read as CSV: {exc}") from exc


def _parquet(path: str) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"{path}: cannot read as Parquet: {exc}") from exc


def read_table(data: Any, what: str, yard: Yard | None = None) -> pa.Table:
    """All of ``data`` as one Arrow table (for labels and other small inputs)."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    if is_path(data):
        path = os.fspath(data)
        return _csv(path) if path.lower().endswith((".csv", ".csv.gz")) else _parquet(path)
    if isinstance(data, str) and yard is not None:
        try:
            return yard.datasets.load(data, as_="arrow")
        except NotFound as exc:
            raise InvalidInput(
                f"{what} {data!r} is neither a file nor a dataset version: {exc.message}"
            ) from exc
    raise InvalidInput(
        f"{what} must be a DataFrame, an Arrow table, a Parquet/CSV path or a dataset "
        f"reference such as 'loans/3'. Got {data!r} instead."
    )


def batches_of(
    data: Any, what: str, yard: Yard | None = None
) -> tuple[pa.Schema, Callable[[], Iterator[pa.RecordBatch]]]:
    """The schema of ``data`` and a function that streams it a batch at a time."""
    import pyarrow.parquet as pq

    if is_path(data) and not os.fspath(data).lower().endswith((".csv", ".csv.gz")):
        path = os.fspath(data)
        if "://" not in path and Path(path).is_dir():
            files = sorted(str(p) for p in Path(path).rglob("*.parquet"))
            if not files:
                raise InvalidInput(f"{what}: no .parquet files under {path}")
        else:
            files = [path]
        try:
            schema = pa.unify_schemas(
                [pq.read_schema(f) for f in files], promote_options="permissive"
            )
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"{what}: cannot read {path} as Parquet: {exc}") from exc

        def stream() -> Iterator[pa.RecordBatch]:
            for f in files:
                yield from pq.ParquetFile(f).iter_batches(batch_size=BATCH_ROWS)

        return schema, stream
    if isinstance(data, str) and not is_path(data) and yard is not None:
        try:
            info = yard.datasets.get(data)
        except NotFound as exc:
            raise InvalidInput(
                f"{what} {data!r} is neither a file nor a dataset version: {exc.message}"
            ) from exc
        return info.schema, lambda: yard.datasets.iter_batches(info, batch_rows=BATCH_ROWS)
    table = read_table(data, what, yard)
    return table.schema, lambda: iter(table.to_batches(max_chunksize=BATCH_ROWS))
