"""The local runner: dependency order, parallel branches, tracked runs, cache, retries, resume.

One pipeline run is a parent run (experiment = the pipeline's name) with one
child run per step. Steps whose inputs are ready run on a thread pool, so
independent branches run side by side. Before a step runs, its cache key
(``cache.py``) is looked up; a hit reuses the stored outputs, records a
FINISHED child run tagged ``cache_hit=true`` and says so in the log. A step
that raises is retried with exponential back-off (``@step(retries=,
backoff=)``); when it still fails, every step downstream of it is skipped,
independent branches finish, and the pipeline run ends FAILED.
``resume_pipeline(run_id)`` runs the same pipeline with the same parameters
again, reusing each step that succeeded in that run when its key is
unchanged, so a fixed step carries on from where the run failed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from modelyard.errors import InvalidInput
from modelyard.pipelines import values
from modelyard.pipelines.dsl import Pipeline
from modelyard.pipelines.errors import PipelineFailed
from modelyard.pipelines.execution import (
    CACHED,
    FAILED_STEP,
    OK_STATUSES,
    REUSED,
    SKIPPED,
    STEP_STATUS_PREFIX,
    SUCCEEDED,
    TAG_ATTEMPTS,
    TAG_CACHE_HIT,
    TAG_CACHED_FROM,
    TAG_CI,
    TAG_CODE,
    TAG_KEY,
    TAG_KIND,
    TAG_OUTPUTS,
    TAG_PARAMS,
    TAG_PARENT,
    TAG_PIPELINE,
    TAG_REF,
    TAG_RESUMED_FROM,
    TAG_SOURCE,
    TAG_STATUS,
    TAG_STEP,
    TAG_TRIGGER,
    Execution,
    PriorStep,
    StepResult,
    error_text,
)
from modelyard.pipelines.graph import Graph
from modelyard.tracking.entities import FAILED, FINISHED, KILLED

if TYPE_CHECKING:
    from modelyard.tracking import ActiveRun
    from modelyard.yard import Yard

# The tag names and statuses are re-exported: callers read runs through this module.
__all__ = [
    "CACHED",
    "FAILED_STEP",
    "OK_STATUSES",
    "REUSED",
    "SKIPPED",
    "STEP_STATUS_PREFIX",
    "SUCCEEDED",
    "TAG_ATTEMPTS",
    "TAG_CACHED_FROM",
    "TAG_CACHE_HIT",
    "TAG_CODE",
    "TAG_KEY",
    "TAG_KIND",
    "TAG_OUTPUTS",
    "TAG_PARAMS",
    "TAG_PARENT",
    "TAG_PIPELINE",
    "TAG_REF",
    "TAG_RESUMED_FROM",
    "TAG_SOURCE",
    "TAG_STATUS",
    "TAG_STEP",
    "TAG_TRIGGER",
    "PipelineRun",
    "StepResult",
    "prior_steps",
    "resume_pipeline",
    "run_pipeline",
    "run_single_step",
    "start_parent_run",
]


@dataclass
class PipelineRun:
    """The outcome of one pipeline run: its parent run id and every step's result."""

    run_id: str
    pipeline: str
    reference: str | None
    params: dict[str, Any]
    steps: dict[str, StepResult]
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return FINISHED if all(s.ok for s in self.steps.values()) else FAILED

    @property
    def ok(self) -> bool:
        return self.status == FINISHED

    def names(self, *statuses: str) -> list[str]:
        return [n for n, s in self.steps.items() if s.status in statuses]

    @property
    def executed(self) -> list[str]:
        return self.names(SUCCEEDED)

    @property
    def cached(self) -> list[str]:
        return self.names(CACHED, REUSED)

    @property
    def failed(self) -> list[str]:
        return self.names(FAILED_STEP)

    @property
    def skipped(self) -> list[str]:
        return self.names(SKIPPED)

    def output(self, step: str, name: str | None = None) -> Any:
        """A step's output value (its only output, or the one called ``name``)."""
        result = self.steps[step]
        if not result.ok:
            raise InvalidInput(
                f"step {step!r} did not succeed ({result.status}); it has no outputs"
            )
        if name is None:
            if len(result.outputs) != 1:
                raise InvalidInput(f"step {step!r} has outputs {list(result.outputs)}; name one")
            return next(iter(result.outputs.values()))
        return result.outputs[name]

    def failure_message(self) -> str:
        failed = {n: self.steps[n].error or "failed" for n in self.failed}
        parts = [f"{n!r}: {e}" for n, e in failed.items()]
        text = f"pipeline {self.pipeline!r} (run {self.run_id[:12]}) failed at step " + "; ".join(
            parts
        )
        if self.skipped:
            text += f". Skipped: {', '.join(self.skipped)}"
        if self.reference:
            text += (
                f". Fix it and resume: modelyard pipeline run {self.reference} "
                f"--resume {self.run_id[:12]}"
            )
        return text

    def raise_for_status(self) -> PipelineRun:
        if not self.ok:
            raise PipelineFailed(
                self.failure_message(),
                run_id=self.run_id,
                failed={n: self.steps[n].error or "" for n in self.failed},
                skipped=self.skipped,
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "pipeline": self.pipeline,
            "reference": self.reference,
            "status": self.status,
            "params": self.params,
            "seconds": round(self.seconds, 3),
            "steps": [s.to_dict() for s in self.steps.values()],
        }


