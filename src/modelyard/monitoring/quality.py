"""Data-quality checks of current data against a reference profile.

``check_quality(current, reference)`` reads the data once (or takes a ``CurrentSummary``
already made with ``summarize``) and reports ``QualityIssue``s, each naming its check,
column, severity ("error" or "warning"), a message for a person and the measured value:

- ``schema``: reference columns missing from the current data (error), new columns
  (warning), type changes (error when the kind changes, e.g. number to string;
  warning within a kind, e.g. int64 to double);
- ``range``: share of numeric values outside the reference's [min, max] above
  ``range_tolerance`` (two samples of one distribution put about 2/n_reference there);
- ``nulls``: nulls in a column that had none (error above ``null_tolerance``, else a
  warning), or a null rate up by more than ``null_tolerance``;
- ``constant``: one distinct value where the reference had several;
- ``unit_change``: the median (or, for a partial change, the values outside the
  reference's range) off the reference median by ``unit_ratio`` or more, e.g.
  "unit change suspected: values ~1000x smaller", for columns with a positive median;
- ``unseen_category``: categorical values the reference never had (error above
  ``unseen_tolerance`` of the values);
- ``non_finite``: +-inf where the reference had none;
- ``duplicate_ids``: repeated values of ``id_column``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.monitoring import _grid
from modelyard.monitoring.current import ColumnSummary, CurrentSummary, summarize
from modelyard.monitoring.reference import ColumnReference, ReferenceProfile, as_reference
from modelyard.monitoring.stats import finite_or_none

__all__ = ["CHECKS", "QualityIssue", "QualityReport", "check_quality"]

CHECKS = (
    "schema",
    "range",
    "nulls",
    "constant",
    "unit_change",
    "unseen_category",
    "non_finite",
    "duplicate_ids",
)


@dataclass(frozen=True)
class QualityIssue:
    """One finding: ``check`` (one of ``CHECKS``), ``column`` (None for the whole table),
    ``severity`` ("error" or "warning"), ``message`` and the measured ``value``."""

    check: str
    column: str | None
    severity: str
    message: str
    value: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
            "value": finite_or_none(self.value),
        }


@dataclass(frozen=True)
class QualityReport:
    """Every issue found; ``passed`` when none is an error."""

    issues: list[QualityIssue]
    rows: int

    @property
    def passed(self) -> bool:
        return not self.errors()

    def errors(self) -> list[QualityIssue]:
        return [i for i in self.issues if i.severity == "error"]

    def find(self, check: str | None = None, column: str | None = None) -> list[QualityIssue]:
        """Issues of ``check`` and/or on ``column``."""
        return [
            i
            for i in self.issues
            if (check is None or i.check == check) and (column is None or i.column == column)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "rows": self.rows,
            "issues": [i.to_dict() for i in self.issues],
        }


def _pct(x: float) -> str:
    return f"{100 * x:.3g}%"


def _kind_of_type(kind: str) -> str:
    return "categorical" if kind == "identifier" else kind


def _schema(ref: ReferenceProfile, cur: CurrentSummary) -> list[QualityIssue]:
    out = []
    for name, col in ref.columns.items():
        if name not in cur.schema:
            out.append(QualityIssue("schema", name, "error", f"column {name!r} is missing"))
            continue
        got = cur.schema[name]
        if got == col.arrow_type:
            continue
        kind = cur.kinds[name]
        same = kind == _kind_of_type(col.kind)
        out.append(
            QualityIssue(
                "schema",
                name,
                "warning" if same else "error",
                f"type changed from {col.arrow_type} to {got}"
                + ("" if same else f" ({_kind_of_type(col.kind)} to {kind})"),
            )
        )
    for name in cur.schema:
        if name not in ref.columns:
            out.append(
                QualityIssue(
                    "schema", name, "warning", f"new column {name!r} is not in the reference"
                )
            )
    return out


def _nulls(ref: ColumnReference, cur: ColumnSummary, tol: float) -> list[QualityIssue]:
    r, c = ref.null_rate, cur.null_rate
    if r is None or c is None or not cur.nulls_known:
        return []
    if ref.null_count == 0 and cur.nulls:
        sev = "error" if c > tol else "warning"
        return [
            QualityIssue("nulls", ref.name, sev, f"{_pct(c)} nulls in a column that had none", c)
        ]
    if c - r > tol:
        return [
            QualityIssue(
                "nulls", ref.name, "error", f"null rate rose from {_pct(r)} to {_pct(c)}", c
            )
        ]
    return []


def _ratio_text(ratio: float) -> str:
    power = 10 ** round(math.log10(ratio if ratio >= 1 else 1 / ratio))
    return f"~{power:g}x {'larger' if ratio >= 1 else 'smaller'}"


def _numeric(
    ref: ColumnReference, cur: ColumnSummary, range_tol: float, unit_ratio: float
) -> list[QualityIssue]:
    out: list[QualityIssue] = []
    name = ref.name
    if cur.infs and not ref.inf_count:
        out.append(
            QualityIssue(
                "non_finite",
                name,
                "warning",
                f"{cur.infs} infinite values; the reference had none",
                cur.infs / max(cur.count, 1),
            )
        )
    if ref.grid is None or not cur.n or cur.counts is None:
        return out
    below, above = int(cur.counts[0]), int(cur.counts[-1])
    outside = (below + above) / cur.n
    if outside > range_tol:
        out.append(
            QualityIssue(
                "range",
                name,
                "error" if outside > 10 * range_tol else "warning",
                f"{_pct(outside)} of values outside the reference range [{ref.min:g}, {ref.max:g}]",
                outside,
            )
        )
    if cur.min == cur.max and ref.min != ref.max and cur.n > 1:
        out.append(
            QualityIssue(
                "constant",
                name,
                "warning",
                f"every value is {cur.min:g}; the reference varied",
                1.0,
            )
        )
    ref_median = _grid.binned_quantile(ref.grid, ref.counts, ref.offsets, 0.5)
    if ref_median > 0:
        median = _grid.binned_quantile(ref.grid, cur.counts, cur.offsets, 0.5)
        ratio = median / ref_median if median > 0 else 0.0
        if ratio and (ratio >= unit_ratio or ratio <= 1 / unit_ratio):
            out.append(
                QualityIssue(
                    "unit_change",
                    name,
                    "error",
                    f"unit change suspected: values {_ratio_text(ratio)} than "
                    f"the reference (median {median:.4g} vs {ref_median:.4g})",
                    ratio,
                )
            )
        else:  # a partial change: a share of values far outside the reference's range
            for count, b, edge in ((below, 0, ref.min), (above, -1, ref.max)):
                if count / cur.n <= range_tol:
                    continue
                mean = edge - cur.offsets[b] / count if b == 0 else edge + cur.offsets[b] / count
                part = mean / ref_median if mean > 0 else 0.0
                if part and (part >= unit_ratio or part <= 1 / unit_ratio):
                    out.append(
                        QualityIssue(
                            "unit_change",
                            name,
                            "error",
                            f"unit change suspected in {_pct(count / cur.n)} of "
                            f"values: {_ratio_text(part)} than the reference",
                            part,
                        )
                    )
    return out


def _categorical(ref: ColumnReference, cur: ColumnSummary, tol: float) -> list[QualityIssue]:
    out = []
    unseen = sum(cur.unseen.values()) + cur.unseen_other
    if unseen and cur.count:
        share = unseen / cur.count
        top = sorted(cur.unseen.items(), key=lambda kv: -kv[1])[:5]
        names = ", ".join(repr(v) for v, _ in top)
        more = len(cur.unseen) - len(top) + (1 if cur.unseen_other else 0)
        out.append(
            QualityIssue(
                "unseen_category",
                ref.name,
                "error" if share > tol else "warning",
                f"{_pct(share)} of values are categories the reference never "
                f"had: {names}" + (f" and {more} more" if more > 0 else ""),
                share,
            )
        )
    distinct = int((cur.counts > 0).sum()) + len(cur.unseen) if cur.counts is not None else 0
    if distinct == 1 and len(ref.categories or []) > 1 and cur.count > 1:
        out.append(
            QualityIssue(
                "constant", ref.name, "warning", "a single category; the reference had several", 1.0
            )
        )
    return out


def _tolerance(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidInput(
            f"The {name!r} parameter of check_quality must be a number >= 0. Got {value!r} instead."
        )
    return float(value)


def check_quality(
    current: Any,
    reference: Any,
    *,
    id_column: str | None = None,
    range_tolerance: float = 0.01,
    null_tolerance: float = 0.05,
    unseen_tolerance: float = 0.01,
    unit_ratio: float = 10.0,
    n_jobs: int | None = None,
) -> QualityReport:
    """Check ``current`` data (or its ``CurrentSummary``) against a reference profile.

    Args:
        current: Data as ``summarize`` accepts it, or a ``CurrentSummary``.
        reference: A ``ReferenceProfile`` (or its dict, or reference data to profile).
        id_column: Column whose values must be unique.
        range_tolerance: Share of values allowed outside the reference's range.
        null_tolerance: Allowed rise of a null rate (absolute).
        unseen_tolerance: Share of unseen categories above which they are an error.
        unit_ratio: Median ratio to the reference that suggests a unit change (> 1).
        n_jobs: Processes for a Parquet input (see ``current.summarize``).

    Raises:
        InvalidInput: A parameter is invalid or the data cannot be read.
    """
    range_tolerance = _tolerance("range_tolerance", range_tolerance)
    null_tolerance = _tolerance("null_tolerance", null_tolerance)
    unseen_tolerance = _tolerance("unseen_tolerance", unseen_tolerance)
    if _tolerance("unit_ratio", unit_ratio) <= 1:
        raise InvalidInput(
            f"The 'unit_ratio' parameter of check_quality must be > 1. Got {unit_ratio!r} instead."
        )
    ref = as_reference(reference)
    if isinstance(current, CurrentSummary):
        summary = current
    else:
        summary = summarize(current, ref, id_column=id_column, n_jobs=n_jobs)
    issues = _schema(ref, summary)
    for name, col in ref.columns.items():
        cur = summary.columns.get(name)
        if cur is None:
            continue
        issues += _nulls(col, cur, null_tolerance)
        if cur.error:
            continue  # the schema check reports the type change
        if col.kind == "numeric":
            issues += _numeric(col, cur, range_tolerance, float(unit_ratio))
        elif col.kind in ("categorical", "boolean"):
            issues += _categorical(col, cur, unseen_tolerance)
    if id_column is not None and summary.id_column != id_column:
        raise InvalidInput(
            f"The CurrentSummary was made without id_column={id_column!r}; "
            "pass id_column to summarize()."
        )
    if summary.duplicate_ids:
        share = summary.duplicate_ids / max(summary.id_count or 1, 1)
        issues.append(
            QualityIssue(
                "duplicate_ids",
                summary.id_column,
                "error",
                f"{summary.duplicate_ids} rows repeat an earlier "
                f"{summary.id_column!r} ({_pct(share)})",
                share,
            )
        )
    return QualityReport(issues, summary.rows)
