"""``modelyard models policy``: risk tiers and policies, changed under four-eyes."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from modelyard.cli import _output as out
from modelyard.cli._context import yard
from modelyard.errors import InvalidInput

policy_app = typer.Typer(
    help="A model's risk tier and policy: tighten directly, relax by request and sign-off.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
TierOption = Annotated[
    int | None, typer.Option("--risk-tier", min=1, max=3, help="1 high, 2 medium, 3 low.")
]
PolicyOption = Annotated[
    str | None,
    typer.Option(
        "--policy",
        help='Overrides as JSON, e.g. \'{"protected_aliases": ["champion", "staging"]}\'.',
    ),
]
DetachOption = Annotated[
    bool,
    typer.Option(
        "--detach-unqualified",
        help="Detach protected aliases the new policy would not allow (audited) "
        "instead of refusing the change.",
    ),
]


def _policy(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"--policy must be a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidInput(f"--policy must be a JSON object; got {text!r}")
    return value


def _show(change: Any, as_json: bool) -> None:
    if as_json:
        out.print_json(change.to_dict())
        return
    signed = ", ".join(f"{s['user']} as {s['role']}" for s in change.sign_offs) or "none yet"
    out.console.print(
        f"policy change {change.id} of {change.model}: {change.status}; "
        f"tier {change.before['risk_tier']} -> {change.after['risk_tier']}; "
        f"needs {' and '.join(change.required_roles)}; signed off by {signed}"
    )


@policy_app.command("set")
def set_policy(
    name: str,
    risk_tier: TierOption = None,
    policy: PolicyOption = None,
    detach_unqualified: DetachOption = False,
) -> None:
    """Tighten a model's tier or policy now (admins); a relaxing change is refused: request it."""
    info = yard().models.update(
        name, risk_tier=risk_tier, policy=_policy(policy), detach_unqualified=detach_unqualified
    )
    out.console.print(f"{info.name} is tier {info.risk_tier}; aliases {info.aliases or 'none'}")


@policy_app.command("request")
def request(
    name: str,
    risk_tier: TierOption = None,
    policy: PolicyOption = None,
    comment: Annotated[str, typer.Option("--comment", "-m")] = "",
    as_json: JsonOption = False,
) -> None:
    """Request a relaxing change (a lower tier...); someone else must sign it off."""
    change = yard().models.request_policy_change(
        name, risk_tier=risk_tier, policy=_policy(policy), comment=comment
    )
    _show(change, as_json)


@policy_app.command("sign-off")
def sign_off(
    name: str,
    change_id: int,
    comment: Annotated[str, typer.Option("--comment", "-m")] = "",
    role: Annotated[str | None, typer.Option("--role")] = None,
    detach_unqualified: DetachOption = False,
    as_json: JsonOption = False,
) -> None:
    """Sign a pending policy change off; the last sign-off it needs applies it."""
    change = yard().models.sign_off_policy_change(
        name, change_id, comment=comment, role=role, detach_unqualified=detach_unqualified
    )
    _show(change, as_json)


@policy_app.command("reject")
def reject(
    name: str,
    change_id: int,
    comment: Annotated[str, typer.Option("--comment", "-m")],
    as_json: JsonOption = False,
) -> None:
    """Close a pending policy change without applying it."""
    _show(yard().models.reject_policy_change(name, change_id, comment=comment), as_json)


@policy_app.command("list")
def list_changes(
    name: str,
    status: Annotated[str | None, typer.Option(help="pending, applied or rejected")] = None,
    as_json: JsonOption = False,
) -> None:
    """Policy changes of a model, newest first."""
    changes = yard().models.policy_changes(name, status=status)
    if as_json:
        out.print_json([c.to_dict() for c in changes])
        return
    for change in changes:
        _show(change, False)
    if not changes:
        out.console.print(f"no policy changes of {name}")
