"""What a version needs before a protected alias may point at it.

The default policy by risk tier (a bank's usual model-risk practice):

    tier 1 (high)    champion needs a validator's AND an approver's sign-off
    tier 2 (medium)  champion needs an approver's sign-off
    tier 3 (low)     champion needs no sign-off (changes are still audited)

Sign-offs follow four-eyes: nobody signs off a version they registered, and
the validator and the approver must be two different people. A model may
override its tier's default (``protected_aliases``, ``required_roles``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelyard.errors import InvalidInput

SIGN_OFF_ROLES = ("validator", "approver")
DEFAULT_REQUIRED: dict[int, tuple[str, ...]] = {
    1: ("validator", "approver"),
    2: ("approver",),
    3: (),
}


@dataclass(frozen=True)
class Policy:
    risk_tier: int
    protected_aliases: tuple[str, ...] = ("champion",)
    required_roles: tuple[str, ...] = field(default=())

    @classmethod
    def for_model(cls, risk_tier: int, overrides: Mapping[str, Any] | None = None) -> Policy:
        overrides = dict(overrides or {})
        required = overrides.get("required_roles", DEFAULT_REQUIRED[risk_tier])
        protected = overrides.get("protected_aliases", ("champion",))
        bad = sorted(set(required) - set(SIGN_OFF_ROLES))
        if bad:
            raise InvalidInput(
                f"policy required_roles {bad} are not sign-off roles; use {SIGN_OFF_ROLES}"
            )
        return cls(risk_tier, tuple(protected), tuple(r for r in SIGN_OFF_ROLES if r in required))

    def to_dict(self) -> dict[str, Any]:
        return {
            "risk_tier": self.risk_tier,
            "protected_aliases": list(self.protected_aliases),
            "required_roles": list(self.required_roles),
        }

    def missing_sign_offs(self, decisions: Iterable[tuple[str, str, str]]) -> list[str]:
        """Required roles without a standing approval.

        ``decisions`` are (role, user, decision) in time order; a later
        rejection by the same role withdraws an earlier approval.
        """
        standing: dict[str, str] = {}
        for role, user, decision in decisions:
            if decision == "approved":
                standing[role] = user
            else:
                standing.pop(role, None)
        return [role for role in self.required_roles if role not in standing]


def check_tier(tier: object) -> int:
    if isinstance(tier, bool) or not isinstance(tier, int) or tier not in DEFAULT_REQUIRED:
        raise InvalidInput(f"risk_tier must be 1 (high), 2 or 3 (low); got {tier!r}")
    return tier
