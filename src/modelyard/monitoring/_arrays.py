"""Per-batch helpers on Arrow arrays: column kinds, numeric values, category counts, id hashes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "batch_column",
    "category_counts",
    "column_kind",
    "hash_ids",
    "numeric_values",
    "type_name",
]


def batch_column(batch: pa.RecordBatch, name: str, what: str = "current data") -> pa.Array:
    """The column ``name`` of ``batch``, or an error naming the column and the input."""
    i = batch.schema.get_field_index(name)
    if i < 0:
        from modelyard.errors import InvalidInput

        raise InvalidInput(
            f"A batch of the {what} lacks column {name!r}; every batch needs the columns of "
            f"the first ({batch.schema.names} here)."
        )
    return batch.column(i)


def column_kind(t: pa.DataType) -> str:
    """ "numeric", "categorical", "boolean", "datetime" or "other", from the Arrow type.

    Dictionary-encoded values are categories whatever their value type; bool is never
    numeric; decimals are numeric (read as float64).
    """
    if pa.types.is_dictionary(t):
        return "categorical"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "categorical"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    return "other"


def type_name(t: pa.DataType) -> str:
    """The Arrow type with storage details removed: dictionary<string> and large_string
    are "string", so a Parquet round trip does not read as a type change."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    return str(t)


def numeric_values(arr: pa.Array) -> tuple[np.ndarray, int, int]:
    """Return (finite values as float64, nulls including NaN, count of +-inf)."""
    nulls = arr.null_count
    if nulls:
        arr = arr.drop_null()
    if pa.types.is_decimal(arr.type):
        arr = arr.cast(pa.float64())
    v = arr.to_numpy(zero_copy_only=False)
    if v.dtype != np.float64:
        return v.astype(np.float64), nulls, 0
    ok = np.isfinite(v)
    if ok.all():
        return v, nulls, 0
    nan = int(np.count_nonzero(np.isnan(v)))
    return v[ok], nulls + nan, v.size - int(np.count_nonzero(ok)) - nan


def category_counts(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Distinct non-null values of ``arr`` and their counts (dictionary arrays by index)."""
    if pa.types.is_dictionary(arr.type):
        idx = arr.indices
        if idx.null_count:
            idx = idx.drop_null()
        counts = np.bincount(idx.to_numpy(), minlength=len(arr.dictionary))
        used = np.flatnonzero(counts)
        return arr.dictionary.take(pa.array(used)), counts[used]
    if arr.null_count:
        arr = arr.drop_null()
    vc = pc.value_counts(arr)
    return vc.field("values"), vc.field("counts").to_numpy().astype(np.int64)


_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place on a uint64 array (wrapping arithmetic)."""
    z += _GOLDEN
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def _hash_strings(arr: pa.Array) -> np.ndarray:
    """64-bit hashes of non-null strings: 8 bytes at a time, grouped by length."""
    arr = arr.cast(pa.large_string())
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    buf = arr.buffers()[2]
    data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    out = np.empty(len(arr), dtype=np.uint64)
    for n in np.unique(lengths):
        sel = np.flatnonzero(lengths == n)
        words = max(1, (int(n) + 7) // 8)
        block = np.zeros((sel.size, words * 8), dtype=np.uint8)
        if n:
            block[:, :n] = data[starts[sel, None] + np.arange(n)]
        w = block.view(np.uint64)
        h = _mix(np.full(sel.size, n, dtype=np.uint64) ^ w[:, 0])
        for j in range(1, words):
            h = _mix(h ^ w[:, j])
        out[sel] = h
    return out


def hash_ids(arr: pa.Array) -> np.ndarray:
    """Values of an id column as uint64 keys (nulls dropped).

    Integers are their own keys (exact); strings are hashed to 64 bits, so two different
    ids collide with probability about n**2 / 2**65 (3e-6 at ten million rows).
    """
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if arr.null_count:
        arr = arr.drop_null()
    if pa.types.is_integer(arr.type):
        return arr.to_numpy().astype(np.int64).view(np.uint64)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return _hash_strings(arr)
    values = np.asarray(arr.to_pylist(), dtype=object)
    return pd.util.hash_array(values).astype(np.uint64)
