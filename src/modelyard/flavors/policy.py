"""What to do with out-of-domain input: ``score`` it (with a warning) or ``reject`` it.

An :class:`InputPolicy` has a version-wide action for unseen categories
(``unseen``) and for nulls in columns that had none in training (``nulls``),
and per-column overrides. Any action left out (None) follows the model: the
registration probe (:mod:`modelyard.flavors.probe`) decides — ``score`` where
the model scored the value, ``reject`` where it raised. A ``score`` never
overrides a failed probe: a value the model cannot score is refused with a
422 naming field and value, not sent to the model to fail with a 500.

Set at registration (``register(..., input_policy=...)``, stored in the
manifest under ``"policy"``), and per route in a deployment file
(``input_policy:``), which wins over the version's. Written as::

    {"unseen": "score", "nulls": "reject",
     "columns": {"postcode": {"unseen": "reject"}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelyard.errors import InvalidInput

__all__ = ["ACTIONS", "InputPolicy"]

ACTIONS = ("score", "reject")
_KEYS = ("unseen", "nulls")


def _action(value: Any, where: str) -> str | None:
    if value is None or value in ACTIONS:
        return value
    raise InvalidInput(f"The {where!r} policy must be one of {ACTIONS}. Got {value!r} instead.")


@dataclass(frozen=True)
class InputPolicy:
    """Version-wide and per-column actions; None means "as the probe showed"."""

    unseen: str | None = None
    nulls: str | None = None
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _action(self.unseen, "unseen")
        _action(self.nulls, "nulls")
        if not isinstance(self.columns, Mapping):
            raise InvalidInput("input policy 'columns' must map column names to actions")
        clean: dict[str, dict[str, str]] = {}
        for name, actions in self.columns.items():
            if not isinstance(actions, Mapping):
                raise InvalidInput(
                    f"input policy for column {name!r} must be an object like "
                    f"{{'unseen': 'reject'}}, not {actions!r}"
                )
            unknown = sorted(set(actions) - set(_KEYS))
            if unknown:
                raise InvalidInput(
                    f"input policy for column {name!r}: unknown key(s) {unknown}; "
                    f"the keys are {list(_KEYS)}"
                )
            clean[str(name)] = {
                k: v for k in _KEYS if (v := _action(actions.get(k), f"{name}.{k}")) is not None
            }
        object.__setattr__(self, "columns", clean)

    def action(self, column: str, key: str) -> str | None:
        """The explicit action for ``column`` (``key`` is ``unseen`` or ``nulls``), or None."""
        per_column = self.columns.get(column, {}).get(key)
        return per_column if per_column is not None else getattr(self, key)

    def over(self, base: InputPolicy | None) -> InputPolicy:
        """This policy where it says something, ``base`` elsewhere."""
        if base is None:
            return self
        columns = {name: dict(actions) for name, actions in base.columns.items()}
        for name, actions in self.columns.items():
            columns.setdefault(name, {}).update(actions)
        return InputPolicy(
            self.unseen if self.unseen is not None else base.unseen,
            self.nulls if self.nulls is not None else base.nulls,
            columns,
        )

    @property
    def empty(self) -> bool:
        return self.unseen is None and self.nulls is None and not self.columns

    def to_dict(self) -> dict[str, Any]:
        return {
            "unseen": self.unseen,
            "nulls": self.nulls,
            "columns": {k: dict(v) for k, v in self.columns.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> InputPolicy:
        """Read ``{"unseen", "nulls", "columns"}``; anything else is refused by name."""
        if data is None:
            return cls()
        if isinstance(data, InputPolicy):
            return data
        if not isinstance(data, Mapping):
            raise InvalidInput(f"an input policy must be an object, not {data!r}")
        unknown = sorted(set(data) - {"unseen", "nulls", "columns"})
        if unknown:
            raise InvalidInput(
                f"input policy: unknown key(s) {unknown}; the keys are unseen, nulls, columns"
            )
        return cls(data.get("unseen"), data.get("nulls"), data.get("columns") or {})
