"""``modelyard batch``: score files with a registered model, and follow the jobs."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelyard.batch.defaults import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_MAX_REJECT_RATE,
    EXIT_TOO_MANY_REJECTS,
)
from modelyard.batch.spark_io import parse_options, sink_from_options, source_from_options
from modelyard.cli import _output as out
from modelyard.cli._context import yard
from modelyard.errors import InvalidInput

batch_app = typer.Typer(
    help="Batch scoring: a model over Parquet/CSV files, resumable, local/Dask/Spark.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@batch_app.command("score")
def score(
    ref: Annotated[str, typer.Argument(help="Model version, e.g. credit-risk@champion.")],
    input: Annotated[
        str | None,
        typer.Option("--input", "-i", help="Parquet/CSV file, folder, glob or URL."),
    ] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output folder (path or URL).")
    ] = "",
    input_dataset: Annotated[
        str | None,
        typer.Option(
            "--input-dataset",
            help="Score a registered dataset version (e.g. loans/3) instead of --input; "
            "with --input, the name to register the input under for lineage.",
        ),
    ] = None,
    engine: Annotated[str, typer.Option(help="local, dask or spark.")] = "local",
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="Copied to the output.")
    ] = None,
    passthrough: Annotated[
        list[str] | None, typer.Option("--passthrough", help="More columns to copy (repeat).")
    ] = None,
    batch_rows: Annotated[
        int, typer.Option("--batch-rows", help="Rows scored at a time per worker.")
    ] = DEFAULT_BATCH_ROWS,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per core).")
    ] = None,
    part_rows: Annotated[
        int, typer.Option("--part-rows", help="Rows per part, the unit of resumption.")
    ] = 1_000_000,
    form: Annotated[str, typer.Option(help="auto (ONNX if compiled), onnx or native.")] = "auto",
    register_output: Annotated[
        str | None,
        typer.Option("--register-output", help="Register the output as this dataset."),
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (dask engine).")
    ] = None,
    master: Annotated[
        str | None, typer.Option(help="Spark master, e.g. yarn (spark engine).")
    ] = None,
    input_table: Annotated[
        str | None,
        typer.Option("--input-table", help="Spark catalog table to score, e.g. db.loans."),
    ] = None,
    input_jdbc: Annotated[
        str | None,
        typer.Option(
            "--input-jdbc",
            help="JDBC URL to read (credentials from MODELYARD_JDBC_USER/_PASSWORD, never here).",
        ),
    ] = None,
    jdbc_table: Annotated[
        str | None, typer.Option("--jdbc-table", help="Table to read with --input-jdbc.")
    ] = None,
    jdbc_query: Annotated[
        str | None, typer.Option("--jdbc-query", help="SQL query to read with --input-jdbc.")
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format",
            help="Spark reads --input in this format (parquet, csv, orc...); alone, a "
            "connector such as bigquery (with --input-option table=...).",
        ),
    ] = None,
    input_option: Annotated[
        list[str] | None,
        typer.Option("--input-option", help="Spark reader option KEY=VALUE (repeat)."),
    ] = None,
    output_table: Annotated[
        str | None,
        typer.Option("--output-table", help="Spark catalog table to write (created if absent)."),
    ] = None,
    output_jdbc: Annotated[
        str | None,
        typer.Option(
            "--output-jdbc",
            help="JDBC URL to write (MODELYARD_OUTPUT_JDBC_USER/_PASSWORD, else the input's).",
        ),
    ] = None,
    output_jdbc_table: Annotated[
        str | None, typer.Option("--output-jdbc-table", help="Table written with --output-jdbc.")
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--output-format",
            help="Spark writes --output in this format (parquet...); alone, a connector "
            "such as bigquery (with --output-option table=...).",
        ),
    ] = None,
    output_option: Annotated[
        list[str] | None,
        typer.Option("--output-option", help="Spark writer option KEY=VALUE (repeat)."),
    ] = None,
    buckets: Annotated[
        int | None,
        typer.Option(
            "--buckets", help="Spark output partitions (hash of the id): the unit of resumption."
        ),
    ] = None,
    partition_column: Annotated[
        str | None,
        typer.Option("--partition-column", help="Name of the bucket column (batch_part)."),
    ] = None,
    buckets_per_commit: Annotated[
        int | None,
        typer.Option("--buckets-per-commit", help="Buckets Spark commits at a time (2)."),
    ] = None,
    spark_conf: Annotated[
        list[str] | None,
        typer.Option("--spark-conf", help="Spark setting KEY=VALUE for the session (repeat)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace another job's output.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    max_reject_rate: Annotated[
        float,
        typer.Option(
            "--max-reject-rate",
            help="Share of rows (0-1) that may be rejected; above it the command exits "
            f"with code {EXIT_TOO_MANY_REJECTS} (the scores are still written).",
        ),
    ] = DEFAULT_MAX_REJECT_RATE,
    explain: Annotated[
        int, typer.Option(help="Add each row's top N adverse reasons as reason_<rank>_* columns.")
    ] = 0,
    as_json: JsonOption = False,
) -> None:
    """Score a file set; the same command again resumes an interrupted job.

    Rows that cannot be scored (a wrong type; an out-of-domain value the version's
    policy rejects) go to <output>/_rejects with a _reason; values outside the
    training domain that the model scores are counted as warnings. Exit code
    10 when rejects exceed --max-reject-rate.
    """
    spark_source = source_from_options(
        input=input,
        input_table=input_table,
        input_jdbc=input_jdbc,
        jdbc_table=jdbc_table,
        jdbc_query=jdbc_query,
        input_format=input_format,
        input_options=parse_options(input_option, "input_option"),
    )
    sink = sink_from_options(
        output=output,
        output_table=output_table,
        output_jdbc=output_jdbc,
        output_jdbc_table=output_jdbc_table,
        output_format=output_format,
        output_options=parse_options(output_option, "output_option"),
        buckets=buckets,
        partition_column=partition_column,
        spark_source=spark_source is not None,
    )
    if not output and sink is None:
        raise InvalidInput("--output is required: the folder to write the scores to")
    if input is None and input_dataset is None and spark_source is None:
        raise InvalidInput(
            "give --input PATH (or --input-dataset NAME/VERSION, --input-table, --input-jdbc)"
        )
    y = yard()
    source: Any = input if input is not None else None
    if spark_source is not None:
        source = spark_source
    elif source is None:
        source = y.datasets.get(str(input_dataset))
    options: dict[str, Any] = {k: v for k, v in (("scheduler", scheduler), ("master", master)) if v}
    if spark_conf:
        options["conf"] = parse_options(spark_conf, "spark_conf")
    if buckets_per_commit is not None:
        options["buckets_per_commit"] = buckets_per_commit
    job = y.batch.score(
        ref,
        source,
        sink if sink is not None else output,
        engine=engine,
        id_column=id_column,
        passthrough=passthrough or (),
        batch_rows=batch_rows,
        workers=workers,
        part_rows=part_rows,
        form=form,
        register_output_as=register_output,
        input_dataset=input_dataset if input is not None and spark_source is None else None,
        engine_options=options,
        overwrite=overwrite,
        quiet=quiet or as_json,
        max_reject_rate=max_reject_rate,
        explain=explain,
    )
    if as_json:
        out.print_json(job.to_dict())
    else:
        _print_summary(job)
    if job.rejects_exceeded:
        out.err_console.print(
            f"[bold red]error:[/bold red] {job.rows_rejected:,} of {job.rows_in:,} rows "
            f"rejected ({job.reject_rate:.2%}), more than --max-reject-rate "
            f"{max_reject_rate:.2%}; see {job.rejects_uri}",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_TOO_MANY_REJECTS)


def _print_summary(job: Any) -> None:
    speed = f", {job.rows_per_s:,.0f} rows/s" if job.rows_per_s else ""
    out.console.print(
        f"job {job.id} {job.status}: {job.rows_out:,} rows scored, "
        f"{job.rows_rejected:,} rejected ({job.reject_rate:.2%}){speed}\n"
        f"  output  {job.output_uri}"
    )
    if job.scorer:
        out.console.print(f"  scorer  {_scorer_text(job)}", soft_wrap=True, markup=False)
    if job.evaluator:
        out.console.print(f"  evaluator {job.evaluator}", soft_wrap=True, markup=False)
    if job.rows_rejected:
        out.console.print(f"  rejects {job.rejects_uri}")
        out.console.print("  rejects by reason:")
        for reason, rows in job.rejects_by_reason.items():
            out.console.print(f"    {rows:>10,}  {reason}", soft_wrap=True, markup=False)
    if job.warnings:
        out.console.print("  scored with warnings (values outside the training domain):")
        for key, rows in job.warnings.items():
            out.console.print(f"    {rows:>10,}  {key}", soft_wrap=True, markup=False)
    if job.output_dataset:
        out.console.print(f"  dataset {job.output_dataset}")


def _scorer_text(job: Any) -> str:
    """The scorer, and why the pipeline was not compiled when it was not."""
    reason = job.scorer_reason
    if not reason or reason == "compiled":
        return str(job.scorer)
    return f"{job.scorer} ({reason})"


@batch_app.command("status")
def status(
    job_id: Annotated[str, typer.Argument(help="Job id (or its first 6+ characters).")],
    as_json: JsonOption = False,
) -> None:
    """Show a job's record and, while it runs, its progress."""
    job = yard().batch.status(job_id)
    if as_json:
        out.print_json(job.to_dict())
        return
    rows: list[tuple[str, object]] = [
        ("id", job.id),
        ("model", job.model_ref),
        ("status", job.status),
        ("engine", job.engine),
        ("input", job.input_uri),
        ("output", job.output_uri),
        ("rows in", f"{job.rows_in:,}"),
        ("rows out", f"{job.rows_out:,}"),
        ("rows rejected", f"{job.rows_rejected:,}"),
        ("rows/s", f"{job.rows_per_s:,.0f}" if job.rows_per_s else None),
        ("scorer", _scorer_text(job) if job.scorer else None),
        ("evaluator", job.evaluator),
        ("duration", f"{job.duration_s:.1f} s" if job.duration_s is not None else None),
        ("started", out.when(job.started_at)),
        ("ended", out.when(job.ended_at)),
        ("parts", job.params.get("parts_done", "-")),
        ("attempts", job.params.get("attempts")),
        ("output dataset", job.output_dataset),
        ("error", job.error),
    ]
    if job.progress:
        p = job.progress
        total = f" of {p['rows_total']:,}" if p.get("rows_total") else ""
        rows.append(("progress", f"{p['parts_done']}/{p['parts_total']} parts, "
                                 f"{p['rows_done']:,}{total} rows"))  # fmt: skip
        rows.append(("last progress", out.when(p.get("updated_at_ms"))))
    out.table(f"Batch job {job.id[:12]}", ["field", "value"], rows)


@batch_app.command("list")
def list_jobs(
    model: Annotated[str | None, typer.Option(help="Only this model's jobs.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Recent batch jobs, newest first."""
    jobs = yard().batch.list(model=model, limit=limit)
    if as_json:
        out.print_json([j.to_dict() for j in jobs])
        return
    out.table(
        "Batch jobs",
        ["id", "model", "status", "engine", "rows out", "rejected", "started", "output"],
        (
            (
                j.id[:12],
                j.model_ref,
                j.status,
                j.engine,
                f"{j.rows_out:,}",
                f"{j.rows_rejected:,}",
                out.when(j.started_at),
                j.output_uri,
            )
            for j in jobs
        ),
    )
