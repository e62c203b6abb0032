"""Bounded-memory column profiles of Arrow data.

A profile is stored with each dataset version and is later monitoring's *reference* for
drift, so it keeps what drift tests need: fixed histogram edges, category frequencies,
null rates and ranges. ``profile_batches`` reads ``batches()`` twice, a batch at a time:

1. counts, nulls, min/max, mean and variance (Chan's parallel combine), category counts
   (at most ``CATEGORY_CAP`` distinct values per column), boolean and datetime ranges;
2. numeric columns only: equal-width histograms over pass 1's [min, max], and a uniform
   sample of at most ``sample_size`` values whose positions are drawn up front from
   pass 1's counts, so the sample does not depend on how the rows are batched.

Quantiles are exact (``numpy.quantile(values, q, method="linear")``) when a column has at
most ``sample_size`` values, seeded estimates otherwise. Memory is O(columns x
(sample_size + CATEGORY_CAP)) plus one batch, whatever the number of rows. Conventions:

- ``count`` is the number of present values, ``null_count = rows - count``, NaN is null,
  ``null_rate = null_count / rows`` (None without rows).
- ``std`` is the population standard deviation (ddof=0, as ``numpy.std``).
- ``+-inf`` counts in ``count`` and ``inf_count`` but is left out of min, max, mean,
  std, quantiles and the histogram, which therefore sums to ``count - inf_count``.
- Integers, floats and decimals (as float64) are numeric; bool is boolean, never numeric.
- A profile holds no NaN or inf, so ``to_dict`` is strict JSON and round-trips exactly.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.errors import InvalidInput

__all__ = [
    "CATEGORY_CAP",
    "ColumnProfile",
    "DatasetProfile",
    "Histogram",
    "profile_batches",
    "profile_table",
]

CATEGORY_CAP = 10_000
"""Distinct values counted per categorical column; beyond it new values are not added."""

FORMAT_VERSION = 1
KINDS = frozenset({"numeric", "categorical", "boolean", "datetime", "other"})
_TABLE_BATCH_ROWS = 1 << 18  # large enough to amortise per-batch overhead, small for cache


@dataclass(frozen=True)
class Histogram:
    """Counts in fixed equal-width bins, which drift tests reuse to bin current data.

    Bins are half-open ``[a, b)`` except the last, ``[a, b]``, as in ``numpy.histogram``.
    A column of one repeated value gets the edges numpy uses: ``[v - 0.5, v + 0.5]``.
    """

    bin_edges: list[float]
    counts: list[int]


@dataclass(frozen=True)
class ColumnProfile:
    """One column's summary; fields that do not apply to ``kind`` are None.

    ``kind`` is one of "numeric", "categorical", "boolean", "datetime", "other".
    Numeric: min/max (int for integer columns), mean, std, quantiles ("0.5" -> value),
    quantiles_exact, histogram, inf_count, distinct_estimate (exact when the column has
    at most sample_size values, else None). Categorical: distinct (None when
    high_cardinality, i.e. more than CATEGORY_CAP values), top ((value, count) pairs,
    count descending, ties in order of first appearance), other_count (values outside
    top), categories_truncated (top does not list every value). Datetime: min/max as ISO
    8601 strings. Boolean: true_count.
    """

    name: str
    kind: str
    arrow_type: str
    count: int
    null_count: int
    null_rate: float | None
    min: int | float | str | None = None
    max: int | float | str | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] | None = None
    quantiles_exact: bool | None = None
    histogram: Histogram | None = None
    inf_count: int | None = None
    distinct_estimate: int | None = None
    distinct: int | None = None
    high_cardinality: bool | None = None
    top: list[tuple[Any, int]] | None = None
    other_count: int | None = None
    categories_truncated: bool | None = None
    true_count: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as plain JSON types (pairs and edges as lists)."""
        out = dataclasses.asdict(self)  # copies, so the caller cannot mutate the profile
        if self.top is not None:
            out["top"] = [list(pair) for pair in self.top]
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnProfile:
        """Rebuild a profile from ``to_dict`` output; unknown keys are ignored.

        Raises:
            InvalidInput: A required field is missing or ``kind`` is unknown.
        """
        kw = {f.name: d.get(f.name) for f in dataclasses.fields(cls)}
        if kw["kind"] not in KINDS or not all(
            isinstance(kw[k], t) for k, t in (("name", str), ("arrow_type", str), ("count", int))
        ):
            raise InvalidInput(
                "ColumnProfile.from_dict needs 'name', 'arrow_type', 'count' and a 'kind' in "
                f"{sorted(KINDS)}. Got {sorted(d)} with kind {kw['kind']!r} instead."
            )
        if kw["histogram"] is not None:
            kw["histogram"] = Histogram(**kw["histogram"])
        if kw["top"] is not None:
            kw["top"] = [(value, n) for value, n in kw["top"]]
        return cls(**kw)


