"""``modelyard monitor``: run monitors over windows of traffic, report, watch, list alerts."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from modelyard.cli import _output as out
from modelyard.cli._context import yard
from modelyard.errors import InvalidInput, ModelyardError

monitor_app = typer.Typer(
    help="Monitoring: drift, data quality and performance per window; reports and alerts.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RefArgument = Annotated[str, typer.Argument(help="Model version, e.g. credit-risk@champion.")]
EndpointOption = Annotated[
    list[str] | None,
    typer.Option("--endpoint", "-e", help="Endpoint whose log to read (repeat; default: all)."),
]
WindowOption = Annotated[
    str | None, typer.Option("--window", "-w", help="The last 12h, 1d, 7d... (default 1d).")
]
SinceOption = Annotated[str | None, typer.Option(help="Window start, e.g. 2026-03-01 (UTC).")]
UntilOption = Annotated[str | None, typer.Option(help="Window end (exclusive).")]
RulesOption = Annotated[
    str | None, typer.Option("--rules", help="Alert rules YAML (default: the built-in rules).")
]
WebhookOption = Annotated[
    str | None, typer.Option("--webhook", help="POST alerts here (rules without a webhook).")
]


def _run_options(
    endpoint: list[str] | None,
    window: str | None,
    since: str | None,
    until: str | None,
    data: str | None,
    labels: str | None,
    id_column: str | None,
    label_column: str | None,
    rules: str | None,
    no_alerts: bool,
    webhook: str | None,
    include_shadow: bool,
    threshold: float | None,
    log_root: str | None,
    min_rows: int | None = None,
) -> dict[str, Any]:
    if min_rows is not None and min_rows < 1:
        raise InvalidInput(f"--min-rows must be at least 1; got {min_rows}")
    if labels is not None and id_column is None and data is None:
        raise InvalidInput("--labels needs --id-column: the column that names each row")
    return {
        "endpoint": endpoint or None,
        "window": window,
        "since": since,
        "until": until,
        "data": data,
        "labels": labels,
        "id_column": id_column,
        "label_column": label_column,
        "rules": False if no_alerts else rules,
        "webhook": webhook,
        "include_shadow": include_shadow,
        "threshold": threshold,
        "log_root": log_root,
        "min_rows": min_rows,
    }


def _print(result: Any) -> None:
    for line in result.describe():
        out.console.print(line, highlight=False, markup=False)


@monitor_app.command("run")
def run(
    ref: RefArgument,
    endpoint: EndpointOption = None,
    window: WindowOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    step: Annotated[
        str | None, typer.Option(help="With --since/--until: one result per STEP (e.g. 1d).")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option("--data", "-d", help="Monitor this Parquet/CSV file or dataset instead."),
    ] = None,
    labels: Annotated[
        str | None, typer.Option("--labels", help="Labels file (Parquet/CSV) joined by id.")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Id column of --labels (and --data).")
    ] = None,
    label_column: Annotated[
        str | None, typer.Option("--label-column", help="Label column of --labels.")
    ] = None,
    rules: RulesOption = None,
    no_alerts: Annotated[bool, typer.Option("--no-alerts", help="Evaluate no rules.")] = False,
    webhook: WebhookOption = None,
    include_shadow: Annotated[
        bool, typer.Option("--include-shadow", help="Also read the version's shadow rows.")
    ] = False,
    threshold: Annotated[
        float | None, typer.Option(help="Decision threshold (default: the version's).")
    ] = None,
    log_root: Annotated[
        str | None, typer.Option("--log-root", help="Prediction log root (default: artifacts).")
    ] = None,
    min_rows: Annotated[
        int | None,
        typer.Option(
            "--min-rows",
            help="Rows a verdict needs (default: the monitor_min_rows setting, 500).",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Drift, data quality and performance of one window (or batch); stores and alerts.

    A result on fewer rows than the minimum is "insufficient data" and raises no alert."""
    options = _run_options(
        endpoint, window, since, until, data, labels, id_column, label_column, rules,
        no_alerts, webhook, include_shadow, threshold, log_root, min_rows,
    )  # fmt: skip
    y = yard()
    if step is not None:
        results = y.monitors.backfill(ref, step=step, **options)
        if as_json:
            out.print_json([r.to_dict() for r in results])
            return
        for result in results:
            _print(result)
        return
    result = y.monitors.run(ref, console=out.err_console if as_json else out.console, **options)
    if as_json:
        out.print_json(result.to_dict())
        return
    _print(result)