# -- the local runner ---------------------------------------------------------

_SYMBOL = {
    SUCCEEDED: "[green]✓[/green]",
    CACHED: "[cyan]↺[/cyan]",
    REUSED: "[cyan]↺[/cyan]",
    FAILED_STEP: "[red]✗[/red]",
    SKIPPED: "[dim]-[/dim]",
}


def _line(result: StepResult, width: int) -> str:
    name = f"{result.name:<{width}}"
    if result.status == SUCCEEDED:
        extra = f" (after {result.attempts} attempts)" if result.attempts > 1 else ""
        return f"  {_SYMBOL[SUCCEEDED]} {name}  ran in {result.seconds:.1f} s{extra}"
    if result.status in (CACHED, REUSED):
        how = "cache hit" if result.status == CACHED else "reused from the resumed run"
        source = f", outputs of run {result.cached_from[:8]}" if result.cached_from else ""
        return f"  {_SYMBOL[result.status]} {name}  {how}: not re-run{source}"
    if result.status == FAILED_STEP:
        return f"  {_SYMBOL[FAILED_STEP]} {name}  [red]failed[/red]: {result.error}"
    return f"  {_SYMBOL[SKIPPED]} {name}  [dim]skipped ({result.error})[/dim]"


def default_workers() -> int:
    return max(2, min(4, os.cpu_count() or 2))


def params_json(params: Mapping[str, Any]) -> str:
    try:
        return orjson.dumps(dict(params), option=orjson.OPT_SORT_KEYS).decode()
    except TypeError as exc:
        raise InvalidInput(
            f"pipeline parameters must be JSON values (numbers, strings, lists, dicts): {exc}"
        ) from exc