@dataclass(frozen=True)
class DatasetProfile:
    """Row count and per-column profiles, in schema order."""

    rows: int
    columns: dict[str, ColumnProfile]

    def to_dict(self) -> dict[str, Any]:
        """Return strict-JSON data (no NaN/inf) that ``from_dict`` restores exactly."""
        return {
            "format": FORMAT_VERSION,
            "rows": self.rows,
            "columns": {name: col.to_dict() for name, col in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetProfile:
        """Rebuild a stored profile.

        Raises:
            InvalidInput: ``d`` is not a profile dict of a format this version reads.
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT_VERSION:
            raise InvalidInput(
                f"from_dict expects a dict with 'format': {FORMAT_VERSION} as written by "
                f"DatasetProfile.to_dict. Got {type(d).__name__} instead."
            )
        try:
            columns = {name: ColumnProfile.from_dict(c) for name, c in d["columns"].items()}
            return cls(rows=int(d["rows"]), columns=columns)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(f"from_dict got a malformed profile dict: {exc!r}") from exc


def _finite(x: float) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value if isinstance(value, str | int | float | bool) else str(value)


@dataclass(frozen=True)
class _Options:
    bins: int
    quantiles: tuple[float, ...]
    top_k: int
    sample_size: int


class _Column:
    """Accumulates one column; subclasses add the statistics of their kind."""

    kind = "other"
    accepts: tuple[Callable[[pa.DataType], bool], ...] = ()

    def __init__(self, field: pa.Field, index: int) -> None:
        self.name, self.type, self.index = field.name, field.type, index
        self.nulls = 0

    def update(self, arr: pa.Array) -> None:
        self.nulls += arr.null_count

    def finish(self, rows: int, opts: _Options) -> ColumnProfile:
        return self._profile(rows)

    def _profile(self, rows: int, **fields: Any) -> ColumnProfile:
        return ColumnProfile(
            name=self.name,
            kind=self.kind,
            arrow_type=str(self.type),
            count=rows - self.nulls,
            null_count=self.nulls,
            null_rate=self.nulls / rows if rows else None,
            **fields,
        )


class _Boolean(_Column):
    kind = "boolean"
    accepts = (pa.types.is_boolean,)
    true_count = 0

    def update(self, arr: pa.Array) -> None:
        super().update(arr)
        self.true_count += pc.sum(arr).as_py() or 0

    def finish(self, rows: int, opts: _Options) -> ColumnProfile:
        return self._profile(rows, true_count=self.true_count)


class _Datetime(_Column):
    kind = "datetime"
    accepts = (pa.types.is_timestamp, pa.types.is_date)
    lo: int | None = None
    hi: int | None = None

    def update(self, arr: pa.Array) -> None:
        super().update(arr)
        if arr.null_count < len(arr):
            # Compare the physical integers: temporal scalars do not order.
            mm = pc.min_max(arr.view(self._physical()))
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            self.lo = lo if self.lo is None else min(self.lo, lo)
            self.hi = hi if self.hi is None else max(self.hi, hi)

    def _physical(self) -> pa.DataType:
        return pa.int64() if self.type.bit_width == 64 else pa.int32()

    def _iso(self, value: int | None) -> str | None:
        if value is None:
            return None
        arr = pa.array([value], self._physical()).view(self.type)
        try:
            return arr[0].as_py().isoformat()
        except (OverflowError, ValueError):  # beyond Python's datetime range: Arrow's text
            return arr.cast(pa.string())[0].as_py()

    def finish(self, rows: int, opts: _Options) -> ColumnProfile:
        return self._profile(rows, min=self._iso(self.lo), max=self._iso(self.hi))


class _Categorical(_Column):
    kind = "categorical"
    accepts = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)

    def __init__(self, field: pa.Field, index: int) -> None:
        super().__init__(field, index)
        self.keys: pa.Array | None = None  # distinct values in order of first appearance
        self.counts = np.zeros(0, dtype=np.int64)
        self.overflow = False

    def update(self, arr: pa.Array) -> None:
        super().update(arr)
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()  # dictionaries may differ from batch to batch
        if arr.null_count:
            arr = arr.drop_null()
        if not len(arr):
            return
        vc = pc.value_counts(arr)  # in order of first appearance
        values, counts = vc.field("values"), vc.field("counts").to_numpy()
        if self.keys is None:
            known = np.full(len(values), -1, dtype=np.int64)
        else:
            idx = pc.index_in(values, value_set=self.keys)
            known = idx.fill_null(-1).to_numpy().astype(np.int64, copy=False)
        hit = known >= 0
        self.counts[known[hit]] += counts[hit]  # values are distinct: no repeated index
        new = np.flatnonzero(~hit)
        room = CATEGORY_CAP - len(self.counts)
        if len(new) > room:
            self.overflow, new = True, new[:room]
        if len(new):
            added = values.take(pa.array(new))
            self.keys = added if self.keys is None else pa.concat_arrays([self.keys, added])
            self.counts = np.concatenate([self.counts, counts[new]])

    def finish(self, rows: int, opts: _Options) -> ColumnProfile:
        order = np.argsort(-self.counts, kind="stable")[: opts.top_k]
        values = [] if self.keys is None else self.keys.take(pa.array(order)).to_pylist()
        top = [(_jsonable(v), int(n)) for v, n in zip(values, self.counts[order], strict=True)]
        return self._profile(
            rows,
            distinct=None if self.overflow else len(self.counts),
            high_cardinality=self.overflow,
            top=top,
            other_count=rows - self.nulls - sum(n for _, n in top),
            categories_truncated=self.overflow or len(self.counts) > len(top),
        )


def _finite_values(arr: pa.Array) -> tuple[np.ndarray, int, int]:
    """Return (finite values, NaN count, inf count) of a numeric array, nulls dropped."""
    if arr.null_count:
        arr = arr.drop_null()
    if pa.types.is_decimal(arr.type):
        arr = arr.cast(pa.float64())
    v = arr.to_numpy(zero_copy_only=False)
    ok = np.isfinite(v) if v.dtype.kind == "f" else None
    n_ok = len(v) if ok is None else int(np.count_nonzero(ok))
    if n_ok == len(v):
        return v, 0, 0
    n_nan = int(np.count_nonzero(np.isnan(v)))
    return v[ok], n_nan, len(v) - n_ok - n_nan


class _Numeric(_Column):
    kind = "numeric"
    accepts = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal)

    def __init__(self, field: pa.Field, index: int) -> None:
        super().__init__(field, index)
        self.n = self.n_inf = self.seen = 0  # n: finite values; seen: those of pass 2
        self.mean = self.m2 = 0.0
        self.lo: Any = None
        self.hi: Any = None
        self.hist: np.ndarray | None = None
        self.positions: np.ndarray | None = None  # sorted sample positions; None: keep all
        self.pieces: list[np.ndarray] = []

    def update(self, arr: pa.Array) -> None:
        super().update(arr)
        v, n_nan, n_inf = _finite_values(arr)
        self.nulls += n_nan
        self.n_inf += n_inf
        if not v.size:
            return
        lo, hi = v.min().item(), v.max().item()
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)
        f = v.astype(np.float64, copy=False)
        n_b, mean_b = v.size, float(f.mean())
        d = f - mean_b
        m2_b = float(np.square(d, out=d).sum())
        if self.n == 0:
            self.mean, self.m2 = mean_b, m2_b
        else:  # Chan et al.: combine two (count, mean, M2) summaries without cancellation
            n = self.n + n_b
            delta = mean_b - self.mean
            self.mean += delta * n_b / n
            self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n += n_b

    def start_pass2(self, opts: _Options, rng: np.random.Generator) -> None:
        self.range = (float(self.lo), float(self.hi))
        if math.isfinite(self.range[1] - self.range[0]):
            self.hist = np.zeros(opts.bins, dtype=np.int64)
        if self.n > opts.sample_size:
            self.positions = np.sort(rng.choice(self.n, size=opts.sample_size, replace=False))

    def update2(self, arr: pa.Array) -> None:
        v, _, _ = _finite_values(arr)
        if self.hist is not None and v.size:
            f = v.astype(np.float64, copy=False)
            self.hist += np.histogram(f, bins=len(self.hist), range=self.range)[0]
        if self.positions is None:
            self.pieces.append(np.array(v, copy=True))  # never pin the batch's buffers
        else:
            lo, hi = np.searchsorted(self.positions, [self.seen, self.seen + v.size])
            self.pieces.append(v[self.positions[lo:hi] - self.seen])
        self.seen += v.size

    def finish(self, rows: int, opts: _Options) -> ColumnProfile:
        if self.n == 0:
            return self._profile(rows, inf_count=self.n_inf, histogram=Histogram([], []))
        if self.seen != self.n:
            raise InvalidInput(
                f"batches() yielded {self.seen} values of column {self.name!r} on the second "
                f"pass but {self.n} on the first; it must return the same data each call."
            )
        sample = np.concatenate(self.pieces)
        exact = self.positions is None
        hist = Histogram([], [])
        if self.hist is not None:
            edges = np.histogram_bin_edges(np.empty(0), bins=opts.bins, range=self.range)
            hist = Histogram([float(e) for e in edges], [int(c) for c in self.hist])
        qs = opts.quantiles
        return self._profile(
            rows,
            min=self.lo,
            max=self.hi,
            mean=_finite(self.mean),
            std=_finite(math.sqrt(self.m2 / self.n)),
            quantiles={str(q): float(x) for q, x in zip(qs, np.quantile(sample, qs), strict=True)},
            quantiles_exact=exact,
            histogram=hist,
            inf_count=self.n_inf,
            distinct_estimate=len(np.unique(sample)) if exact else None,
        )


def _invalid(param: str, must: str, got: Any, func: str = "profile_batches") -> InvalidInput:
    return InvalidInput(f"The {param!r} parameter of {func} must be {must}. Got {got} instead.")


def _iterate(
    batches: Callable[[], Iterable[pa.RecordBatch]], schema: pa.Schema
) -> Iterator[tuple[int, list[pa.Array]]]:
    """Yield (rows, one array per schema field), matched by name and cast to its type.

    Casting is safe (it fails rather than truncate), and lets a source's type survive a
    round trip that changes its unit, e.g. CSV timestamp[s] read back from Parquet as [ms].
    """
    for batch in batches():
        if not isinstance(batch, pa.RecordBatch):
            raise _invalid("batches", "a callable returning RecordBatches", type(batch).__name__)
        arrays = []
        for field in schema:
            i = batch.schema.get_field_index(field.name)
            if i < 0:
                must = f"yielding batches with every column of 'schema', e.g. {field.name!r}"
                raise _invalid("batches", must, batch.schema.names)
            arr = batch.column(i)
            if arr.type != field.type:
                try:
                    arr = arr.cast(field.type)
                except pa.ArrowException as exc:
                    must = f"yielding column {field.name!r} castable to {field.type}"
                    raise _invalid("batches", must, f"{arr.type} ({exc})") from exc
            arrays.append(arr)
        yield batch.num_rows, arrays


def _accumulator(field: pa.Field, index: int) -> _Column:
    t = field.type
    if pa.types.is_dictionary(t):  # dictionary-encoded values are categories, even ints
        return _Categorical(field, index)
    kinds = (_Boolean, _Numeric, _Categorical, _Datetime)  # bool first: it is not numeric
    return next((k for k in kinds if any(test(t) for test in k.accepts)), _Column)(field, index)


def profile_batches(
    batches: Callable[[], Iterable[pa.RecordBatch]],
    schema: pa.Schema,
    *,
    bins: int = 20,
    quantiles: Sequence[float] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99),
    top_k: int = 20,
    sample_size: int = 100_000,
    seed: int = 0,
) -> DatasetProfile:
    """Profile record batches with memory independent of the number of rows.

    Args:
        batches: Called once per pass (twice, or once when no numeric column has a
            value) and must return a fresh iterable of the same batches each time, e.g.
            ``lambda: pq.ParquetFile(path).iter_batches()``.
        schema: The columns to profile, found by name in each batch (other columns are
            ignored) and cast to the field's type when a batch's differs.
        bins: Equal-width histogram bins per numeric column.
        quantiles: Probabilities in [0, 1], reported under ``str(float(q))`` keys.
        top_k: Most frequent values kept per categorical column.
        sample_size: Values per numeric column kept for quantiles; exact below it.
        seed: Seeds the sample, so equal data and seed give an equal profile.

    Raises:
        InvalidInput: A parameter is invalid, a batch does not match ``schema``, or
            the two passes saw different data.
    """
    if not callable(batches):
        raise _invalid("batches", "a zero-argument callable", type(batches).__name__)
    if not isinstance(schema, pa.Schema):
        raise _invalid("schema", "a pyarrow.Schema", type(schema).__name__)
    if len(set(schema.names)) != len(schema.names):
        raise _invalid("schema", "free of duplicate column names", schema.names)
    for name, value, low in (
        ("bins", bins, 1),
        ("top_k", top_k, 0),
        ("sample_size", sample_size, 1),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise _invalid(name, f"an int >= {low}", repr(value))
    if isinstance(quantiles, str | bytes) or not all(
        isinstance(q, int | float | np.number) and not isinstance(q, bool) and 0 <= q <= 1
        for q in quantiles
    ):
        raise _invalid("quantiles", "a sequence of numbers in [0, 1]", repr(quantiles))
    opts = _Options(int(bins), tuple(float(q) for q in quantiles), int(top_k), int(sample_size))

    cols = [_accumulator(field, i) for i, field in enumerate(schema)]
    rows = 0
    for n, arrays in _iterate(batches, schema):
        rows += n
        for col, arr in zip(cols, arrays, strict=True):
            col.update(arr)

    numeric = [c for c in cols if isinstance(c, _Numeric) and c.n]
    if numeric:
        for c in numeric:
            c.start_pass2(opts, np.random.default_rng([seed, c.index]))
        for _, arrays in _iterate(batches, schema):
            for c in numeric:
                c.update2(arrays[c.index])
    return DatasetProfile(rows=rows, columns={c.name: c.finish(rows, opts) for c in cols})


def profile_table(table: pa.Table | pd.DataFrame, **kw: Any) -> DatasetProfile:
    """Profile an in-memory table or DataFrame (its index is not profiled).

    Keyword arguments are those of ``profile_batches``.

    Raises:
        InvalidInput: ``table`` is neither, or a DataFrame column has no Arrow type.
    """
    if isinstance(table, pd.DataFrame):
        try:
            table = pa.Table.from_pandas(table, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            must = "convertible to Arrow (one type per column)"
            raise _invalid("table", must, repr(str(exc)), "profile_table") from exc
    elif isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    elif not isinstance(table, pa.Table):
        must = "a pyarrow.Table or a pandas.DataFrame"
        raise _invalid("table", must, type(table).__name__, "profile_table")
    frozen = table
    return profile_batches(
        lambda: frozen.to_batches(max_chunksize=_TABLE_BATCH_ROWS), frozen.schema, **kw
    )
