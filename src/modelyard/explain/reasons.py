"""Reason tables and the top adverse reasons of each decision.

A reason table is reviewed content registered with a model version: for
every input column either a reason (a short code, the applicant-facing text,
and the direction in which the column pushes towards the adverse outcome) or
an explicit exclusion with a note (a protected attribute, say, that must
never be given as a reason even when the model uses it)::

    {"adverse_outcome": "high",          # a higher score is the adverse outcome
     "reasons": {"debt_to_income": {"code": "DTI", "text": "Debt is high relative to income",
                                     "direction": "higher"}},
     "excluded": {"age": "protected attribute (age)"}}

:func:`validate_table` refuses a table that leaves a column uncovered or
names a column the model does not read, naming them. :func:`top_reasons`
orders a row's columns by their contribution towards the adverse outcome and
keeps the first ``k`` that push that way; excluded columns never appear, and
a code given by several columns appears once, for the strongest. Without a
table the column names stand in as codes with a plain generated text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import InvalidInput

__all__ = [
    "MAX_REASONS",
    "ReasonTable",
    "default_text",
    "read_table_file",
    "reason_columns",
    "top_reasons",
    "validate_table",
]

ADVERSE = ("high", "low")
DIRECTIONS = ("higher", "lower", "category", "either")
MAX_REASONS = 20  # the most reasons a request or job may ask for per row
MAX_CODE = 64
MAX_TEXT = 500


@dataclass(frozen=True)
class ReasonTable:
    """A validated reason table (see the module docstring for its shape)."""

    reasons: dict[str, dict[str, str]]
    excluded: dict[str, str] = field(default_factory=dict)
    adverse_outcome: str = "high"

    def to_dict(self) -> dict[str, Any]:
        return {
            "adverse_outcome": self.adverse_outcome,
            "reasons": {k: dict(v) for k, v in self.reasons.items()},
            "excluded": dict(self.excluded),
        }


def validate_table(data: Any, columns: Sequence[str]) -> ReasonTable:
    """Check a reason table against the model's input columns.

    Raises:
        InvalidInput: Naming every uncovered column, unknown column and bad field.
    """
    if isinstance(data, ReasonTable):
        data = data.to_dict()
    if not isinstance(data, Mapping):
        raise InvalidInput(
            "reasons: must be a mapping with 'reasons' (column -> {code, text, direction}) "
            f"and optionally 'excluded' and 'adverse_outcome'; got {type(data).__name__}"
        )
    unknown_keys = sorted(set(data) - {"reasons", "excluded", "adverse_outcome"})
    if unknown_keys:
        raise InvalidInput(
            f"reasons: unknown field(s) {unknown_keys}; the table takes 'reasons', 'excluded' "
            "and 'adverse_outcome'"
        )
    adverse = data.get("adverse_outcome", "high")
    if adverse not in ADVERSE:
        raise InvalidInput(
            f"reasons.adverse_outcome: must be one of {list(ADVERSE)} (which end of the score is "
            f"adverse); got {adverse!r}"
        )
    raw_reasons = data.get("reasons") or {}
    raw_excluded = data.get("excluded") or {}
    if not isinstance(raw_reasons, Mapping):
        raise InvalidInput("reasons.reasons: must map input column -> {code, text, direction}")
    if isinstance(raw_excluded, list | tuple):
        raw_excluded = {str(c): "" for c in raw_excluded}
    if not isinstance(raw_excluded, Mapping):
        raise InvalidInput("reasons.excluded: must map input column -> note, or list columns")
    problems: list[str] = []
    known = set(columns)
    unknown = sorted((set(raw_reasons) | set(raw_excluded)) - known)
    if unknown:
        problems.append(f"column(s) {unknown} are not inputs of the model")
    both = sorted(set(raw_reasons) & set(raw_excluded))
    if both:
        problems.append(f"column(s) {both} are both given a reason and excluded")
    uncovered = [c for c in columns if c not in raw_reasons and c not in raw_excluded]
    if uncovered:
        problems.append(
            f"column(s) {uncovered} have no reason and are not excluded; give each a reason "
            "or list it under 'excluded'"
        )
    reasons: dict[str, dict[str, str]] = {}
    for column, entry in raw_reasons.items():
        checked = _entry(str(column), entry, problems)
        if checked is not None:
            reasons[str(column)] = checked
    if problems:
        raise InvalidInput("reason table: " + "; ".join(problems), details=problems)
    return ReasonTable(
        reasons=reasons,
        excluded={str(k): str(v or "") for k, v in raw_excluded.items()},
        adverse_outcome=adverse,
    )


def _entry(column: str, entry: Any, problems: list[str]) -> dict[str, str] | None:
    if not isinstance(entry, Mapping):
        problems.append(f"reasons[{column!r}]: must be an object with code, text and direction")
        return None
    extra = sorted(set(entry) - {"code", "text", "direction"})
    if extra:
        problems.append(f"reasons[{column!r}]: unknown field(s) {extra}")
    code, text = entry.get("code"), entry.get("text")
    direction = entry.get("direction", "either")
    if not isinstance(code, str) or not code.strip() or len(code) > MAX_CODE:
        problems.append(f"reasons[{column!r}].code: a non-empty string of at most {MAX_CODE}")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        problems.append(f"reasons[{column!r}].text: a non-empty string of at most {MAX_TEXT}")
    if direction not in DIRECTIONS:
        problems.append(
            f"reasons[{column!r}].direction: must be one of {list(DIRECTIONS)}; got {direction!r}"
        )
    return {"code": str(code), "text": str(text), "direction": str(direction)}


def default_text(column: str) -> str:
    """The plain text given when no reviewed reason table exists."""
    return f"The value of {column} moved the score towards the adverse outcome"


def _json_value(value: Any) -> Any:
    kind = type(value)
    if kind is str or kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def top_reasons(
    values: np.ndarray,
    columns: Sequence[str],
    frame: pd.DataFrame | Mapping[str, Sequence[Any]],
    table: ReasonTable | None,
    k: int,
) -> list[list[dict[str, Any]]]:
    """Per row, up to ``k`` reasons ``{code, text, column, value, contribution}``.

    ``values`` are the rows' contributions (rows, columns) on the model's raw
    score; a reason is given only for a column pushing towards the adverse
    outcome, strongest first. ``frame`` holds the rows' values (a frame, or
    column name to values in row order).
    """
    if k < 1:
        return [[] for _ in range(len(values))]
    sign = -1.0 if table is not None and table.adverse_outcome == "low" else 1.0
    excluded = set(table.excluded) if table is not None else set()
    allowed = np.array([c not in excluded for c in columns])
    scores = np.where(allowed, values * sign, -np.inf)
    # One sort for all rows, and each column's values read once: per-row pandas indexing
    # and sorting cost more than the explanation itself on a many-row request.
    orders = np.argsort(-scores, axis=1, kind="stable").tolist()
    score_rows, value_rows = scores.tolist(), np.asarray(values, dtype=np.float64).tolist()
    # Each column's code and text looked up once, its values listed once when first used.
    labels = []
    for column in columns:
        entry = table.reasons.get(column) if table is not None else None
        labels.append((entry["code"], entry["text"]) if entry else (column, default_text(column)))
    cells: dict[int, list[Any]] = {}
    out: list[list[dict[str, Any]]] = []
    for row, order in enumerate(orders):
        chosen: list[dict[str, Any]] = []
        seen: set[str] = set()
        scores_of_row = score_rows[row]
        for i in order:
            if len(chosen) == k or not scores_of_row[i] > 0:
                break
            code, text = labels[i]
            if code in seen:
                continue
            seen.add(code)
            shown = cells.get(i)
            if shown is None:
                shown = cells[i] = list(frame[columns[i]])
            chosen.append(
                {
                    "code": code,
                    "text": text,
                    "column": columns[i],
                    "value": _json_value(shown[row]),
                    "contribution": value_rows[row][i],
                }
            )
        out.append(chosen)
    return out


def reason_columns(reasons: list[list[dict[str, Any]]], k: int) -> dict[str, list[Any]]:
    """Flat columns for a table output: ``reason_1_code``, ``reason_1_text``, ... per rank."""
    flat: dict[str, list[Any]] = {}
    for rank in range(1, k + 1):
        for key in ("code", "text", "column", "value", "contribution"):
            flat[f"reason_{rank}_{key}"] = [
                (row[rank - 1][key] if len(row) >= rank else None) for row in reasons
            ]
    # Values of different columns share one output column: keep them as text.
    for rank in range(1, k + 1):
        name = f"reason_{rank}_value"
        flat[name] = [None if v is None else str(v) for v in flat[name]]
    return flat


def read_table_file(path: Any) -> dict[str, Any]:
    """The reason table in a JSON or YAML file, as a mapping (validated on registration)."""
    from pathlib import Path

    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"reason table {str(file)!r}: cannot read it ({exc})") from exc
    try:
        data = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError as exc:
        raise InvalidInput(f"reason table {str(file)!r}: not valid JSON or YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"reason table {str(file)!r}: must hold a mapping at the top level")
    return data
