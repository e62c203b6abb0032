"""``modelyard pipeline``: run, resume, compile, trigger, schedule; ``models reproduce``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelyard.cli import _output as out
from modelyard.cli._context import yard
from modelyard.errors import InvalidInput

pipeline_app = typer.Typer(
    help="Pipelines: run locally with caching, compile for Kubeflow/Vertex AI, trigger.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RefArgument = Annotated[
    str, typer.Argument(help="FILE:FUNCTION, e.g. examples/credit_risk/pipeline.py:train")
]
ParamOption = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE; repeat for several.")
]


def _params(items: list[str] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--param takes KEY=VALUE; got {item!r}")
        found[key.strip()] = value
    return found


def _console(as_json: bool):  # type: ignore[no-untyped-def]
    return out.err_console if as_json else out.console


def _finish(result, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        out.print_json(result.to_dict())
    result.raise_for_status()


@pipeline_app.command("run")
def run(
    ref: RefArgument,
    param: ParamOption = None,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Continue this failed pipeline run.")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every step again.")] = False,
    workers: Annotated[int | None, typer.Option(help="Steps run at once (default 2-4).")] = None,
    ci: Annotated[
        bool,
        typer.Option(
            "--ci",
            help="CI mode: the result as JSON on stdout, the log on stderr, and sign-offs "
            "only requested (people sign; the release waits for them).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a pipeline: steps in dependency order, unchanged steps from the cache."""
    from modelyard.pipelines import load_pipeline, parse_params, resume_pipeline, run_pipeline

    if workers is not None and workers < 1:
        raise InvalidInput(f"--workers must be at least 1; got {workers}")
    pipeline = load_pipeline(ref)
    as_json = as_json or ci
    console = _console(as_json)
    options = {"console": console, "use_cache": not no_cache, "max_workers": workers, "ci": ci}
    if resume:
        if param:
            raise InvalidInput("--resume reuses the failed run's parameters; drop --param")
        result = resume_pipeline(yard(), resume, pipeline, **options)
    else:
        params = parse_params(pipeline, _params(param))
        result = run_pipeline(yard(), pipeline, params, reference=ref, **options)
    _finish(result, as_json)


@pipeline_app.command("show")
def show(ref: RefArgument, as_json: JsonOption = False) -> None:
    """Show a pipeline's parameters and steps (with what each runs after)."""
    from modelyard.pipelines import load_pipeline

    described = load_pipeline(ref).graph().describe()
    if as_json:
        out.print_json(described)
        return
    out.console.print(f"[bold]{described['pipeline']}[/bold]")
    out.table("Parameters", ["name", "default"], described["params"].items())
    out.table(
        "Steps",
        ["step", "function", "after", "reads parameters"],
        (
            (s["name"], s["function"], ", ".join(s["after"]), ", ".join(s["params"]))
            for s in described["steps"]
        ),
    )


@pipeline_app.command("compile")
def compile_(
    ref: RefArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="The YAML file to write.")],
    target: Annotated[str, typer.Option(help="Only 'kfp' (KFP v2 / Vertex AI).")] = "kfp",
    image: Annotated[
        str | None,
        typer.Option(help="The platform image the tasks run in.", envvar="MODELYARD_IMAGE"),
    ] = None,
    ref_in_image: Annotated[
        str | None,
        typer.Option(help="FILE:FUNCTION as seen inside the image (default: as given)."),
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="KEY=VALUE for every task; repeat.")
    ] = None,
) -> None:
    """Compile to Kubeflow Pipelines v2 YAML (submit it to Vertex AI Pipelines)."""
    from modelyard.config import load_settings
    from modelyard.pipelines import load_pipeline
    from modelyard.pipelines.kfp import compile_kfp

    if target != "kfp":
        raise InvalidInput(f"--target must be 'kfp'; got {target!r}")
    pipeline = load_pipeline(ref)
    reference = ref_in_image or _relative(ref)
    export = compile_kfp(
        pipeline,
        output,
        reference=reference,
        image=image,
        settings=load_settings(),
        env=_params(env),
    )
    for warning in export.warnings:
        out.err_console.print(f"[yellow]warning:[/yellow] {warning}", soft_wrap=True)
    out.console.print(
        f"wrote {export.path}: {len(export.tasks)} steps (+ start task), image {export.image}, "
        f"tasks run 'modelyard pipeline step {export.reference} STEP'"
    )


def _relative(ref: str) -> str:
    where, _, attr = ref.rpartition(":")
    path = Path(where)
    if path.is_absolute():
        try:
            return f"{path.relative_to(Path.cwd())}:{attr}"
        except ValueError:
            return ref
    return ref


@pipeline_app.command("start")
def start(
    ref: RefArgument,
    param: ParamOption = None,
    run_id_file: Annotated[
        Path | None, typer.Option(help="Write the new run's id here (KFP output).")
    ] = None,
) -> None:
    """Create a pipeline run for steps run elsewhere (the first task of a KFP export)."""
    from modelyard.pipelines import load_pipeline, parse_params
    from modelyard.pipelines.runner import start_parent_run

    pipeline = load_pipeline(ref)
    graph = pipeline.graph()
    bound = graph.bind_params(parse_params(pipeline, _params(param)))
    parent = start_parent_run(
        yard(),
        graph,
        bound,
        reference=ref,
        source=pipeline.reference,
        tags={"modelyard.orchestrator": "kfp"},
    )
    if run_id_file is not None:
        run_id_file.parent.mkdir(parents=True, exist_ok=True)
        run_id_file.write_text(parent.id, encoding="utf-8")
    out.console.print(parent.id)


