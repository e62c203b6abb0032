"""The demo's people: a registrant, a validator and an approver, each acting with a token.

Sign-offs are made by people, never by a pipeline. The quickstart plays the
people itself, in the open: the registrant (the acting user, admin and
developer) issues a one-day token to the validator ``vera`` and to the
approver ``aaron`` — every token creation is in the audit trail — and each
sign-off is made by a Yard proven by that person's token, with a line saying
so. On a store with no users the acting user first becomes its first admin
(``users.bootstrap``), which is what ``modelyard users add NAME --role admin``
does on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modelyard.errors import InvalidInput, PermissionDenied

if TYPE_CHECKING:
    from rich.console import Console

    from modelyard.yard import Yard

__all__ = ["DEMO_APPROVER", "DEMO_VALIDATOR", "DemoCast", "enrol"]

DEMO_VALIDATOR, DEMO_APPROVER = "vera", "aaron"
DEMO_TOKEN_LIFETIME = "1d"


@dataclass
class DemoCast:
    """The registrant's Yard and, per sign-off role, the Yard of the person who holds it."""

    yard: Yard
    signers: dict[str, Yard] = field(default_factory=dict)
    first_admin_token: str | None = None  # set when enrol() bootstrapped the store

    def sign_off(
        self,
        ref: str,
        console: Console | None = None,
        *,
        alias: str = "champion",
        comment: str = "validation report and gates reviewed",
    ) -> list[str]:
        """Sign ``ref`` off for ``alias`` as each person whose role is still missing."""
        signed = []
        for role in self.yard.models.missing_sign_offs(ref, alias):
            person = self.signers[role]
            if console is not None:
                console.print(
                    f"  signing off {ref} as {role} {person.user!r} with their token",
                    highlight=False,
                )
            person.models.approve(ref, role=role, comment=comment)
            signed.append(str(person.user))
        return signed

    def close(self) -> None:
        for person in self.signers.values():
            person.close()


def enrol(yard: Yard, console: Console | None = None) -> DemoCast:
    """Make sure the demo's people exist and hold tokens; returns their Yards.

    ``yard`` is either proven (a token of an admin who is also a developer)
    or, on a store with no users, claimed: then its user becomes the first
    admin (and developer) and acts with the token that returns.
    """
    first_token = None
    acting = yard
    if not getattr(yard, "proven", True):
        first = yard.users.bootstrap(yard.user, ["admin", "developer"])
        first_token = first.secret
        acting = yard.with_token(first.secret)
        if console is not None:
            console.print(
                f"  user {acting.user:<8} roles admin, developer: the store's first admin, "
                "acting with the token that made them",
                highlight=False,
            )
    existing = {u.name: u for u in acting.users.list()}
    cast = DemoCast(acting, first_admin_token=first_token)
    for name, role in ((DEMO_VALIDATOR, "validator"), (DEMO_APPROVER, "approver")):
        if name == acting.user:
            raise InvalidInput(
                f"the quickstart's {role} is {name!r}, who must not be the registrant; "
                "run it as another user"
            )
        if name not in existing:
            acting.users.add(name, [role])
        elif role not in existing[name].roles:
            raise InvalidInput(
                f"user {name!r} exists without the {role} role the quickstart needs; "
                f"'modelyard users roles {name} --role {role}' or use a fresh store"
            )
        try:
            token = acting.tokens.create(
                name, name="quickstart demo", expires_in=DEMO_TOKEN_LIFETIME
            )
        except PermissionDenied as exc:
            raise PermissionDenied(
                f"the quickstart issues tokens to its {role} {name!r}, which needs an admin: "
                f"{exc.message}"
            ) from exc
        cast.signers[role] = acting.with_token(token.secret)
        if console is not None:
            console.print(
                f"  user {name:<8} roles {role}: token issued ({DEMO_TOKEN_LIFETIME})",
                highlight=False,
            )
    return cast
