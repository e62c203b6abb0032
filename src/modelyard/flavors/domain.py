"""The soft domain of a model's inputs: what was seen in training, stored with the version.

A signature (:mod:`modelyard.flavors.signature`) is the hard contract: column
names and types. The *domain* is what the training data held — categories,
ranges, null rates — and it is soft: a value outside it is scored and flagged
(when the model can score it, see :mod:`modelyard.flavors.probe`), never
refused for being new. Serving and batch flag such values as warnings;
monitoring compares traffic against it.

Where it comes from, best first (``source``):

* ``"training"``: the profiles of the training run's input datasets (whatever
  their role name; inputs whose role names an evaluation split — test,
  holdout, validation — are left out unless nothing else is there);
* ``"example"``: the ``example=`` frame given at registration (often a few rows);
* ``"signature"``: a model saved before domains existed: the signature's own
  categories, nullability and observed range.

Stored in the model manifest under ``"domain"`` (format ``modelyard.domain/v1``)::

    {"format": "modelyard.domain/v1",
     "source": "training",                 # or "example", "signature"
     "datasets": ["loans/3"],              # dataset versions it was built from
     "rows": 48210,                        # rows behind it (None if unknown)
     "columns": {
        "channel": {"categories": ["branch", "web"],  # None: not recorded
                    "minimum": null, "maximum": null,
                    "null_rate": 0.0, "nullable": false},
        "income":  {"categories": null, "minimum": 900.0, "maximum": 2.1e6,
                    "null_rate": 0.013, "nullable": true}}}

``categories`` is the complete set of values seen (strings), or None when it
was not recorded (a numeric column, or more distinct values than the profile
keeps: then no value counts as unseen). ``minimum``/``maximum`` are numbers
for numeric columns and ISO strings for datetimes. ``nullable`` says whether
training held any null; a null in a column that had none is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors.signature import Signature

__all__ = ["DOMAIN_FORMAT", "EVALUATION_ROLES", "ColumnDomain", "Domain", "training_profiles"]

DOMAIN_FORMAT = "modelyard.domain/v1"
SOURCES = ("training", "example", "signature")
EVALUATION_ROLES = frozenset(
    {"test", "testing", "holdout", "validation", "valid", "eval", "evaluation", "oot"}
)
"""Input roles that are not training data (their values were never fitted on)."""


@dataclass(frozen=True)
class ColumnDomain:
    """What one input column held in training."""

    categories: tuple[str, ...] | None = None
    minimum: float | int | str | None = None
    maximum: float | int | str | None = None
    null_rate: float | None = None
    nullable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories) if self.categories is not None else None,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "null_rate": self.null_rate,
            "nullable": self.nullable,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnDomain:
        categories = data.get("categories")
        return cls(
            categories=tuple(str(c) for c in categories) if categories is not None else None,
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
            null_rate=data.get("null_rate"),
            nullable=bool(data.get("nullable", False)),
        )


@dataclass(frozen=True)
class Domain:
    """The training domain of every input column (see the module docstring)."""

    source: str
    columns: dict[str, ColumnDomain] = field(default_factory=dict)
    datasets: tuple[str, ...] = ()
    rows: int | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise InvalidInput(
                f"The domain source must be one of {SOURCES}. Got {self.source!r} instead."
            )

    def get(self, name: str) -> ColumnDomain | None:
        return self.columns.get(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": DOMAIN_FORMAT,
            "source": self.source,
            "datasets": list(self.datasets),
            "rows": self.rows,
            "columns": {name: c.to_dict() for name, c in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Domain:
        if not isinstance(data, Mapping) or data.get("format") != DOMAIN_FORMAT:
            raise InvalidInput(f"a domain must be a dict of format {DOMAIN_FORMAT!r}")
        try:
            return cls(
                source=str(data["source"]),
                columns={
                    str(k): ColumnDomain.from_dict(v) for k, v in (data["columns"] or {}).items()
                },
                datasets=tuple(data.get("datasets") or ()),
                rows=data.get("rows"),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise InvalidInput(f"invalid domain: {exc!r}") from exc

    # -- builders -------------------------------------------------------------
    @classmethod
    def from_signature(cls, signature: Signature) -> Domain:
        """The domain a signature implies (models saved before domains were stored)."""
        columns = {
            s.name: ColumnDomain(s.categories, s.minimum, s.maximum, None, s.nullable)
            for s in signature.inputs
        }
        return cls("signature", columns)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, signature: Signature) -> Domain:
        """The domain of a frame (the registration example), for the signature's columns."""
        from modelyard.flavors.signature import MAX_CATEGORIES, infer_column

        columns: dict[str, ColumnDomain] = {}
        rows = len(frame)
        for spec in signature.inputs:
            if spec.name not in frame.columns:
                continue
            series = frame[spec.name]
            nulls = int(series.isna().sum())
            categories = None
            low = high = None
            if spec.type in ("string", "category"):
                seen = series.dropna().astype(str).unique()
                if len(seen) <= MAX_CATEGORIES:
                    categories = tuple(sorted(seen))
            else:
                try:
                    inferred = infer_column(spec.name, series)
                except InvalidInput:
                    inferred = None
                if inferred is not None:
                    low, high = inferred.minimum, inferred.maximum
            columns[spec.name] = ColumnDomain(
                categories, low, high, nulls / rows if rows else None, nulls > 0
            )
        return cls("example", columns, rows=rows)

    @classmethod
    def from_profiles(
        cls,
        profiles: Sequence[tuple[str, Mapping[str, Any]]],
        signature: Signature,
        fallback: Domain | None = None,
    ) -> Domain:
        """The domain of stored dataset profiles (``DatasetProfile.to_dict()`` dicts).

        Args:
            profiles: ``(dataset ref, profile dict)`` of each training dataset; the
                union is taken (categories joined, widest range, pooled null rate).
            signature: Only its input columns get a domain.
            fallback: Used for a column no profile has (e.g. the example's domain).
        """
        columns: dict[str, ColumnDomain] = {}
        total_rows = sum(int(p.get("rows") or 0) for _, p in profiles)
        for spec in signature.inputs:
            found = [
                (int(p.get("rows") or 0), p["columns"][spec.name])
                for _, p in profiles
                if spec.name in (p.get("columns") or {})
            ]
            if not found:
                if fallback is not None and fallback.get(spec.name) is not None:
                    columns[spec.name] = fallback.columns[spec.name]
                continue
            columns[spec.name] = _merge_profiles(spec.type, found)
        return cls("training", columns, tuple(ref for ref, _ in profiles), total_rows)


