"""The registration probe: can the fitted model score an unseen value, or a null, per column?

At registration the model is asked, column by column, to score one row of its
example with that column set to a value never seen in training, then to a
null. The row goes through the same checks and coercions serving and batch
apply, so the probe tests exactly what production would send the model. What
scores without error (and gives finite outputs) is accepted in production,
flagged as a warning; what raises is refused with a 422 naming field and
value (see :mod:`modelyard.flavors.policy`). One request with every probe row
is tried first; only if it fails is each column tried alone.

The unseen value is a string no one would use (:data:`UNSEEN_MARKER`) for
string and category columns, the training maximum + 1 for integers (a new
code of an integer-coded categorical) and 1 + twice the maximum's magnitude
for floats. Booleans and datetimes get no unseen probe.

Stored in the model manifest under ``"probe"`` (format ``modelyard.probe/v1``)::

    {"format": "modelyard.probe/v1",
     "columns": {
        "channel": {"unseen": "scores", "null": "fails",
                    "errors": {"null": "ValueError: Input contains NaN"}},
        "income":  {"unseen": "scores", "null": "scores", "errors": {}},
        "is_new":  {"unseen": null, "null": "scores", "errors": {}}}}

``"scores"``: the model scored it; ``"fails"``: it raised (``errors`` says
what); null: not probed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.errors import InvalidInput
from modelyard.flavors._enforce import ColumnRule, EnforcementPlan

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors.domain import Domain
    from modelyard.flavors.signature import Signature

__all__ = ["PROBE_FORMAT", "UNSEEN_MARKER", "ColumnProbe", "Probe", "probe_model"]

PROBE_FORMAT = "modelyard.probe/v1"
UNSEEN_MARKER = "__modelyard_probe_unseen__"
SCORES, FAILS = "scores", "fails"
_ERROR_CHARS = 300


@dataclass(frozen=True)
class ColumnProbe:
    """What one column's probes showed: ``"scores"``, ``"fails"`` or None (not probed)."""

    unseen: str | None = None
    null: str | None = None
    errors: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"unseen": self.unseen, "null": self.null, "errors": dict(self.errors)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProbe:
        return cls(data.get("unseen"), data.get("null"), dict(data.get("errors") or {}))


@dataclass(frozen=True)
class Probe:
    """Per-column probe results of one fitted model."""

    columns: dict[str, ColumnProbe]

    def get(self, name: str) -> ColumnProbe | None:
        return self.columns.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PROBE_FORMAT,
            "columns": {name: c.to_dict() for name, c in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Probe:
        if not isinstance(data, Mapping) or data.get("format") != PROBE_FORMAT:
            raise InvalidInput(f"a probe must be a dict of format {PROBE_FORMAT!r}")
        try:
            return cls({str(k): ColumnProbe.from_dict(v) for k, v in data["columns"].items()})
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"invalid probe: {exc!r}") from exc


def probe_model(
    predict: Callable[[pd.DataFrame], Any],
    example: pd.DataFrame,
    signature: Signature,
    domain: Domain | None = None,
) -> Probe:
    """Probe ``predict`` (predict_proba for a classifier) column by column.

    Args:
        predict: Scores an enforced frame; any exception or non-finite output
            counts as "cannot score".
        example: Rows the model scores as they are; the first one is the base row.
        signature: Its input columns are probed.
        domain: Gives the training maximum for numeric unseen values.
    """
    import pandas as pd

    base = example[signature.input_names].head(1).reset_index(drop=True)
    if base.empty:
        raise InvalidInput("cannot probe the model: the example has no rows")
    # Every value passes (and is coerced exactly as in production); nothing is flagged.
    permissive = EnforcementPlan(
        signature.inputs,
        {
            s.name: ColumnRule(unseen="score", nulls="score", nullable=True)
            for s in signature.inputs
        },
    )
    cases: list[tuple[str, str, Any]] = []
    for spec in signature.inputs:
        unseen = _unseen_value(spec, domain)
        if unseen is not None:
            cases.append((spec.name, "unseen", unseen))
        cases.append((spec.name, "null", None))
    rows = []
    for name, _, value in cases:
        row = base.astype(object).copy()
        row.at[0, name] = value
        rows.append(row)
    results: dict[tuple[str, str], str] = {}
    errors: dict[tuple[str, str], str] = {}
    everything = pd.concat(rows, ignore_index=True) if rows else base
    if _scores(predict, permissive, everything) is None:
        results = {(name, what): SCORES for name, what, _ in cases}
    else:
        for (name, what, _), row in zip(cases, rows, strict=True):
            error = _scores(predict, permissive, row)
            results[(name, what)] = SCORES if error is None else FAILS
            if error is not None:
                errors[(name, what)] = error
    columns = {}
    for spec in signature.inputs:
        columns[spec.name] = ColumnProbe(
            results.get((spec.name, "unseen")),
            results.get((spec.name, "null")),
            {
                what: errors[(spec.name, what)]
                for what in ("unseen", "null")
                if (spec.name, what) in errors
            },
        )
    return Probe(columns)


def _scores(
    predict: Callable[[pd.DataFrame], Any], plan: EnforcementPlan, frame: pd.DataFrame
) -> str | None:
    """None when ``predict`` scores every row of ``frame`` finitely, else what went wrong."""
    try:
        enforced, _ = plan.check_frame(frame, False)
        out = np.asarray(predict(enforced))
    except Exception as exc:  # the user's model may raise anything: that is the answer
        return f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
    if out.dtype.kind in "fc" and not np.isfinite(out).all():
        return "the model returned NaN or an infinite score"
    return None


def _unseen_value(spec: Any, domain: Domain | None) -> Any:
    column = domain.get(spec.name) if domain is not None else None
    high = column.maximum if column is not None else spec.maximum
    if spec.type in ("string", "category"):
        return UNSEEN_MARKER
    if spec.type == "integer":
        return int(high) + 1 if isinstance(high, int | float) else None
    if spec.type == "float":
        return 1.0 + 2.0 * abs(float(high)) if isinstance(high, int | float) else None
    return None
