"""``modelyard users`` and ``modelyard audit``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from modelyard.cli import _output as out
from modelyard.cli._context import yard

if TYPE_CHECKING:
    from modelyard.registry.tokens import NewToken

users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@users_app.command("add")
def add(
    name: str,
    role: Annotated[
        list[str],
        typer.Option("--role", "-r", help="viewer, developer, validator, approver, admin"),
    ],
    display_name: Annotated[str, typer.Option()] = "",
    expires_in: Annotated[
        str, typer.Option("--expires-in", help="The first admin's token: '90d', '2w' or 'never'.")
    ] = "90d",
    as_json: JsonOption = False,
) -> None:
    """Add a user; needs an admin's token. The first user, an admin, gets a token printed once."""
    current = yard()
    if getattr(current, "proven", True) or not current.users.is_open():
        info = current.users.add(name, role, display_name=display_name)
        if as_json:
            out.print_json(info.to_dict())
            return
        out.console.print(f"added {info.name} with roles {', '.join(info.roles)}")
        return
    created = current.users.bootstrap(name, role, display_name=display_name, expires_in=expires_in)
    from modelyard.registry.roles import check_roles

    roles = check_roles(role)
    if as_json:
        out.print_json(
            {"name": name, "roles": list(roles), "token": created.secret, **_token(created)}
        )
        return
    out.console.print(
        f"added {name} with roles {', '.join(roles)}: the first user of this store, "
        "which from now on needs a token for every command"
    )
    out.console.print(f"token for {name} (shown once, copy it now):")
    out.console.print(created.secret, soft_wrap=True)
    out.console.print(
        "use it: 'modelyard login' (paste it) or 'export MODELYARD_TOKEN=...'; then add people "
        "with 'modelyard users add NAME --role ...' and give each a token with "
        "'modelyard tokens create --user NAME'",
        soft_wrap=True,
    )


def _token(created: NewToken) -> dict[str, object]:
    return {"token_id": created.info.id, "expires_at": created.info.expires_at}


@users_app.command("list")
def list_users(as_json: JsonOption = False) -> None:
    """List users and roles."""
    users = yard().users.list()
    if as_json:
        out.print_json([u.to_dict() for u in users])
        return
    if not users:
        out.console.print("no users: the store is in open mode (every user holds every role)")
        return
    out.table(
        "Users",
        ["name", "roles", "disabled", "added by", "added"],
        (
            (u.name, ", ".join(u.roles), u.disabled, u.created_by, out.when(u.created_at))
            for u in users
        ),
    )


@users_app.command("roles")
def roles(name: str, role: Annotated[list[str], typer.Option("--role", "-r")]) -> None:
    """Replace a user's roles."""
    info = yard().users.set_roles(name, role)
    out.console.print(f"{info.name} now holds {', '.join(info.roles)}")


@users_app.command("disable")
def disable(name: str) -> None:
    """Disable a user."""
    yard().users.disable(name)
    out.console.print(f"disabled {name}")


@audit_app.command("log")
def log(
    subject: Annotated[str | None, typer.Option(help="e.g. model/credit-risk")] = None,
    action: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List audit events, newest first."""
    events = yard().audit.events(subject=subject, action=action, limit=limit)
    if as_json:
        out.print_json([e.to_dict() for e in events])
        return
    out.table(
        "Audit log",
        ["seq", "time", "actor", "action", "subject", "details"],
        (
            (e.seq, out.when(e.time), e.actor, e.action, e.subject, _brief(e.payload))
            for e in events
        ),
    )


def _brief(payload: dict) -> str:
    text = ", ".join(
        f"{k}={v}" for k, v in payload.items() if k not in ("after",) or not isinstance(v, dict)
    )
    return text[:80]


@audit_app.command("verify")
def verify(
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            help="A checkpoint path or URL (see 'audit checkpoint'): also detect deleted "
            "tail events and a chain rewritten up to the checkpointed head.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Walk the hash chain; exit 6 and name the first bad event if it was tampered with."""
    result = yard().audit.verify(checkpoint=checkpoint)
    if as_json:
        out.print_json(result.to_dict())
    elif result.ok:
        against = f", matches checkpoint at event {result.checkpoint_seq}" if checkpoint else ""
        out.console.print(
            f"audit chain intact: {result.events} events, head {result.head[:16]}{against}"
        )
    else:
        out.err_console.print(
            f"[bold red]audit chain broken[/bold red] at event {result.first_bad_seq}: "
            f"{result.problem}"
        )
    if not result.ok:
        raise typer.Exit(6)


@audit_app.command("checkpoint")
def checkpoint(
    to: Annotated[
        str | None,
        typer.Option("--to", help="Path or fsspec URL; default: MODELYARD_AUDIT_CHECKPOINT."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record the chain's head outside the database, for 'audit verify --checkpoint'."""
    mark = yard().audit.checkpoint(to)
    if as_json:
        out.print_json(mark.to_dict())
    else:
        out.console.print(f"checkpointed event {mark.seq} (head {mark.hash[:16]})")