def _merge_profiles(column_type: str, found: list[tuple[int, Mapping[str, Any]]]) -> ColumnDomain:
    rows = sum(r for r, _ in found)
    nulls = sum(int(c.get("null_count") or 0) for _, c in found)
    categories: tuple[str, ...] | None = None
    if column_type in ("string", "category"):
        # A profile lists its top values only; "categories" (the complete set) is
        # added by the registry from the stored data when the list was truncated.
        complete = all(
            c.get("categories") is not None
            or (
                c.get("kind") == "categorical"
                and not c.get("high_cardinality")
                and not c.get("categories_truncated")
                and c.get("top") is not None
            )
            for _, c in found
        )
        if complete:
            values: set[str] = set()
            for _, c in found:
                if c.get("categories") is not None:
                    values.update(str(v) for v in c["categories"])
                else:
                    values.update(str(v) for v, _n in c["top"] if v is not None)
            categories = tuple(sorted(values))
    lows = [c.get("min") for _, c in found if c.get("min") is not None]
    highs = [c.get("max") for _, c in found if c.get("max") is not None]
    low = _extreme(lows, min) if column_type not in ("string", "category", "boolean") else None
    high = _extreme(highs, max) if column_type not in ("string", "category", "boolean") else None
    return ColumnDomain(categories, low, high, nulls / rows if rows else None, nulls > 0)


def _extreme(values: Iterable[Any], pick: Any) -> Any:
    items = [v for v in values if not (isinstance(v, float) and not math.isfinite(v))]
    if not items:
        return None
    try:
        return pick(items)
    except TypeError:  # mixed kinds across datasets: no range rather than a wrong one
        return None


def training_profiles(
    inputs: Sequence[tuple[str, str, Mapping[str, Any] | None]],
) -> list[tuple[str, Mapping[str, Any]]]:
    """The profiles that count as training data among a run's ``(ref, role, profile)`` inputs.

    Every input whatever its role word (``train``, ``training``, ``data``, none),
    except evaluation splits (:data:`EVALUATION_ROLES`) — unless those are all there is.
    """
    usable = [(ref, role, p) for ref, role, p in inputs if isinstance(p, Mapping) and p]
    training = [(r, p) for r, role, p in usable if (role or "").lower() not in EVALUATION_ROLES]
    return training or [(r, p) for r, _, p in usable]
