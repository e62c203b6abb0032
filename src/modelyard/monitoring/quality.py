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

Every issue carries its size: ``value`` (a share) and ``count`` (the rows or values
concerned) out of ``rows``. Shares mean nothing on a handful of rows, so below
``min_rows`` rows in the window the statistical checks (range, nulls, constant,
unit change, unseen categories, non-finite) are listed with severity "info" and the
report's verdict is "insufficient data"; schema changes and duplicate ids are facts
about the rows seen, and keep their severity whatever the size.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.monitoring import _grid
from modelyard.monitoring.current import ColumnSummary, CurrentSummary, summarize
from modelyard.monitoring.drift import DEFAULT_MIN_ROWS, INSUFFICIENT
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
FACTS = ("schema", "duplicate_ids")  # certain on any number of rows


@dataclass(frozen=True)
class QualityIssue:
    """One finding: ``check`` (one of ``CHECKS``), ``column`` (None for the whole table),
    ``severity`` ("error", "warning", or "info" below the minimum rows), ``message``,
    the measured ``value`` (a share, or a ratio for unit changes), and its size:
    ``count`` rows or values concerned of ``rows``."""

    check: str
    column: str | None
    severity: str
    message: str
    value: float | None = None
    count: int | None = None
    rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
            "value": finite_or_none(self.value),
            "count": self.count,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class QualityReport:
    """Every issue found; ``passed`` when none is an error.

    ``verdict``: "failed" (an error), "insufficient data" (fewer than ``min_rows`` rows
    and no error), "warnings" or "passed".
    """

    issues: list[QualityIssue]
    rows: int
    min_rows: int = 0

    @property
    def passed(self) -> bool:
        return not self.errors()

    @property
    def verdict(self) -> str:
        if self.errors():
            return "failed"
        if self.rows < self.min_rows:
            return INSUFFICIENT
        return "warnings" if self.warnings() else "passed"

    def errors(self) -> list[QualityIssue]:
        return [i for i in self.issues if i.severity == "error"]

    def warnings(self) -> list[QualityIssue]:
        return [i for i in self.issues if i.severity == "warning"]

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
            "verdict": self.verdict,
            "rows": self.rows,
            "min_rows": self.min_rows,
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
        same = kind == _kind_of_type(col.kind) or (
            kind == "numeric" and col.arrow_type.startswith(("int", "uint"))
        )  # integer codes profiled as categories still arrive as numbers
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
    size = f"{cur.nulls:,} of {cur.rows:,} rows"
    if ref.null_count == 0 and cur.nulls:
        sev = "error" if c > tol else "warning"
        return [
            QualityIssue(
                "nulls",
                ref.name,
                sev,
                f"{_pct(c)} nulls ({size}) in a column that had none",
                c,
                cur.nulls,
                cur.rows,
            )
        ]
    if c - r > tol:
        return [
            QualityIssue(
                "nulls",
                ref.name,
                "error",
                f"null rate rose from {_pct(r)} to {_pct(c)} ({size})",
                c,
                cur.nulls,
                cur.rows,
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
                cur.infs,
                cur.count,
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
                f"{_pct(outside)} of values ({below + above:,} of {cur.n:,}) outside the "
                f"reference range [{ref.min:g}, {ref.max:g}]",
                outside,
                below + above,
                cur.n,
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
                cur.n,
                cur.n,
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
                    cur.n,
                    cur.n,
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
                            count,
                            cur.n,
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
                f"{_pct(share)} of values ({unseen:,} of {cur.count:,}) are categories the "
                f"reference never had: {names}" + (f" and {more} more" if more > 0 else ""),
                share,
                unseen,
                cur.count,
            )
        )
    distinct = int((cur.counts > 0).sum()) + len(cur.unseen) if cur.counts is not None else 0
    if distinct == 1 and len(ref.categories or []) > 1 and cur.count > 1:
        out.append(
            QualityIssue(
                "constant",
                ref.name,
                "warning",
                "a single category; the reference had several",
                1.0,
                cur.count,
                cur.count,
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
    min_rows: int = DEFAULT_MIN_ROWS,
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
        min_rows: Rows below which statistical issues are "info" and the verdict is
            "insufficient data" (see the module docstring).

    Raises:
        InvalidInput: A parameter is invalid or the data cannot be read.
    """
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 0:
        raise InvalidInput(
            f"The 'min_rows' parameter of check_quality must be an int >= 0. Got {min_rows!r}."
        )
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
                summary.duplicate_ids,
                summary.id_count,
            )
        )
    if summary.rows < min_rows:  # shares of a handful of rows: reported, not judged
        issues = [
            i if i.check in FACTS else dataclasses.replace(i, severity="info") for i in issues
        ]
    return QualityReport(issues, summary.rows, min_rows)
