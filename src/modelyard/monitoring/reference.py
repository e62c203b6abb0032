"""Reference profiles: what drift tests and quality checks need to know of the training data.

``build_reference(data)`` reads the reference a batch at a time, twice, in memory
independent of its length (O(columns x (sample_size + grid_size)) plus one batch):

1. per column: nulls, range, mean and std (Chan's parallel combine); exact category
   counts (up to ``CATEGORY_CAP`` distinct values); for numerics a deterministic strided
   sample of at most ``sample_size`` values (every value when the column is shorter);
2. numerics only: counts and offsets of every value in the fine bins of the column's
   grid (see ``_grid``): every distinct value of the sample when there are at most
   ``grid_size``, else ``grid_size`` quantiles of it, plus the exact min and max. On a
   grid of every sampled value, values the sample missed are counted too (while there
   are at most ``grid_size`` of them) and become grid points.

Counts are exact whatever the sample; when every value is a grid point (``grid_exact``,
so every column with at most ``grid_size`` distinct values) the KS statistic against
any current data is exactly scipy's. A profile is plain JSON
(``to_dict``/``from_dict``, no NaN or inf) for the registry to store with a model version:
about 40 kB per numeric column at the default grid, far less for categoricals.

String columns whose values are mostly distinct (more than half of them, and over 50)
or that pass ``CATEGORY_CAP`` are kind "identifier": counted, never drift-tested.
Integer columns named in ``categorical`` (codes: a branch, a product) are profiled as
categories, so that codes the reference never had show as unseen values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from modelyard.errors import InvalidInput
from modelyard.monitoring import _arrays
from modelyard.monitoring._grid import Grid
from modelyard.monitoring._source import Source, as_source
from modelyard.monitoring.stats import finite_or_none

__all__ = [
    "CATEGORY_CAP",
    "DEFAULT_GRID_SIZE",
    "ColumnReference",
    "ReferenceProfile",
    "build_reference",
]

FORMAT = "modelyard.monitoring.reference/1"
CATEGORY_CAP = 10_000
DEFAULT_GRID_SIZE = 1000
DEFAULT_SAMPLE_SIZE = 1 << 18
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
KINDS = ("numeric", "categorical", "boolean", "datetime", "identifier", "other")


@dataclass(frozen=True, eq=False)
class ColumnReference:
    """One reference column; fields that do not apply to ``kind`` are None.

    ``count`` is the number of non-null values (NaN is null; +-inf counts but is left out
    of every distribution statistic), ``null_count`` the others. Numeric: min, max, mean,
    std (population), quantiles ("0.5" -> value), ``grid`` (cut points), ``counts`` and
    ``offsets`` per fine bin (length ``2 * len(grid) + 1``), ``grid_exact``. Categorical
    and boolean: ``categories`` as (value, count) pairs, most frequent first. Identifier:
    ``distinct`` (None beyond ``CATEGORY_CAP``). Datetime: min and max in ISO 8601.
    """

    name: str
    kind: str
    arrow_type: str
    count: int
    null_count: int
    inf_count: int = 0
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] | None = None
    grid: np.ndarray | None = None
    counts: np.ndarray | None = None
    offsets: np.ndarray | None = None
    grid_exact: bool | None = None
    categories: list[tuple[Any, int]] | None = None
    distinct: int | None = None

    @property
    def rows(self) -> int:
        return self.count + self.null_count

    @property
    def null_rate(self) -> float | None:
        return self.null_count / self.rows if self.rows else None

    @property
    def finite_count(self) -> int:
        return self.count - self.inf_count

    def grid_object(self) -> Grid:
        """The fast binning object for this column's grid (numeric columns with values)."""
        return Grid(self.grid)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "arrow_type": self.arrow_type,
            "count": self.count,
            "null_count": self.null_count,
        }
        if self.kind == "numeric":
            d.update(
                inf_count=self.inf_count,
                min=self.min,
                max=self.max,
                mean=self.mean,
                std=self.std,
                quantiles=self.quantiles,
                grid_exact=self.grid_exact,
            )
            if self.grid is not None:
                c, o = self.counts, self.offsets
                d.update(
                    grid=self.grid.tolist(),
                    point_counts=c[1::2].tolist(),
                    gap_counts=c[0::2].tolist(),
                    gap_offsets=o[0::2].tolist(),
                )
        elif self.kind in ("categorical", "boolean"):
            d["categories"] = [[v, n] for v, n in self.categories or []]
        elif self.kind == "identifier":
            d["distinct"] = self.distinct
        elif self.kind == "datetime":
            d.update(min=self.min, max=self.max)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ColumnReference:
        kw = {k: d[k] for k in ("name", "kind", "arrow_type", "count", "null_count")}
        if kw["kind"] not in KINDS:
            raise KeyError(f"kind {kw['kind']!r}")
        for k in ("inf_count", "min", "max", "mean", "std", "quantiles", "grid_exact", "distinct"):
            if k in d:
                kw[k] = d[k]
        if d.get("grid") is not None:
            grid = np.asarray(d["grid"], dtype=np.float64)
            counts = np.empty(2 * grid.size + 1, dtype=np.int64)
            offsets = np.zeros(2 * grid.size + 1)
            counts[1::2], counts[0::2] = d["point_counts"], d["gap_counts"]
            offsets[0::2] = d["gap_offsets"]
            kw.update(grid=grid, counts=counts, offsets=offsets)
        if "categories" in d:
            kw["categories"] = [(v, int(n)) for v, n in d["categories"]]
        return cls(**kw)


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Per-column reference summaries, in schema order, and the row count."""

    rows: int
    columns: dict[str, ColumnReference]
    grid_size: int = DEFAULT_GRID_SIZE
    metadata: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ColumnReference:
        return self.columns[name]

    def to_dict(self) -> dict[str, Any]:
        """Strict-JSON data that ``from_dict`` restores exactly."""
        return {
            "format": FORMAT,
            "rows": self.rows,
            "grid_size": self.grid_size,
            "metadata": dict(self.metadata),
            "columns": [c.to_dict() for c in self.columns.values()],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceProfile:
        """Rebuild a stored profile.

        Raises:
            InvalidInput: ``d`` is not a reference profile dict of this format.
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            got = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise InvalidInput(
                f"ReferenceProfile.from_dict expects a dict with 'format': {FORMAT!r} as "
                f"written by ReferenceProfile.to_dict. Got {got!r} instead."
            )
        try:
            cols = [ColumnReference.from_dict(c) for c in d["columns"]]
            return cls(
                rows=int(d["rows"]),
                columns={c.name: c for c in cols},
                grid_size=int(d["grid_size"]),
                metadata=dict(d.get("metadata") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(
                f"ReferenceProfile.from_dict got a malformed profile: {exc!r}"
            ) from exc


# ---------------------------------------------------------------- pass 1 accumulators


class _Acc:
    kind = "other"

    def __init__(self, f: pa.Field) -> None:
        self.name, self.type = f.name, f.type
        self.nulls = self.count = 0

    def update(self, arr: pa.Array) -> None:
        self.nulls += arr.null_count
        self.count += len(arr) - arr.null_count

    def finish(self) -> ColumnReference:
        return ColumnReference(
            self.name, self.kind, _arrays.type_name(self.type), self.count, self.nulls
        )


class _Datetime(_Acc):
    kind = "datetime"
    lo = hi = None

    def update(self, arr: pa.Array) -> None:
        super().update(arr)
        if arr.null_count < len(arr):
            mm = pc.min_max(arr)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
            self.lo = lo if self.lo is None else min(self.lo, lo)
            self.hi = hi if self.hi is None else max(self.hi, hi)

    def finish(self) -> ColumnReference:
        iso = [None if v is None else v.isoformat() for v in (self.lo, self.hi)]
        return ColumnReference(
            self.name,
            self.kind,
            _arrays.type_name(self.type),
            self.count,
            self.nulls,
            min=iso[0],
            max=iso[1],
        )


class _Categorical(_Acc):
    kind = "categorical"

    def __init__(self, f: pa.Field) -> None:
        super().__init__(f)
        if pa.types.is_boolean(f.type):
            self.kind = "boolean"
        self.keys: pa.Array | None = None
        self.counts = np.zeros(0, dtype=np.int64)
        self.overflow = False

    def update(self, arr: pa.Array) -> None:
        super().update(arr)
        if self.overflow or arr.null_count == len(arr):
            return
        values, counts = _arrays.category_counts(arr)
        if self.keys is None:
            known = np.full(len(values), -1, dtype=np.int64)
        else:
            values = values.cast(self.keys.type)
            known = pc.index_in(values, value_set=self.keys).fill_null(-1).to_numpy()
        hit = known >= 0
        self.counts[known[hit]] += counts[hit]
        new = np.flatnonzero(~hit)
        if len(self.counts) + len(new) > CATEGORY_CAP:
            self.overflow = True
            return
        if len(new):
            added = values.take(pa.array(new))
            self.keys = added if self.keys is None else pa.concat_arrays([self.keys, added])
            self.counts = np.concatenate([self.counts, counts[new]])

    def finish(self) -> ColumnReference:
        t = _arrays.type_name(self.type)
        distinct = None if self.overflow else len(self.counts)
        if self.kind == "categorical" and (
            distinct is None or (distinct > 50 and distinct > 0.5 * self.count)
        ):
            return ColumnReference(
                self.name, "identifier", t, self.count, self.nulls, distinct=distinct
            )
        order = np.argsort(-self.counts, kind="stable")
        values = [] if self.keys is None else self.keys.take(pa.array(order)).to_pylist()
        cats = [(v, int(n)) for v, n in zip(values, self.counts[order], strict=True)]
        return ColumnReference(self.name, self.kind, t, self.count, self.nulls, categories=cats)


class _Sampler:
    """Every ``stride``-th value; the stride doubles whenever the sample passes ``cap``."""

    def __init__(self, cap: int) -> None:
        self.cap, self.stride, self.seen, self.size = cap, 1, 0, 0
        self.parts: list[np.ndarray] = []

    def add(self, v: np.ndarray) -> None:
        start = (-self.seen) % self.stride
        kept = v[start :: self.stride].copy()
        self.parts.append(kept)
        self.size += kept.size
        self.seen += v.size
        if self.size > self.cap:
            merged = np.concatenate(self.parts)[::2]  # global positions 0, 2s, 4s, ...
            self.parts, self.size, self.stride = [merged], merged.size, self.stride * 2

    def values(self) -> np.ndarray:
        return np.concatenate(self.parts) if self.parts else np.zeros(0)


class _Numeric(_Acc):
    kind = "numeric"

    def __init__(self, f: pa.Field, sample_size: int) -> None:
        super().__init__(f)
        self.n = self.infs = 0
        self.mean = self.m2 = 0.0
        self.lo = math.inf
        self.hi = -math.inf
        self.sample = _Sampler(sample_size)
        self.grid: Grid | None = None

    def update(self, arr: pa.Array) -> None:
        v, nulls, infs = _arrays.numeric_values(arr)
        self.nulls += nulls
        self.count += len(arr) - nulls
        self.infs += infs
        if not v.size:
            return
        self.lo, self.hi = min(self.lo, float(v.min())), max(self.hi, float(v.max()))
        n_b, mean_b = v.size, float(v.mean())
        d = v - mean_b
        m2_b = float(np.dot(d, d))
        n = self.n + n_b
        delta = mean_b - self.mean  # Chan et al.: combine (count, mean, M2) without cancellation
        self.mean += delta * n_b / n
        self.m2 += m2_b + delta * delta * self.n * n_b / n
        self.n = n
        self.sample.add(v)

    def start_pass2(self, grid_size: int) -> None:
        s = np.sort(self.sample.values())
        self.sample_sorted = s
        distinct = np.unique(s)
        if distinct.size > grid_size:
            ranks = np.round(np.linspace(0, s.size - 1, grid_size)).astype(np.int64)
            distinct = np.unique(s[ranks])
        points = np.unique(np.concatenate([distinct, [self.lo, self.hi]]))
        self.grid = Grid(points)
        self.counts, self.offsets = self.grid.zeros()
        # A grid of every sampled value may still miss rare values; while they are few,
        # count them exactly so that finish() can make them grid points too.
        self.missed: dict[float, int] | None = {} if points.size <= grid_size else None
        self.grid_size = grid_size

    def update2(self, arr: pa.Array) -> None:
        v, _, _ = _arrays.numeric_values(arr)
        fine = self.grid.accumulate(v, self.counts, self.offsets)
        if self.missed is not None:
            off_grid = (fine & 1) == 0
            if off_grid.any():
                values, counts = np.unique(v[off_grid], return_counts=True)
                for x, c in zip(values.tolist(), counts.tolist(), strict=True):
                    self.missed[x] = self.missed.get(x, 0) + c
                if len(self.missed) + self.grid.points.size > 2 * self.grid_size:
                    self.missed = None

    def _add_missed(self) -> None:
        """Every off-grid value was counted: make each a point, leaving every gap empty."""
        old = self.grid.points
        points = np.unique(np.concatenate([old, np.fromiter(self.missed, float)]))
        counts = np.zeros(2 * points.size + 1, dtype=np.int64)
        counts[2 * np.searchsorted(points, old) + 1] = self.counts[1::2]
        for x, c in self.missed.items():
            counts[2 * int(np.searchsorted(points, x)) + 1] = c
        self.grid, self.counts, self.offsets = Grid(points), counts, np.zeros(counts.size)

    def finish(self) -> ColumnReference:
        t = _arrays.type_name(self.type)
        if not self.n:
            return ColumnReference(self.name, "numeric", t, self.count, self.nulls, self.infs)
        if int(self.counts.sum()) != self.n:  # before _add_missed, which keeps the sum
            raise InvalidInput(
                f"The reference yielded {int(self.counts.sum())} values of column {self.name!r} "
                f"on its second pass but {self.n} on the first; it must return the same data "
                "each time it is read."
            )
        if self.missed:
            self._add_missed()
        qs = np.quantile(self.sample_sorted, QUANTILES)
        return ColumnReference(
            self.name,
            "numeric",
            t,
            self.count,
            self.nulls,
            self.infs,
            min=self.lo,
            max=self.hi,
            mean=finite_or_none(self.mean),
            std=finite_or_none(math.sqrt(self.m2 / self.n)),
            quantiles={str(q): float(x) for q, x in zip(QUANTILES, qs, strict=True)},
            grid=self.grid.points,
            counts=self.counts,
            offsets=self.offsets,
            grid_exact=bool(not self.counts[0::2].any()),
        )


def _accumulator(f: pa.Field, sample_size: int, categorical: bool = False) -> _Acc:
    if categorical and pa.types.is_integer(f.type):
        return _Categorical(f)
    kind = _arrays.column_kind(f.type)
    if kind == "numeric":
        return _Numeric(f, sample_size)
    if kind in ("categorical", "boolean"):
        return _Categorical(f)
    if kind == "datetime":
        return _Datetime(f)
    return _Acc(f)


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidInput(
            f"The {name!r} parameter of build_reference must be an int >= {low}. "
            f"Got {value!r} instead."
        )
    return int(value)


def build_reference(
    data: Any,
    *,
    columns: Sequence[str] | None = None,
    grid_size: int = DEFAULT_GRID_SIZE,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    metadata: dict[str, Any] | None = None,
    categorical: Sequence[str] = (),
) -> ReferenceProfile:
    """Profile reference data (training or validation data, or its scores) for monitoring.

    Args:
        data: A DataFrame, Arrow table, Parquet path, or a callable returning record
            batches (read twice; a one-shot iterator is refused).
        columns: Columns to profile (default: all).
        grid_size: Cut points per numeric column; KS against the profile is within
            about ``1 / grid_size`` of the exact value (exact on grids of every value).
        sample_size: Values per numeric column kept to place the grid.
        metadata: Free-form JSON data stored with the profile (e.g. the dataset version).
        categorical: Integer columns to profile as categories (codes), not numbers.

    Raises:
        InvalidInput: A parameter is invalid, a column is missing, or the data cannot
            be read twice.
    """
    grid_size = _check_int("grid_size", grid_size, 2)
    sample_size = _check_int("sample_size", sample_size, grid_size)
    src = as_source(data, "reference")
    if not src.reiterable:
        raise InvalidInput(
            "build_reference reads the reference twice; pass a DataFrame, a Table, a Parquet "
            "path or a callable returning batches, not a one-shot iterator."
        )
    names = list(src.schema.names if columns is None else columns)
    missing = [c for c in names if c not in src.schema.names]
    if missing:
        raise InvalidInput(f"The reference has no column(s) {missing}; it has {src.schema.names}.")
    codes = set(categorical)
    accs = [_accumulator(src.schema.field(c), sample_size, c in codes) for c in names]
    rows = 0
    for batch in src.batches(names):
        rows += batch.num_rows
        for acc in accs:
            acc.update(_arrays.batch_column(batch, acc.name, "reference"))
    numeric = [a for a in accs if isinstance(a, _Numeric) and a.n]
    if numeric:
        for a in numeric:
            a.start_pass2(grid_size)
        for batch in src.batches([a.name for a in numeric]):
            for a in numeric:
                a.update2(_arrays.batch_column(batch, a.name, "reference"))
    cols = {a.name: a.finish() for a in accs}
    return ReferenceProfile(
        rows=rows, columns=cols, grid_size=grid_size, metadata=dict(metadata or {})
    )


def as_reference(data: Any, **kw: Any) -> ReferenceProfile:
    """``data`` if it is a profile already (or its dict), else ``build_reference(data, **kw)``."""
    if isinstance(data, ReferenceProfile):
        return data
    if isinstance(data, dict) and data.get("format") == FORMAT:
        return ReferenceProfile.from_dict(data)
    if isinstance(data, Source) or data is not None:
        return build_reference(data, **kw)
    raise InvalidInput("A reference (data or a ReferenceProfile) is required. Got None.")
