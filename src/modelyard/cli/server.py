"""``modelyard server``: the platform server (REST API and web UI) in one process."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelyard.cli import _output as out

HostOption = Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")]
PortOption = Annotated[int, typer.Option(help="TCP port.")]


def run_server(
    yard: Any, *, host: str, port: int, secure_cookies: bool = False, log_level: str = "info"
) -> None:
    """Serve ``yard`` until interrupted."""
    import uvicorn

    from modelyard.server import create_app

    app = create_app(yard=yard, secure_cookies=secure_cookies)
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=True)


def server(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    secure_cookies: Annotated[
        bool, typer.Option(help="Mark session cookies Secure (behind HTTPS).")
    ] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the REST API (/api/v1, docs at /api/docs) and the web UI on the configured store.

    The server holds the store's credentials and proves each caller itself
    (tokens, sessions), so it opens the store without acting as anyone.
    """
    from modelyard.config import load_settings
    from modelyard.yard import Yard

    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    out.console.print(f"Modelyard UI:  http://{shown}:{port}/")
    out.console.print(f"REST API docs: http://{shown}:{port}/api/docs")
    yard = Yard(load_settings())
    run_server(yard, host=host, port=port, secure_cookies=secure_cookies, log_level=log_level)


def keep_serving(yard: Any, *, host: str, port: int, users: list[str]) -> None:
    """After the quickstart: one-day demo tokens for ``users``, the URL, then serve."""
    out.console.rule("[bold]Platform server")
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    for name in users:
        created = yard.tokens.create(name, name="quickstart demo", expires_in="1d")
        out.console.print(f"  sign in as {name:<8} token {created.secret}", soft_wrap=True)
    out.console.print(f"  Modelyard UI: [bold]http://{shown}:{port}/[/bold]  (Ctrl-C to stop)")
    run_server(yard, host=host, port=port, log_level="warning")