@monitor_app.command("report")
def report(
    ref: RefArgument,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Folder for monitoring.html/.json.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Write the self-contained HTML report (and its JSON) from the stored results."""
    from modelyard.monitoring.service import REPORT_JSON

    html = yard().monitors.report(ref, output)
    if as_json:
        out.print_json({"html": str(html), "json": str(html.with_name(REPORT_JSON))})
        return
    out.console.print(f"report: {html}")
    out.console.print(f"json:   {html.with_name(REPORT_JSON)}")


@monitor_app.command("reference")
def reference(
    ref: RefArgument,
    data: Annotated[
        str | None, typer.Option("--data", "-d", help="Reference data instead of training data.")
    ] = None,
    holdout: Annotated[
        str | None, typer.Option(help="Labelled holdout for calibration and the baseline.")
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build it again.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Build (or show) the version's monitoring reference: data profile, scores, baseline."""
    found = yard().monitors.reference(ref, rebuild=rebuild, data=data, holdout=holdout)
    summary = {
        "ref": found.ref,
        "digest": found.digest,
        "source": found.source,
        "source_description": found.describe_source(),
        "warning": found.warning,
        "rows": found.profile.rows,
        "features": found.features,
        "threshold": found.threshold,
        "calibration": found.calibration.to_dict(),
        "baseline": found.baseline,
    }
    if found.warning:  # on stderr, so that --json output stays parseable
        out.err_console.print(f"[yellow]warning:[/yellow] {escape(found.warning)}")
    if as_json:
        out.print_json(summary)
        return
    out.console.print(
        f"Reference of {found.ref}: {found.describe_source()}, {found.profile.rows:,} rows",
        highlight=False,
        markup=False,
    )
    scores_error = found.source.get("scores_error")
    out.table(
        f"Monitoring reference of {found.ref}",
        ["", ""],
        [
            ("source", found.describe_source()),
            ("rows", found.profile.rows),
            ("features", len(found.features)),
            ("threshold", found.threshold),
            ("scores", scores_error or "1,001 quantiles for score drift"),
            ("calibration", found.calibration.describe()),
            ("baseline", found.baseline.get("source", "-")),
            ("digest", found.digest),
        ],
    )


@monitor_app.command("watch")
def watch(
    ref: RefArgument,
    every: Annotated[str, typer.Option(help="Interval: 15m, 1h, 1d...")],
    window: Annotated[
        str | None, typer.Option("--window", "-w", help="Each run's window (default: --every).")
    ] = None,
    endpoint: EndpointOption = None,
    rules: RulesOption = None,
    webhook: WebhookOption = None,
    max_runs: Annotated[int | None, typer.Option(help="Stop after this many checks.")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus gauges on this port (/metrics).")
    ] = None,
) -> None:
    """Run the monitor now and then every interval, in the foreground (Ctrl-C stops)."""
    from modelyard.monitoring.prometheus import serve_metrics

    if max_runs is not None and max_runs < 1:
        raise InvalidInput(f"--max-runs must be at least 1; got {max_runs}")
    y = yard()
    server = serve_metrics(y.store, metrics_port) if metrics_port else None
    if server is not None:
        out.console.print(f"Prometheus metrics on http://0.0.0.0:{metrics_port}/metrics")

    def show(outcome: Any) -> None:
        if isinstance(outcome, ModelyardError):
            out.err_console.print(f"[yellow]check failed:[/yellow] {outcome.message}")
        else:
            _print(outcome)

    try:
        y.monitors.watch(
            ref,
            every,
            window=window,
            max_runs=max_runs,
            on_result=show,
            endpoint=endpoint or None,
            rules=rules,
            webhook=webhook,
            console=out.console,
        )
    finally:
        if server is not None:
            server.shutdown()


@monitor_app.command("results")
def results(
    ref: Annotated[str | None, typer.Argument(help="Model version (default: all).")] = None,
    kind: Annotated[
        str | None, typer.Option(help="drift, quality, performance or estimated.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Stored monitor results, newest window first."""
    found = yard().monitors.results(ref, kind=kind, limit=limit)
    if as_json:
        out.print_json([r.to_dict() for r in found])
        return
    out.table(
        "Monitor results",
        ["id", "model", "kind", "window start", "window end", "rows", "headline"],
        (
            (
                r.id,
                f"{r.model_name}/{r.model_version}",
                r.kind,
                out.when(r.window_start),
                out.when(r.window_end),
                r.rows,
                _headline(r.kind, r.summary),
            )
            for r in found
        ),
    )


def _headline(kind: str, summary: dict[str, Any]) -> str:
    if summary.get("verdict") == "insufficient data":
        rows, need = summary.get("rows"), summary.get("min_rows")
        return f"insufficient data ({rows} rows, {need} needed)"
    if kind == "drift":
        drifted = summary.get("drifted_features") or []
        return f"{len(drifted)} drifted" + (f": {', '.join(drifted)}" if drifted else "")
    if kind == "quality":
        return f"{summary.get('errors', 0)} errors, {summary.get('warnings', 0)} warnings"
    metrics = summary.get("metrics") or {}
    auc = metrics.get("auc")
    text = f"AUC {auc:.4f}" if isinstance(auc, int | float) else "-"
    if kind == "estimated" and summary.get("calibrated") is False:
        text += " (uncalibrated)"
    return text


@monitor_app.command("alerts")
def alerts(
    ref: Annotated[str | None, typer.Argument(help="Model version (default: all).")] = None,
    model: Annotated[str | None, typer.Option(help="Every version of this model.")] = None,
    status: Annotated[
        str | None, typer.Option(help="firing, resolved or expired (default: all).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Alerts raised by monitor runs, most recently seen first."""
    found = yard().monitors.alerts(ref, model=model, status=status, limit=limit)
    if as_json:
        out.print_json([a.to_dict() for a in found])
        return
    out.table(
        "Alerts",
        ["id", "severity", "status", "model", "rule", "count", "last seen", "message"],
        (
            (
                a.id,
                a.severity,
                a.status,
                f"{a.model_name}/{a.model_version}",
                a.rule,
                a.count,
                out.when(a.last_seen),
                a.message,
            )
            for a in found
        ),
    )
