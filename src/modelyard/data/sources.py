"""Reading what users register: DataFrames, Arrow tables, Parquet and CSV files, globs.

Every source becomes a ``TabularSource``: an Arrow schema and a callable that
yields record batches afresh each time, so that hashing and profiling can
stream a large file more than once in bounded memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
from fsspec.core import url_to_fs

from modelyard.errors import InvalidInput

__all__ = ["TabularSource", "open_source"]

BATCH_ROWS = 65_536
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


@dataclass(frozen=True)
class TabularSource:
    schema: pa.Schema
    batches: Callable[[], Iterator[pa.RecordBatch]]
    uris: tuple[str, ...]
    format: str  # "parquet", "csv" or "memory"


def _format_of(path: str) -> str:
    lowered = path.lower().removesuffix(".gz")
    for suffix, fmt in _FORMATS.items():
        if lowered.endswith(suffix):
            return fmt
    raise InvalidInput(f"source {path!r}: unknown format; expected .parquet, .pq or .csv")


def _expand(source: str) -> tuple[Any, list[str]]:
    fs, root = url_to_fs(source)
    if any(ch in source for ch in "*?["):
        paths = sorted(fs.glob(root))
        if not paths:
            raise InvalidInput(f"source {source!r}: the pattern matches no file")
    elif fs.isdir(root):
        paths = sorted(
            p for p in fs.find(root) if Path(p).name[:1] not in "._" and _known_format(p)
        )
        if not paths:
            raise InvalidInput(f"source {source!r}: the folder holds no .parquet or .csv file")
    elif fs.exists(root):
        paths = [root]
    else:
        raise InvalidInput(f"source {source!r}: no such file or folder")
    return fs, paths


def _known_format(path: str) -> bool:
    try:
        _format_of(path)
    except InvalidInput:
        return False
    return True


def open_source(source: Any, *, batch_rows: int = BATCH_ROWS) -> TabularSource:
    """Turn a DataFrame, Arrow table, path, URL or glob into a streamable source."""
    if isinstance(source, pd.DataFrame):
        source = pa.Table.from_pandas(source, preserve_index=False)
    if isinstance(source, pa.RecordBatch):
        source = pa.Table.from_batches([source])
    if isinstance(source, pa.Table):
        table = source.replace_schema_metadata(None)
        return TabularSource(
            schema=table.schema,
            batches=lambda: iter(table.to_batches(max_chunksize=batch_rows)),
            uris=(),
            format="memory",
        )
    if isinstance(source, Path):
        source = str(source)
    if (
        isinstance(source, list | tuple)
        and source
        and all(isinstance(s, str | Path) for s in source)
    ):
        fs, paths = url_to_fs(str(source[0]))[0], []
        for item in source:
            paths.extend(_expand(str(item))[1])
        return _file_source(str(source[0]), fs, paths, batch_rows)
    if not isinstance(source, str):
        raise InvalidInput(
            "source must be a pandas DataFrame, a pyarrow Table, or a path/URL/glob of "
            f"Parquet or CSV files; got {type(source).__name__}"
        )
    fs, paths = _expand(source)
    return _file_source(source, fs, paths, batch_rows)


def _file_source(source: str, fs: Any, paths: list[str], batch_rows: int) -> TabularSource:
    formats = {_format_of(p) for p in paths}
    if len(formats) > 1:
        raise InvalidInput(f"source {source!r} mixes formats {sorted(formats)}; register one kind")
    fmt = formats.pop()
    protocol = fs.protocol[0] if isinstance(fs.protocol, tuple | list) else fs.protocol
    uris = tuple(p if protocol in ("file", "local") else f"{protocol}://{p}" for p in paths)
    filesystem = (
        None if protocol in ("file", "local") else pafs.PyFileSystem(pafs.FSSpecHandler(fs))
    )
    try:
        dataset = pads.dataset(paths, format=fmt, filesystem=filesystem)
        schema = dataset.schema.remove_metadata()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"source {source!r} cannot be read as {fmt}: {exc}") from exc

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in dataset.to_batches(batch_size=batch_rows):
                yield batch.replace_schema_metadata(None)
        except pa.ArrowInvalid as exc:
            raise InvalidInput(f"source {source!r}: {exc}") from exc

    return TabularSource(schema=schema, batches=batches, uris=uris, format=fmt)