def run_pipeline(
    yard: Yard,
    pipeline: Pipeline,
    params: Mapping[str, Any] | None = None,
    *,
    console: Console | None = None,
    max_workers: int | None = None,
    use_cache: bool = True,
    only: set[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    reference: str | None = None,
    prior: Mapping[str, PriorStep] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    ci: bool = False,
) -> PipelineRun:
    """Run ``pipeline`` on ``yard`` and return what happened (a failed step does not raise).

    ``only`` restricts the run to those steps (their inputs must come from
    steps inside it); ``prior`` lets a resumed run reuse earlier step records.
    Call ``.raise_for_status()`` on the result to turn a failure into
    ``PipelineFailed``. ``ci`` runs it in CI mode: lifecycle steps request
    sign-offs and never make them (recorded as the run's ``modelyard.ci`` tag).
    """
    started = time.perf_counter()
    if ci:
        tags = {**(tags or {}), TAG_CI: "true"}
    _require_local(yard)
    graph = pipeline.graph()
    bound = graph.bind_params(params)
    order = graph.order()
    if only is not None:
        unknown = sorted(set(only) - set(order))
        if unknown:
            raise InvalidInput(f"pipeline {graph.name!r} has no step(s) {unknown}")
        outside = {d for n in only for d in graph.dependencies(n)} - set(only)
        if outside:
            raise InvalidInput(
                f"steps {sorted(only)} depend on steps outside them: {sorted(outside)}"
            )
        order = [n for n in order if n in only]
    reference = reference or pipeline.reference
    parent = start_parent_run(
        yard, graph, bound, reference=reference, source=pipeline.reference, tags=tags
    )
    results: dict[str, StepResult] = {}
    try:
        execution = Execution(
            yard,
            graph,
            parent.id,
            bound,
            use_cache=use_cache,
            prior=prior,
            console=console,
            sleep=sleep,
            ci=ci,
        )
        if console is not None:
            changed = {k: v for k, v in bound.items() if graph.defaults().get(k, object()) != v}
            shown = ", ".join(f"{k}={v!r}" for k, v in changed.items()) or "defaults"
            console.print(
                f"[bold]pipeline {graph.name}[/bold]  run {parent.id[:12]}  "
                f"({len(order)} steps; params: {shown})",
                highlight=False,
            )
        results = _schedule(execution, order, max_workers or default_workers(), console)
    except KeyboardInterrupt:
        parent.end(KILLED, error="interrupted")
        raise
    except BaseException as exc:
        parent.end(FAILED, error=error_text(exc))
        raise
    outcome = PipelineRun(
        run_id=parent.id,
        pipeline=graph.name,
        reference=reference,
        params=bound,
        steps={n: results[n] for n in order},
        seconds=time.perf_counter() - started,
    )
    parent.log_metrics(
        {
            "steps_executed": len(outcome.executed),
            "steps_cached": len(outcome.cached),
            "steps_failed": len(outcome.failed),
            "steps_skipped": len(outcome.skipped),
            "duration_s": outcome.seconds,
        }
    )
    if outcome.ok:
        parent.end(FINISHED)
    else:
        parent.end(FAILED, error=outcome.failure_message())
    if console is not None:
        verdict = "[green]finished[/green]" if outcome.ok else "[red]FAILED[/red]"
        console.print(
            f"  pipeline {verdict} in {outcome.seconds:.1f} s: {len(outcome.executed)} run, "
            f"{len(outcome.cached)} cached, {len(outcome.failed)} failed, "
            f"{len(outcome.skipped)} skipped",
            highlight=False,
        )
    return outcome


def _require_local(yard: Any) -> None:
    """Pipelines run on any Yard with runs and models: local, or remote through the server."""
    if not hasattr(yard, "runs") or not hasattr(yard, "models"):
        raise InvalidInput(
            f"pipelines need a Yard from modelyard.connect(); got {type(yard).__name__}"
        )


def start_parent_run(
    yard: Yard,
    graph: Graph,
    bound: Mapping[str, Any],
    *,
    reference: str | None,
    source: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> ActiveRun:
    """The pipeline run every step run hangs under, with its parameters and reference.

    ``reference`` is how the run was asked for (``FILE:FUNCTION`` as typed);
    ``source`` the file's absolute path, a fallback for ``reproduce``.
    """
    parent_tags = {
        TAG_KIND: "pipeline",
        TAG_PIPELINE: graph.name,
        TAG_PARAMS: params_json(bound),
        **({TAG_REF: reference} if reference else {}),
        **({TAG_SOURCE: source} if source and source != reference else {}),
        **{k: str(v) for k, v in (tags or {}).items()},
    }
    parent = yard.start_run(experiment=graph.name, name=graph.name, tags=parent_tags)
    try:
        parent.log_params({k: values.summary(values.encode(v, None)) for k, v in bound.items()})
    except BaseException as exc:
        parent.end(FAILED, error=error_text(exc))
        raise
    return parent


def _schedule(
    execution: Execution, order: list[str], workers: int, console: Console | None
) -> dict[str, StepResult]:
    graph = execution.graph
    wanted = set(order)
    deps = {n: graph.dependencies(n) & wanted for n in order}
    width = max(len(n) for n in order)
    results: dict[str, StepResult] = {}
    running: dict[Future[StepResult], str] = {}
    progress = Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=console is None or not console.is_terminal,
    )
    with progress, ThreadPoolExecutor(max_workers=workers, thread_name_prefix="step") as pool:
        task = progress.add_task(graph.name, total=len(order))

        def finish(result: StepResult) -> None:
            results[result.name] = result
            progress.advance(task)
            if console is not None:
                progress.console.print(_line(result, width), highlight=False)

        while len(results) < len(order):
            before = len(results) + len(running)
            for name in order:
                if name in results or name in running.values():
                    continue
                bad = [d for d in deps[name] if d in results and not results[d].ok]
                if bad:
                    result = StepResult(name, SKIPPED, error=f"upstream {bad[0]} did not succeed")
                    execution.yard.runs.set_tags(
                        execution.parent_run_id, {STEP_STATUS_PREFIX + name: SKIPPED}
                    )
                    finish(result)
                    continue
                if all(d in results for d in deps[name]):
                    node = graph.node(name)
                    running[pool.submit(execution.execute, node)] = name
            if not running:
                if len(results) == before:  # nothing ran, nothing was skipped: a bad graph
                    raise InvalidInput(f"pipeline {graph.name!r}: steps cannot be scheduled")
                continue  # skips were recorded; loop to pick up what they unblocked
            running_names = ", ".join(running.values())
            progress.update(task, description=f"{graph.name}: {running_names}")
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                finish(future.result())
    return results


# -- resume -------------------------------------------------------------------


def prior_steps(yard: Yard, run_id: str) -> dict[str, PriorStep]:
    """The steps recorded under pipeline run ``run_id``, by step name (latest record wins)."""
    children = yard.runs.search(
        f"tags.`{TAG_PARENT}` = '{run_id}'", order_by=["start_time"], max_results=10_000
    )
    found: dict[str, PriorStep] = {}
    for child in children:
        name = child.tags.get(TAG_STEP)
        if not name:
            continue
        raw = child.tags.get(TAG_OUTPUTS)
        found[name] = PriorStep(
            name,
            child.tags.get(TAG_STATUS, ""),
            child.id,
            child.tags.get(TAG_KEY),
            orjson.loads(raw) if raw else None,
        )
    return found


def resume_pipeline(
    yard: Yard,
    run_id: str,
    pipeline: Pipeline | None = None,
    **options: Any,
) -> PipelineRun:
    """Run a failed pipeline run again with its parameters, reusing the steps that succeeded."""
    from modelyard.pipelines.loading import load_pipeline

    old = yard.runs.get(run_id)
    if old.tags.get(TAG_KIND) != "pipeline":
        raise InvalidInput(
            f"run {old.id} is not a pipeline run; resume takes the pipeline's run id"
        )
    reference = old.tags.get(TAG_REF)
    if pipeline is None:
        if not reference:
            raise InvalidInput(f"run {old.id} records no pipeline reference; pass the pipeline")
        pipeline = load_pipeline(reference)
    if pipeline.name != old.tags.get(TAG_PIPELINE):
        raise InvalidInput(
            f"run {old.id} is a run of pipeline {old.tags.get(TAG_PIPELINE)!r}, "
            f"not {pipeline.name!r}"
        )
    params = orjson.loads(old.tags.get(TAG_PARAMS, "{}"))
    tags = {**options.pop("tags", {}), TAG_RESUMED_FROM: old.id}
    options["ci"] = options.get("ci", False) or old.tags.get(TAG_CI) == "true"
    return run_pipeline(
        yard,
        pipeline,
        params,
        prior=prior_steps(yard, old.id),
        tags=tags,
        reference=reference,
        **options,
    )


# -- one step of a run orchestrated elsewhere (Kubeflow Pipelines) --------------


def run_single_step(
    yard: Yard,
    pipeline: Pipeline,
    step_name: str,
    parent_run_id: str,
    *,
    console: Console | None = None,
    use_cache: bool = True,
) -> StepResult:
    """Execute one step of pipeline run ``parent_run_id``, its inputs read from the store.

    The upstream steps' outputs come from their recorded step runs; the
    parameters from the pipeline run. The last step to finish ends the
    pipeline run (FAILED as soon as one step fails).
    """
    _require_local(yard)
    parent = yard.runs.get(parent_run_id)
    if parent.tags.get(TAG_KIND) != "pipeline" or parent.tags.get(TAG_PIPELINE) != pipeline.name:
        raise InvalidInput(f"run {parent.id} is not a run of pipeline {pipeline.name!r}")
    graph = pipeline.graph()
    node = graph.node(step_name)
    params = graph.bind_params(orjson.loads(parent.tags.get(TAG_PARAMS, "{}")))
    recorded = prior_steps(yard, parent.id)
    execution = Execution(
        yard,
        graph,
        parent.id,
        params,
        use_cache=use_cache,
        console=console,
        ci=parent.tags.get(TAG_CI) == "true",
    )
    for dep in graph.dependencies(step_name):
        record = recorded.get(dep)
        if record is None or record.status not in OK_STATUSES or record.outputs is None:
            raise InvalidInput(
                f"step {step_name!r} needs {dep!r}, which has not succeeded in run {parent.id}"
            )
        execution.outputs[dep] = {
            k: (values.decode(doc, yard), doc) for k, doc in record.outputs.items()
        }
    result = execution.execute(node)
    if console is not None:
        console.print(_line(result, len(step_name)), highlight=False)
    if not result.ok:
        yard.runs.end(parent.id, FAILED, error=f"step {step_name!r} failed: {result.error}")
        return result
    statuses = yard.runs.get(parent.id).tags
    if all(statuses.get(STEP_STATUS_PREFIX + n) in OK_STATUSES for n in graph.nodes):
        yard.runs.end(parent.id, FINISHED)
    return result
