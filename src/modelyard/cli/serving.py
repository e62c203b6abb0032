"""``modelyard serve`` and ``modelyard deployments``: serving from the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli import _output as out
from modelyard.cli._context import yard

deployments_app = typer.Typer(
    help="Deployments: endpoints with weighted routes, sticky routing and shadows.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def serve(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="What to serve: model references (credit-risk@champion), a deployment "
            "file (deploy.yaml) or a stored deployment's name. Several make one endpoint each."
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (each loads the models).")] = 1,
    max_batch_rows: Annotated[
        int, typer.Option(help="Rows per micro-batch of concurrent requests.")
    ] = 512,
    max_wait_ms: Annotated[
        float, typer.Option(help="How long a batch may wait for more requests (0 = no wait).")
    ] = 0.0,
    no_batching: Annotated[bool, typer.Option("--no-batching", help="Score alone.")] = False,
    max_body_bytes: Annotated[int, typer.Option(help="Larger bodies get 413.")] = 4 * 1024 * 1024,
    max_rows: Annotated[int, typer.Option(help="Rows accepted in one request.")] = 10_000,
    log_sink: Annotated[
        str, typer.Option(help="Prediction log: parquet, redis or none.")
    ] = "parquet",
    redis_url: Annotated[
        str, typer.Option(help="Redis for --log-sink redis.")
    ] = "redis://127.0.0.1:6379/0",
    api_key_hash: Annotated[
        list[str] | None,
        typer.Option(help="Accept the API key with this 'sha256:...' hash (repeatable)."),
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Allow this browser origin (repeatable).")
    ] = None,
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between alias checks (0 = never).")
    ] = 2.0,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    access_log_sample: Annotated[
        float, typer.Option(help="Share of successful requests to log (0 to 1).")
    ] = 0.0,
) -> None:
    """Serve model versions over HTTP (plain JSON, KServe V2, MLflow's /invocations)."""
    from modelyard.serving.config import ServingConfig
    from modelyard.serving.server import serve as run

    config = ServingConfig.from_env(
        max_body_bytes=max_body_bytes,
        max_rows=max_rows,
        batching={
            "enabled": not no_batching,
            "max_batch_rows": max_batch_rows,
            "max_wait_ms": max_wait_ms,
        },
        prediction_log={"sink": log_sink, "redis_url": redis_url},
        api_key_hashes=api_key_hash or None,
        cors_origins=cors_origin or None,
        poll_interval_s=poll_interval,
        access_log_sample=access_log_sample,
    )
    run(
        targets,
        host=host,
        port=port,
        workers=workers,
        config=config,
        log_level=log_level,
        yard=yard() if workers <= 1 else None,
    )


@deployments_app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="A deployment YAML file.")],
    as_json: JsonOption = False,
) -> None:
    """Create or update the deployments of a file (validated; every change audited)."""
    results = yard().deployments.apply_file(file)
    if as_json:
        out.print_json([{**record.to_dict(), "outcome": outcome} for record, outcome in results])
        return
    for record, outcome in results:
        routes = ", ".join(f"{r.name}={r.model}" for r in record.spec.routes)
        out.console.print(f"{outcome} deployment {record.name}: {routes}")


@deployments_app.command("list")
def list_deployments(as_json: JsonOption = False) -> None:
    """List stored deployments."""
    records = yard().deployments.list()
    if as_json:
        out.print_json([r.to_dict() for r in records])
        return
    out.table(
        "Deployments",
        ["name", "routes", "shadows", "updated", "by"],
        (
            (
                r.name,
                ", ".join(
                    f"{x.name}={x.model}" + (f" ({x.weight:g}%)" if x.weight is not None else "")
                    for x in r.spec.routes
                ),
                ", ".join(f"{s.name}={s.model}" for s in r.spec.shadows),
                out.when(r.updated_at),
                r.updated_by,
            )
            for r in records
        ),
    )


@deployments_app.command("show")
def show(name: str, as_json: JsonOption = False) -> None:
    """Show one deployment's spec."""
    record = yard().deployments.get(name)
    if as_json:
        out.print_json(record.to_dict())
        return
    import yaml

    out.console.print(
        f"[bold]{record.name}[/bold] (updated {out.when(record.updated_at)} by {record.updated_by})"
    )
    out.console.print(yaml.safe_dump(record.spec.to_dict(), sort_keys=False).rstrip())


@deployments_app.command("delete")
def delete(name: str) -> None:
    """Delete a stored deployment (audited)."""
    yard().deployments.delete(name)
    out.console.print(f"deleted deployment {name}")


@deployments_app.command("api-key")
def api_key() -> None:
    """Make a new API key and print it with the hash to configure (--api-key-hash)."""
    from modelyard.serving.security import generate_api_key, hash_api_key

    key = generate_api_key()
    out.console.print(f"key:  {key}\nhash: {hash_api_key(key)}")
