"""``modelyard data`` (synthetic data) and ``modelyard datasets`` (versioned datasets)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli import _output as out
from modelyard.cli._context import yard
from modelyard.errors import InvalidInput

data_app = typer.Typer(help="Synthetic credit-risk data for demos and tests.", no_args_is_help=True)
datasets_app = typer.Typer(help="Versioned datasets.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@data_app.command("synth")
def synth(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Parquet or CSV file to write.")
    ] = None,
    rows: Annotated[
        int, typer.Option("--rows", "-n", help="Number of loan applications.")
    ] = 10_000,
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Drift scenario.")] = "none",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    start_date: Annotated[
        str | None,
        typer.Option(help="First application date [default: 2026-01-01; 2025-01-01 out of time]."),
    ] = None,
    days: Annotated[int, typer.Option(help="Days the applications span.")] = 90,
    severity: Annotated[float, typer.Option(help="Scales the scenario's shift.")] = 1.0,
    out_of_time: Annotated[
        bool,
        typer.Option(
            "--out-of-time",
            help="Twelve months with a regime change, late categories and late nulls, "
            "as real data split in time order (see modelyard.data.out_of_time).",
        ),
    ] = False,
    change_date: Annotated[
        str, typer.Option(help="With --out-of-time: the date the regime changes.")
    ] = "2025-10-01",
    list_scenarios: Annotated[
        bool, typer.Option("--list", help="List scenarios and exit.")
    ] = False,
) -> None:
    """Write synthetic loan applications drawn from a known default model."""
    from modelyard.data import out_of_time as oot
    from modelyard.data import synthetic

    if list_scenarios:
        out.console.print(synthetic.describe_scenarios())
        return
    if output is None:
        raise InvalidInput("--output is required: the .parquet or .csv file to write")
    suffix = output.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv"):
        raise InvalidInput(f"--output {str(output)!r}: use a .parquet or .csv file name")
    if out_of_time:
        if scenario != "none":
            raise InvalidInput(
                f"--scenario {scenario!r} cannot be combined with --out-of-time, whose regime "
                "change, late categories and late nulls are its own scenario"
            )
        frame = oot.generate_out_of_time(
            rows, seed=seed, start_date=start_date or oot.START_DATE, change_date=change_date
        )
        scenario = f"out-of-time, change on {frame.attrs['change_date']}"
    else:
        frame = synthetic.generate(
            rows,
            seed=seed,
            scenario=scenario,
            start_date=start_date or "2026-01-01",
            days=days,
            severity=severity,
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    if suffix == ".csv":
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    tmp.replace(output)
    rate = float(frame[synthetic.TARGET].mean())
    out.console.print(
        f"wrote {len(frame):,} rows (scenario {scenario}, default rate {rate:.1%}) to {output}"
    )


@datasets_app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="Dataset name, e.g. loans.")],
    source: Annotated[str, typer.Argument(help="Parquet/CSV file, folder, glob or URL.")],
    description: Annotated[str, typer.Option(help="What the data is.")] = "",
    parent: Annotated[list[str] | None, typer.Option(help="Parent version, e.g. raw/2.")] = None,
    no_copy: Annotated[bool, typer.Option("--no-copy", help="Record URIs only.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Register a version of a dataset (same content gives the same version)."""
    info = yard().datasets.register(
        name, source, description=description, parents=parent or (), keep_copy=not no_copy
    )
    if as_json:
        out.print_json(info.to_dict(with_profile=False))
        return
    out.console.print(
        f"{info.ref}  {info.num_rows:,} rows  {len(info.columns())} columns  "
        f"sha256:{info.short_digest}"
    )


@datasets_app.command("list")
def list_datasets(as_json: JsonOption = False) -> None:
    """List datasets with their latest version."""
    summaries = yard().datasets.list()
    if as_json:
        out.print_json([s.to_dict() for s in summaries])
        return
    out.table(
        "Datasets",
        ["name", "latest", "versions", "rows", "updated", "description"],
        (
            (
                s.name,
                s.latest_version,
                s.versions,
                f"{s.latest_rows:,}",
                out.when(s.updated_at),
                s.description,
            )
            for s in summaries
        ),
    )


@datasets_app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="name, name/3 or name@latest.")],
    as_json: JsonOption = False,
) -> None:
    """Show a version: schema, profile, lineage."""
    info = yard().datasets.get(ref)
    if as_json:
        out.print_json(info.to_dict())
        return
    out.console.print(
        f"[bold]{info.ref}[/bold]  sha256:{info.short_digest}  {info.num_rows:,} rows  "
        f"by {info.created_by} at {out.when(info.created_at)}"
    )
    if info.parents:
        out.console.print(f"parents: {', '.join(info.parents)}")
    if info.producing_run_id:
        out.console.print(f"produced by run {info.producing_run_id}")
    columns = info.profile.get("columns", {})
    rows = []
    for name, arrow_type in info.columns():
        col = columns.get(name, {})
        if col.get("kind") == "numeric":
            median = (col.get("quantiles") or {}).get("0.5")
            summary = (
                f"min {out.fmt(col.get('min'))}  median {out.fmt(median)}  "
                f"max {out.fmt(col.get('max'))}"
            )
        elif col.get("kind") == "categorical":
            summary = _categories(col)
        else:
            summary = (
                f"{out.fmt(col.get('min'))} .. {out.fmt(col.get('max'))}" if "min" in col else ""
            )
        rows.append((name, arrow_type, f"{(col.get('null_rate') or 0):.1%}", summary))
    out.table("Columns", ["column", "type", "nulls", "profile"], rows)


def _categories(col: dict) -> str:
    """A categorical column's summary: how many values, and the commonest when some repeat.

    A column with more distinct values than the profile keeps (an id, say) has
    no exact count: it is said to be high-cardinality, never "None distinct".
    """
    from modelyard.data.profile import CATEGORY_CAP

    top = col.get("top") or []
    distinct = col.get("distinct")
    non_null = (col.get("count") or 0) - (col.get("null_count") or 0)
    if distinct is None:
        count = f"over {CATEGORY_CAP:,} distinct (high cardinality)"
    elif distinct == non_null and distinct > 1:
        count = f"{distinct:,} distinct (every value unique)"
    else:
        count = f"{distinct:,} distinct"
    repeated = [(v, c) for v, c in top[:3] if c > 1]
    if not repeated:
        return count
    return f"{count}; top: " + ", ".join(f"{v} ({c:,})" for v, c in repeated)
