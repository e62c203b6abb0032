"""``modelyard tokens``: API tokens (stored hashed, shown once).

A token proves who is acting on the platform server and, once a store has
users, on a local store too (``MODELYARD_TOKEN`` or ``modelyard login``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli import _output as out
from modelyard.cli._context import yard

tokens_app = typer.Typer(
    help="API tokens: who is acting, on a server or on any store with users.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@tokens_app.command("create")
def create(
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Whose token (default: you).")
    ] = None,
    name: Annotated[str, typer.Option("--name", "-n", help="What it is for, e.g. 'ci'.")] = "",
    expires_in: Annotated[
        str, typer.Option("--expires-in", help="'90d', '12h', '2w' or 'never'.")
    ] = "90d",
    as_json: JsonOption = False,
    secret_only: Annotated[
        bool,
        typer.Option("--secret-only", help="Print only the secret, e.g. VERA=$(modelyard ...)."),
    ] = False,
) -> None:
    """Create a token; the secret is printed once and never stored."""
    created = yard().tokens.create(user, name=name, expires_in=expires_in)
    if secret_only:
        out.console.print(created.secret, soft_wrap=True, highlight=False)
        return
    if as_json:
        out.print_json({**created.info.to_dict(), "token": created.secret})
        return
    info = created.info
    out.console.print(f"token {info.id} for {info.user} ({info.name or 'unnamed'}), ", end="")
    out.console.print(f"expires {out.when(info.expires_at) if info.expires_at else 'never'}")
    out.console.print("copy it now, it is not shown again:")
    out.console.print(created.secret, soft_wrap=True)


@tokens_app.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Default: every user.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List tokens (never their secrets)."""
    tokens = yard().tokens.list(user)
    if as_json:
        out.print_json([t.to_dict() for t in tokens])
        return
    out.table(
        "API tokens",
        ["id", "user", "name", "status", "created", "expires", "last used"],
        (
            (
                t.id,
                t.user,
                t.name,
                t.status,
                out.when(t.created_at),
                out.when(t.expires_at) if t.expires_at else "never",
                out.when(t.last_used_at),
            )
            for t in tokens
        ),
    )


@tokens_app.command("revoke")
def revoke(token_id: str) -> None:
    """Revoke a token at once."""
    info = yard().tokens.revoke(token_id)
    out.console.print(f"revoked token {info.id} of {info.user}")
