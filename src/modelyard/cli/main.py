"""The ``modelyard`` command: thin commands that parse, call one service, and format.

Errors raised on purpose (``ModelyardError``) become one line on stderr and a
non-zero exit code; nothing the user can cause prints a traceback.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Annotated, Any

import typer
import typer.main

from modelyard.cli import _output as out
from modelyard.cli.admin import audit_app, users_app
from modelyard.cli.batch import batch_app
from modelyard.cli.data import data_app, datasets_app
from modelyard.cli.deploy import deploy_app, smoke
from modelyard.cli.identity import login, logout
from modelyard.cli.models import models_app
from modelyard.cli.monitor import monitor_app
from modelyard.cli.pipelines import pipeline_app, reproduce
from modelyard.cli.runs import runs_app
from modelyard.cli.server import server
from modelyard.cli.serving import deployments_app, serve
from modelyard.cli.tokens import tokens_app
from modelyard.errors import (
    BackendUnavailable,
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelyardError,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

EXIT_CODES: dict[type[ModelyardError], int] = {
    InvalidInput: 2,
    NotFound: 3,
    Conflict: 4,
    PermissionDenied: 5,
    IntegrityError: 6,
    BackendUnavailable: 7,
    Unauthenticated: 8,
}

app = typer.Typer(
    name="modelyard",
    help="Modelyard: datasets, runs, models, serving and monitoring in one platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The metadata store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(datasets_app, name="datasets")
app.add_typer(runs_app, name="runs")
app.add_typer(models_app, name="models")
app.add_typer(pipeline_app, name="pipeline")
models_app.command("reproduce")(reproduce)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(deployments_app, name="deployments")
app.command("serve")(serve)
app.add_typer(batch_app, name="batch")
app.add_typer(monitor_app, name="monitor")
app.add_typer(tokens_app, name="tokens")
app.command("server")(server)
app.add_typer(deploy_app, name="deploy")
app.command("smoke")(smoke)
app.command("login")(login)
app.command("logout")(logout)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _print_version(value: bool) -> None:
    if value:
        from modelyard import __version__

        out.console.print(f"modelyard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print Modelyard's version and exit.",
        ),
    ] = False,
) -> None:
    """Modelyard: datasets, runs, models, serving and monitoring in one platform."""


@app.command()
def info(as_json: JsonOption = False) -> None:
    """Print the resolved configuration and the store's schema revision."""
    from modelyard.config import load_settings
    from modelyard.store import MetadataStore
    from modelyard.store.migrate import head_revision

    settings = load_settings()
    described = settings.describe()
    if described["store_url"].startswith(("http://", "https://")):
        # A shared server: its store is not ours to open; say who we are there.
        from modelyard._connect import connect

        described["server"] = described.pop("store_url")
        del described["artifact_root"]
        with connect() as remote:
            described["user"] = remote.user
    else:
        from modelyard.credentials import resolve_token

        store = MetadataStore(settings.resolved_store_url, migrate_on_connect=False)
        try:
            described["schema_revision"] = store.current_revision()
        finally:
            store.dispose()
        described["schema_head"] = head_revision()
        credential = resolve_token(None, settings.resolved_store_url)
        described["identity"] = (
            f"a token ({'modelyard login' if credential.source == 'login' else credential.source})"
            if credential is not None
            else "no token: the user name acts only while the store has no users"
        )
    from modelyard import __version__

    described["version"] = __version__
    if as_json:
        out.print_json(described)
        return
    out.table("Modelyard configuration", ["setting", "value"], described.items())


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations (also done automatically on first connect)."""
    from modelyard.config import load_settings
    from modelyard.store import MetadataStore

    settings = load_settings()
    store = MetadataStore(settings.resolved_store_url, migrate_on_connect=False)
    try:
        before, after = store.upgrade()
    finally:
        store.dispose()
    if before == after:
        out.console.print(f"schema already at {after}")
    else:
        out.console.print(f"schema upgraded from {before or 'empty'} to {after}")


@app.command()
def quickstart(
    rows: Annotated[int, typer.Option(help="Loan applications to synthesise.")] = 20_000,
    portfolio_rows: Annotated[
        int, typer.Option(help="Loans in the batch-scored portfolio.")
    ] = 1_000_000,
    keep_serving: Annotated[
        bool, typer.Option(help="Then serve the web UI and REST API (prints the URL).")
    ] = False,
    port: Annotated[int, typer.Option(help="Port for --keep-serving.")] = 8000,
) -> None:
    """Run the platform's main job end to end on the configured (default: embedded) store."""
    from modelyard.cli._context import yard
    from modelyard.demo.people import DEMO_APPROVER, DEMO_VALIDATOR, enrol
    from modelyard.demo.quickstart import PEOPLE_STAGE, run_quickstart

    if rows < 1_000:
        raise InvalidInput(f"--rows must be at least 1000; got {rows}")
    if portfolio_rows < 1_000:
        raise InvalidInput(f"--portfolio-rows must be at least 1000; got {portfolio_rows}")
    if keep_serving:
        _check_port_free("127.0.0.1", port)
    out.console.rule(f"[bold]{PEOPLE_STAGE}")
    cast = enrol(yard(), out.console)
    if cast.first_admin_token is not None:
        # The store now needs a token for every command: keep the first admin's, as
        # 'modelyard login' would, so the commands after the demo work as that admin.
        from modelyard import credentials
        from modelyard.config import load_settings

        settings = load_settings()
        saved = credentials.save(
            settings.resolved_store_url, cast.first_admin_token, user=cast.yard.user
        )
        out.console.print(
            f"  saved {cast.yard.user}'s token for this store in {saved} (as 'modelyard login' "
            "does); 'modelyard logout' forgets it",
            highlight=False,
            soft_wrap=True,
        )
    run_quickstart(
        cast.yard,
        rows=rows,
        portfolio_rows=portfolio_rows,
        console=out.console,
        full=True,
        cast=cast,
    )
    if keep_serving:
        from modelyard.cli.server import keep_serving as serve_ui

        users = [cast.yard.user, DEMO_VALIDATOR, DEMO_APPROVER]
        serve_ui(cast.yard, host="127.0.0.1", port=port, users=users)


def _check_port_free(host: str, port: int) -> None:
    """Fail before the demo's minute of work, not after it, when the UI could not listen."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise InvalidInput(
                f"--port {port}: {host}:{port} is in use ({exc.strerror}); stop what listens "
                f"there or choose another port, e.g. make demo DEMO_ARGS='--keep-serving "
                f"--port {port + 1}'"
            ) from None


@lru_cache(maxsize=1)
def command() -> Any:
    """The click command tree of ``app``, with readable placeholders and every Examples section.

    Built once per process, after every sub-application has registered its
    commands; ``main`` and the tests run this, not ``app`` directly.
    """
    from modelyard.cli._help import polish

    built = typer.main.get_command(app)
    polish(built)
    return built


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of raising it.
        code = command().main(args=argv, prog_name="modelyard", standalone_mode=False)
    except ModelyardError as exc:
        code = next((c for cls, c in EXIT_CODES.items() if isinstance(exc, cls)), 1)
        out.err_console.print(f"[bold red]error:[/bold red] {exc.message}", soft_wrap=True)
        return code
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        out.err_console.print("aborted")
        return 130
    except KeyboardInterrupt:
        out.err_console.print("interrupted")
        return 130
    except Exception as exc:
        # Usage errors of the (vendored) click parser know how to show themselves.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):
            show()
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
