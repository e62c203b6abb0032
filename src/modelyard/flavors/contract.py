"""A version's input contract: hard signature + soft domain + probe + policy, compiled once.

:class:`InputContract` is what serving, batch scoring and validation check
input with. The signature's types and columns are hard (a wrong type or a
missing column is always a problem). Per column, a
:class:`~modelyard.flavors._enforce.ColumnRule` says what training held (from
the version's :class:`~modelyard.flavors.domain.Domain`) and whether a value
outside it is scored with a warning or rejected:

1. where the probe showed the model cannot score it (it raised): ``reject``;
2. else the explicit policy (deployment route, then version, per column first);
3. else ``score`` when the version was probed, ``reject`` when it was not (a
   model saved before probes existed, or with a signature and no example:
   nothing shows that it copes).

Checking a frame costs what :meth:`Signature.enforce` costs plus a set
lookup per distinct string and a vectorised range test per numeric column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from modelyard.flavors._enforce import (
    ColumnRule,
    EnforcementPlan,
    InputWarnings,
    _number,
)
from modelyard.flavors.domain import Domain
from modelyard.flavors.policy import InputPolicy
from modelyard.flavors.probe import FAILS, Probe

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from modelyard.flavors.manifest import ModelManifest
    from modelyard.flavors.signature import ColumnSpec, Signature

__all__ = ["InputContract", "InputWarnings"]


class InputContract:
    """The checks of one version's inputs, with its domain and effective policy.

    Attributes:
        signature: The hard contract.
        domain: What training held (``source`` says where it came from).
        probe: What the registration probe showed, or None (not probed).
        policy: The explicit policy in force (version's, overridden by the route's).
        rules: Column name to its effective :class:`ColumnRule`.
    """

    def __init__(
        self,
        signature: Signature,
        domain: Domain | None = None,
        probe: Probe | None = None,
        policy: InputPolicy | None = None,
    ) -> None:
        self.signature = signature
        self.domain = domain or Domain.from_signature(signature)
        self.probe = probe
        self.policy = policy or InputPolicy()
        self.rules = {spec.name: self._rule(spec) for spec in signature.inputs}
        self._plan = EnforcementPlan(signature.inputs, self.rules)

    @classmethod
    def from_manifest(
        cls, manifest: ModelManifest, policy: InputPolicy | Mapping[str, Any] | None = None
    ) -> InputContract | None:
        """The contract of a saved model (None without a signature).

        Args:
            policy: A deployment's policy, applied over the version's own.
        """
        if manifest.signature is None:
            return None
        override = InputPolicy.from_dict(policy) if policy is not None else None
        version_policy = manifest.input_policy or InputPolicy()
        return cls(
            manifest.signature,
            manifest.domain,
            manifest.probe,
            override.over(version_policy) if override is not None else version_policy,
        )

    def with_policy(self, policy: InputPolicy | Mapping[str, Any] | None) -> InputContract:
        """The same contract with ``policy`` applied over the current one."""
        if policy is None:
            return self
        override = InputPolicy.from_dict(policy)
        if override.empty:
            return self
        return InputContract(self.signature, self.domain, self.probe, override.over(self.policy))

    def _rule(self, spec: ColumnSpec) -> ColumnRule:
        column = self.domain.get(spec.name)
        if column is None:
            legacy = ColumnRule.legacy(spec)
            categories, low, high, nullable = (
                legacy.categories,
                legacy.minimum,
                legacy.maximum,
                legacy.nullable,
            )
        else:
            categories = frozenset(column.categories) if column.categories is not None else None
            low, high, nullable = _number(column.minimum), _number(column.maximum), column.nullable
        probed = self.probe.get(spec.name) if self.probe is not None else None
        return ColumnRule(
            categories,
            low,
            high,
            nullable,
            self._action(spec.name, "unseen", probed.unseen if probed else None),
            self._action(spec.name, "nulls", probed.null if probed else None),
        )

    def _action(self, column: str, key: str, probed: str | None) -> str:
        if probed == FAILS:
            return "reject"
        explicit = self.policy.action(column, key)
        if explicit is not None:
            return explicit
        return "score" if self.probe is not None else "reject"

    # -- checks ---------------------------------------------------------------
    def check(
        self, frame: pd.DataFrame, *, allow_extra: bool = False
    ) -> tuple[pd.DataFrame, InputWarnings]:
        """(checked frame, warnings): as ``Signature.enforce``, with the soft rules.

        Raises:
            InvalidInput: A hard problem, or an out-of-domain value the rules reject.
        """
        return self._plan.check_frame(frame, allow_extra)

    def check_columns(
        self, columns: Mapping[str, Any], *, allow_extra: bool = False
    ) -> tuple[dict[str, Any], InputWarnings]:
        """:meth:`check` for a mapping of column name to values (serving's decoded JSON)."""
        return self._plan.check_columns(columns, allow_extra)

    def range_warnings(self, columns: Iterable[tuple[str, np.ndarray]]) -> InputWarnings:
        """The out-of-range warnings :meth:`check_columns` gives these numeric columns.

        For the compiled scorers, which check types, nulls and categories themselves
        and hand over ``(name, float64 values)`` in signature order: the same entries,
        in the same order, as the canonical check (out-of-range numbers are always
        scored, never rejected).
        """
        return self._plan.range_warnings(columns)

    def enforce(self, frame: pd.DataFrame, *, allow_extra: bool = False) -> pd.DataFrame:
        return self._plan.check_frame(frame, allow_extra)[0]

    def out_of_domain_variants(self, records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Copies of ``records`` holding values outside the training domain these rules score.

        One variant per column and value — numbers half a span below and above the
        training range and three spans above it, a null, an unseen category — where
        the column's rule scores it, and a last variant with all of them spread over
        the rows. A compiled scorer is checked against the native model on these
        before it is trusted with such rows (in serving and in batch alike).
        """
        variants: list[list[dict[str, Any]]] = []
        mixed = [dict(r) for r in records]
        for spec in self.signature.inputs:
            rule = self.rules.get(spec.name)
            if rule is None:
                continue
            values: list[Any] = []
            numeric = spec.type in ("float", "integer")
            if numeric and rule.minimum is not None and rule.maximum is not None:
                low, high = float(rule.minimum), float(rule.maximum)
                span = max(high - low, 1.0)
                values += [low - span * 0.5, high + span * 0.5, high + span * 3.0]
                if spec.type == "integer":
                    values = [math.floor(v) if v < low else math.ceil(v) for v in values]
            if rule.nullable or rule.nulls == "score":
                values.append(None)
            if rule.categories is not None and rule.unseen == "score":
                if spec.type == "category" and spec.categories is not None:
                    values += [c for c in spec.categories if c not in rule.categories][:1]
                elif spec.type == "string":
                    values.append("modelyard-unseen-category")
            for k, value in enumerate(values):
                variants.append([{**r, spec.name: value} for r in records])
                mixed[k % len(mixed)][spec.name] = value
        variants.append(mixed)
        return variants

    # -- description ----------------------------------------------------------
    def json_schema(self, spec: ColumnSpec) -> dict[str, Any]:
        """JSON Schema of one value: an enum only where unseen values are rejected."""
        rule = self.rules[spec.name]
        schema = spec.json_schema()
        schema.pop("enum", None)
        nulls_ok = rule.nullable or rule.nulls == "score"
        kind = schema["type"][0] if isinstance(schema["type"], list) else schema["type"]
        schema["type"] = [kind, "null"] if nulls_ok else kind
        if rule.unseen == "reject" and rule.categories is not None:
            values: list[Any] = sorted(rule.categories)
            if spec.type == "category" and spec.categories is not None:
                values = [v for v in values if v in set(spec.categories)]
            schema["enum"] = [*values, None] if nulls_ok else values
        elif rule.categories is not None:
            note = "values not seen in training are scored and flagged with a warning"
            schema["description"] = "; ".join(filter(None, [schema.get("description"), note]))
        return schema

    def describe(self) -> dict[str, Any]:
        """Per column: the effective actions, and where the domain came from."""
        return {
            "domain_source": self.domain.source,
            "probed": self.probe is not None,
            "columns": {
                name: {"unseen": rule.unseen, "nulls": rule.nulls}
                for name, rule in self.rules.items()
            },
        }
