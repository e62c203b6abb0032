"""``modelyard login`` and ``modelyard logout``: prove who you are to a store once.

``login`` checks a token against the configured store (local or a server)
and saves it for that store in the user's configuration directory (see
``modelyard.credentials``); every later command on that store acts as the
token's user. ``MODELYARD_TOKEN`` still wins over a saved login.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from modelyard.cli import _output as out

TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="The token (default: read from stdin or a hidden prompt; a token given here "
        "lands in your shell history).",
    ),
]


def _store_url() -> str:
    from modelyard.config import load_settings

    settings = load_settings()
    return settings.store_url or settings.resolved_store_url


def _read_secret() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    return str(typer.prompt("Token", hide_input=True)).strip()


def login(token: TokenOption = None) -> None:
    """Check a token against the configured store and save it for the following commands."""
    from modelyard import credentials
    from modelyard._connect import connect
    from modelyard.errors import InvalidInput

    secret = (token or _read_secret()).strip()
    if not secret:
        raise InvalidInput("no token given: paste one ('myd_...'), or pass --token")
    url = _store_url()
    with connect(token=secret) as yard:
        user = str(yard.user)
    path = credentials.save(url, secret, user=user)
    out.console.print(
        f"logged in as {user} on {credentials.store_key(url)}; token saved in {path} (mode 0600)",
        soft_wrap=True,
    )


def logout() -> None:
    """Forget the token saved for the configured store (it stays valid until revoked)."""
    from modelyard import credentials

    url = _store_url()
    user = credentials.forget(url)
    key = credentials.store_key(url)
    if user is None:
        out.console.print(f"no token was saved for {key}", soft_wrap=True)
        return
    out.console.print(
        f"logged out {user} from {key}; the token itself stays valid until it expires or an "
        "admin revokes it ('modelyard tokens revoke ID')",
        soft_wrap=True,
    )
