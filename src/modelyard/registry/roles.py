"""Roles, what each may do, and who the acting user is.

    viewer     read everything
    developer  create models, register versions, set and delete unprotected aliases, log runs
    validator  validate versions and sign off the validation stage
    approver   sign off the approval stage, move and delete protected aliases
    admin      manage users, tighten policies, request a weaker policy (which someone
               else must sign off), move protected aliases, and what a developer may do

Protected aliases (``champion`` unless a model's policy says otherwise) still
need the policy's sign-offs whoever moves them. docs/trust-model.md has the
same table, and tests/security/test_roles_table.py checks both against what
the registry does.

With no user registered at all, the store is in *open mode* (a laptop, the
embedded default): every acting user holds every role. Four-eyes rules still
apply in open mode: nobody approves what they registered. Once the first user
is added (it must be an admin), roles are enforced and unknown users are
refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.errors import InvalidInput, PermissionDenied

ROLES = ("viewer", "developer", "validator", "approver", "admin")

# action -> roles that may perform it
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "model.create": frozenset({"developer", "admin"}),
    "model.update": frozenset({"developer", "admin"}),
    "version.register": frozenset({"developer", "admin"}),
    "version.update": frozenset({"developer", "validator", "admin"}),
    "version.validate": frozenset({"validator", "developer", "admin"}),
    "version.archive": frozenset({"developer", "approver", "admin"}),
    "alias.set": frozenset({"developer", "approver", "admin"}),
    # Moving or deleting a protected alias (champion): never a developer's call.
    "alias.set_protected": frozenset({"approver", "admin"}),
    "approval.validator": frozenset({"validator"}),
    "approval.approver": frozenset({"approver"}),
    "user.manage": frozenset({"admin"}),
    "policy.manage": frozenset({"admin"}),
    "run.write": frozenset({"developer", "validator", "admin"}),
    "dataset.write": frozenset({"developer", "validator", "admin"}),
    "deployment.manage": frozenset({"developer", "approver", "admin"}),
}


def check_roles(roles: object) -> tuple[str, ...]:
    if isinstance(roles, str):
        roles = [r.strip() for r in roles.split(",") if r.strip()]
    if not isinstance(roles, list | tuple | set | frozenset) or not roles:
        raise InvalidInput(f"roles must be a non-empty list drawn from {', '.join(ROLES)}")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise InvalidInput(f"unknown role(s) {unknown}; roles are {', '.join(ROLES)}")
    return tuple(r for r in ROLES if r in roles)


@dataclass(frozen=True)
class Actor:
    """The acting user and the roles they hold in this store."""

    name: str
    roles: frozenset[str]
    open_mode: bool = False

    def can(self, action: str) -> bool:
        return bool(self.roles & PERMISSIONS[action])

    def require(self, action: str, what: str) -> None:
        if not self.can(action):
            needed = " or ".join(sorted(PERMISSIONS[action]))
            held = ", ".join(sorted(self.roles)) or "none"
            raise PermissionDenied(
                f"{self.name} may not {what}: it needs the role {needed} (held: {held})",
                details={"action": action, "required_roles": sorted(PERMISSIONS[action])},
            )
