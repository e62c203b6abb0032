"""``modelyard runs``: list, search, show and compare tracked runs."""

from __future__ import annotations

from typing import Annotated

import typer

from modelyard.cli import _output as out
from modelyard.cli._context import yard

runs_app = typer.Typer(help="Tracked training runs.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


# The compact table shows this many metrics: the ones ordered by, then these, then the rest.
COMPACT_METRICS = 2
PREFERRED_METRICS = ("auc", "ks", "gini", "brier", "log_loss", "accuracy", "f1", "rmse")


def _metric_keys(runs: list, order_by: list[str] | None, wide: bool) -> list[str]:
    """The metric columns: all of them with ``--wide``, else the most telling few."""
    present = sorted({k for r in runs for k in r.metrics})
    if wide:
        return present
    ordered = [
        clause.split()[0].removeprefix("metrics.")
        for clause in order_by or ()
        if clause.strip().startswith("metrics.")
    ]
    ranked = [*ordered, *PREFERRED_METRICS, *present]
    keys = list(dict.fromkeys(k for k in ranked if k in present))
    return keys[:COMPACT_METRICS]


def _short_time(ms: int | None) -> str:
    text = out.when(ms)
    return text[5:16] if len(text) >= 16 else text  # MM-DD HH:MM


@runs_app.command("list")
def list_runs(
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Only this experiment's runs.")
    ] = None,
    filter: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="e.g. \"metrics.auc > 0.8 and params.model = 'lgbm'\""),
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", help="e.g. 'metrics.auc desc'")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many runs.")] = 50,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            "-w",
            help="Every column (user, duration, every metric), untruncated; "
            "the default fits an 80-column terminal.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first, or as ordered; filter with the search language."""
    runs = yard().runs.search(filter, order_by=order_by, experiment=experiment, max_results=limit)
    if as_json:
        out.print_json([r.to_dict() for r in runs])
        return
    keys = _metric_keys(runs, order_by, wide)
    if wide:
        out.table(
            "Runs",
            ["id", "experiment", "name", "status", "user", "started", "duration s", *keys],
            (
                (
                    r.id,
                    r.experiment,
                    r.name,
                    r.status,
                    r.user,
                    out.when(r.start_time),
                    r.duration_s,
                    *(r.metrics.get(k) for k in keys),
                )
                for r in runs
            ),
            wide=True,
        )
        return
    out.compact_table(
        "Runs",
        ["id", "experiment", "name", "status", "started", *keys],
        (
            (
                r.id[:8],
                r.experiment,
                r.name,
                r.status,
                _short_time(r.start_time),
                *(r.metrics.get(k) for k in keys),
            )
            for r in runs
        ),
        flexible=("experiment", "name"),
    )
    hidden = len({k for r in runs for k in r.metrics}) - len(keys)
    if runs and hidden > 0:
        out.console.print(f"[dim]{hidden} more metric(s): --wide shows every column[/dim]")


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="Run id or a unique prefix.")],
    as_json: JsonOption = False,
) -> None:
    """Show one run: params, metrics, tags, inputs, artifacts, code and environment."""
    run = yard().runs.get(run_id)
    if as_json:
        out.print_json(run.to_dict())
        return
    code = f"{run.git_commit[:10]}{' (dirty)' if run.git_dirty else ''}" if run.git_commit else "-"
    out.console.print(
        f"[bold]{run.name}[/bold] ({run.id})  experiment {run.experiment}  {run.status}\n"
        f"user {run.user}  started {out.when(run.start_time)}  "
        f"duration {out.fmt(run.duration_s)} s  "
        f"code {code}  python {run.python_version or '-'}"
    )
    out.table("Params", ["param", "value"], sorted(run.params.items()))
    out.table("Metrics (latest)", ["metric", "value"], sorted(run.metrics.items()))
    if run.tags:
        out.table("Tags", ["tag", "value"], sorted(run.tags.items()))
    if run.inputs:
        out.table(
            "Inputs",
            ["dataset", "version", "role"],
            ((i.dataset, i.version, i.role) for i in run.inputs),
        )
    if run.artifacts:
        out.table(
            "Artifacts",
            ["path", "size", "digest"],
            ((a.path, a.size, a.digest[7:19]) for a in run.artifacts),
        )
    if run.error:
        out.console.print(f"[red]error:[/red] {run.error.strip().splitlines()[-1]}")


@runs_app.command("compare")
def compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids or prefixes.")],
    as_json: JsonOption = False,
) -> None:
    """Compare runs side by side: every param and metric, one column per run."""
    result = yard().runs.compare(run_ids)
    if as_json:
        out.print_json(result)
        return
    headers = ["", *(f"{r['name']} ({r['id'][:8]})" for r in result["runs"])]
    rows = [(f"param {k}", *v) for k, v in result["params"].items()]
    rows += [(f"metric {k}", *v) for k, v in result["metrics"].items()]
    out.table("Run comparison", headers, rows)