@pipeline_app.command("step")
def step(
    ref: RefArgument,
    name: Annotated[str, typer.Argument(help="The step to run.")],
    run_id: Annotated[str, typer.Option("--run-id", help="The pipeline run it belongs to.")],
    param: ParamOption = None,
    no_cache: Annotated[bool, typer.Option("--no-cache")] = False,
) -> None:
    """Run one step of a pipeline run, its inputs read from the store (a KFP task)."""
    from modelyard.pipelines import PipelineFailed, load_pipeline, parse_params
    from modelyard.pipelines.runner import TAG_PARAMS, run_single_step

    pipeline = load_pipeline(ref)
    y = yard()
    given = parse_params(pipeline, _params(param))
    if given:
        import orjson

        recorded = orjson.loads(y.runs.get(run_id).tags.get(TAG_PARAMS, "{}"))
        differ = sorted(k for k, v in given.items() if recorded.get(k) != v)
        if differ:
            raise InvalidInput(
                f"--param {', '.join(differ)} differ from pipeline run {run_id}'s parameters"
            )
    result = run_single_step(y, pipeline, name, run_id, console=out.console, use_cache=not no_cache)
    if not result.ok:
        raise PipelineFailed(
            f"step {name!r} of pipeline run {run_id} failed: {result.error}",
            run_id=run_id,
            failed={name: result.error or ""},
            skipped=[],
        )


@pipeline_app.command("trigger")
def trigger(
    target: Annotated[str, typer.Argument(help="A named pipeline, or FILE:FUNCTION.")],
    reason: Annotated[str, typer.Option(help="Why: alert:<id>, schedule:1d, manual:...")],
    param: ParamOption = None,
    as_json: JsonOption = False,
) -> None:
    """Start a pipeline because of an alert or an event; the reason is recorded."""
    from modelyard.pipelines.triggers import trigger as start_pipeline

    result = start_pipeline(
        yard(), target, reason=reason, params=_params(param), console=_console(as_json)
    )
    _finish(result, as_json)


@pipeline_app.command("schedule")
def schedule(
    target: Annotated[str, typer.Argument(help="A named pipeline, or FILE:FUNCTION.")],
    every: Annotated[str, typer.Option(help="Interval: 30s, 15m, 6h, 1d, 1w.")],
    param: ParamOption = None,
    max_runs: Annotated[int | None, typer.Option(help="Stop after this many runs.")] = None,
) -> None:
    """Run a pipeline now and then at every interval, in the foreground (Ctrl-C stops)."""
    from modelyard.pipelines.triggers import schedule as loop

    if max_runs is not None and max_runs < 1:
        raise InvalidInput(f"--max-runs must be at least 1; got {max_runs}")
    runs = loop(
        yard(), target, every, params=_params(param), max_runs=max_runs, console=out.console
    )
    failed = [r for r in runs if not r.ok]
    if failed:
        failed[-1].raise_for_status()


@pipeline_app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="The name triggers use.")],
    ref: RefArgument,
    param: ParamOption = None,
    on_alert: Annotated[
        list[str] | None,
        typer.Option("--on-alert", help="Start on alerts of MODEL (or MODEL:RULE glob)."),
    ] = None,
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
) -> None:
    """Name a pipeline (with parameters) for triggers and alerts."""
    from modelyard.pipelines import load_pipeline, parse_params
    from modelyard.pipelines.triggers import registry_for

    params = parse_params(load_pipeline(ref), _params(param))
    entry = registry_for(yard()).register(
        name, ref, params=params, on_alert=on_alert or (), description=description
    )
    alerts = ", ".join(entry.on_alert) or "none"
    out.console.print(f"registered pipeline {entry.name} → {entry.ref} (on alerts: {alerts})")


@pipeline_app.command("list")
def list_named(as_json: JsonOption = False) -> None:
    """List the named pipelines."""
    from modelyard.pipelines.triggers import registry_for

    named = registry_for(yard()).load()
    if as_json:
        out.print_json({k: v.to_dict() for k, v in named.items()})
        return
    out.table(
        "Named pipelines",
        ["name", "ref", "params", "on alert"],
        (
            (
                n.name,
                n.ref,
                ", ".join(f"{k}={v}" for k, v in n.params.items()),
                ", ".join(n.on_alert),
            )
            for n in named.values()
        ),
    )


def reproduce(
    ref: Annotated[str, typer.Argument(help="name/3, name@alias or name@latest")],
    tolerance: Annotated[float, typer.Option(help="Relative and absolute tolerance.")] = 1e-6,
    pipeline: Annotated[
        str | None,
        typer.Option(help="FILE:FUNCTION to use when the recorded path is not here."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-run the pipeline steps that produced a version and check the metrics match."""
    from modelyard.pipelines.reproduce import reproduce as run_again

    outcome = run_again(
        yard(), ref, tolerance=tolerance, pipeline=pipeline, console=_console(as_json)
    )
    if as_json:
        out.print_json(outcome.to_dict())
    else:
        out.table(
            f"Metrics of {outcome.ref}: recorded vs reproduced",
            ["step", "metric", "recorded", "reproduced", ""],
            (
                (m.step, m.key, m.recorded, m.reproduced, "✓" if m.matches else "✗ differs")
                for m in outcome.metrics
            ),
        )
        identical = [k for k, same in outcome.outputs.items() if same]
        different = [k for k, same in outcome.outputs.items() if not same]
        out.console.print(f"identical outputs: {', '.join(identical) or 'none'}")
        if different:
            out.console.print(f"different outputs: {', '.join(different)}")
        verdict = "[green]metrics match[/green]" if outcome.matches else "[red]metrics DIFFER[/red]"
        out.console.print(
            f"{verdict} (tolerance {tolerance:g}); reproduction run {outcome.reproduction_run[:12]}"
        )
    if not outcome.matches:
        raise typer.Exit(1)
