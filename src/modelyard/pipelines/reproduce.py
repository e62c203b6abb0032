"""Reproduce a model version: re-run the pipeline steps that produced it and compare metrics.

The trail: the version's tags name the pipeline run and the step that
registered it (``register_version`` writes them; otherwise the version's
training run leads to its parent pipeline run). That run records the
pipeline reference (``FILE:FUNCTION``), the parameters and the git commit;
each step run records its code digest, its input dataset versions and its
outputs. Reproduction runs every step upstream of the registration again
with the cache off — no registration, sign-off or alias change is repeated —
and compares, step by step, the metrics and the outputs (dataset digests,
model bytes) with the recorded ones.

The code is the current checkout's: a different git commit, a dirty work
tree, or a step whose code digest changed is reported, so a mismatch can be
told apart from non-determinism.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.errors import InvalidInput
from modelyard.pipelines.loading import load_pipeline
from modelyard.pipelines.runner import (
    TAG_CODE,
    TAG_PARAMS,
    TAG_REF,
    TAG_SOURCE,
    TAG_STEP,
    prior_steps,
    run_pipeline,
)

if TYPE_CHECKING:
    from rich.console import Console

    from modelyard.yard import Yard

__all__ = ["MetricCheck", "Reproduction", "reproduce"]

TAG_REPRODUCE_OF = "modelyard.reproduce_of"
IGNORED_METRICS = frozenset({"retry_wait_s"})


@dataclass(frozen=True)
class MetricCheck:
    step: str
    key: str
    recorded: float | None
    reproduced: float | None
    matches: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "metric": self.key,
            "recorded": self.recorded,
            "reproduced": self.reproduced,
            "matches": self.matches,
        }


@dataclass
class Reproduction:
    ref: str
    pipeline_run: str
    reproduction_run: str
    reference: str
    params: dict[str, Any]
    steps: list[str]
    recorded_commit: str | None
    current_commit: str | None
    current_dirty: bool | None
    metrics: list[MetricCheck] = field(default_factory=list)
    outputs: dict[str, bool] = field(default_factory=dict)  # "step.output" -> identical
    changed_code: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def matches(self) -> bool:
        return not self.failed and bool(self.metrics) and all(m.matches for m in self.metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "matches": self.matches,
            "pipeline_run": self.pipeline_run,
            "reproduction_run": self.reproduction_run,
            "reference": self.reference,
            "params": self.params,
            "steps": self.steps,
            "recorded_commit": self.recorded_commit,
            "current_commit": self.current_commit,
            "current_dirty": self.current_dirty,
            "metrics": [m.to_dict() for m in self.metrics],
            "outputs_identical": self.outputs,
            "changed_code": self.changed_code,
            "warnings": self.warnings,
            "failed": self.failed,
        }


def _origin(yard: Yard, version: Any) -> tuple[str, str, bool]:
    """(pipeline run id, step name, whether that step registered the version)."""
    run_id, step = version.tags.get("pipeline_run"), version.tags.get("pipeline_step")
    if run_id and step:
        return run_id, step, True
    if version.run_id:
        training = yard.runs.get(version.run_id)
        if training.parent_run_id and training.tags.get(TAG_STEP):
            return training.parent_run_id, training.tags[TAG_STEP], False
    raise InvalidInput(
        f"{version.ref} was not produced by a pipeline (no pipeline run recorded), "
        "so there is nothing to re-run"
    )


def _locate(original: Any, override: str | None) -> tuple[str, Any]:
    """The pipeline reference to use and the loaded pipeline."""
    recorded = [original.tags.get(TAG_REF), original.tags.get(TAG_SOURCE)]
    candidates = [c for c in ([override] if override else recorded) if c]
    if not candidates:
        raise InvalidInput(
            f"pipeline run {original.id} records no pipeline reference; "
            "pass --pipeline FILE:FUNCTION"
        )
    problems = []
    for reference in candidates:
        try:
            return reference, load_pipeline(reference)
        except InvalidInput as exc:
            problems.append(exc.message)
    raise InvalidInput(
        "cannot find the pipeline that made this version (" + "; ".join(problems) + "); "
        "pass --pipeline FILE:FUNCTION"
    )


def _close(a: float | None, b: float | None, tolerance: float) -> bool:
    if a is None or b is None:
        return False
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def reproduce(
    yard: Yard,
    ref: str,
    *,
    tolerance: float = 1e-6,
    pipeline: str | None = None,
    console: Console | None = None,
) -> Reproduction:
    """Re-run what produced ``ref`` from its recorded parameters and compare the metrics.

    ``pipeline`` (``FILE:FUNCTION``) replaces the recorded reference, e.g. in
    another checkout; otherwise the recorded reference, then the recorded
    absolute path, is used.
    """
    from modelyard.tracking import environment

    if not tolerance >= 0:
        raise InvalidInput(f"tolerance must be >= 0; got {tolerance!r}")
    version = yard.models.get(ref)
    pipeline_run_id, origin_step, registered_there = _origin(yard, version)
    original = yard.runs.get(pipeline_run_id)
    reference, flow = _locate(original, pipeline)
    params = orjson.loads(original.tags.get(TAG_PARAMS, "{}"))
    if flow.name != original.tags.get("modelyard.pipeline"):
        raise InvalidInput(
            f"{reference} defines pipeline {flow.name!r}; {version.ref} was made by "
            f"{original.tags.get('modelyard.pipeline')!r}"
        )
    graph = flow.graph()
    if origin_step not in graph.nodes:
        raise InvalidInput(
            f"the pipeline at {reference} no longer has step {origin_step!r}, "
            f"which produced {version.ref}"
        )
    targets = graph.ancestors(origin_step) | (set() if registered_there else {origin_step})
    if not targets:
        raise InvalidInput(f"{version.ref}: no step upstream of {origin_step!r} to re-run")
    recorded = prior_steps(yard, original.id)
    commit, dirty = environment.git_state()
    outcome = Reproduction(
        ref=version.ref,
        pipeline_run=original.id,
        reproduction_run="",
        reference=reference,
        params=params,
        steps=[n for n in graph.order() if n in targets],
        recorded_commit=original.git_commit,
        current_commit=commit,
        current_dirty=dirty,
    )
    if original.git_commit and commit and original.git_commit != commit:
        outcome.warnings.append(
            f"the checkout is at commit {commit[:12]}, the version was made at "
            f"{original.git_commit[:12]}: the current code is used"
        )
    if dirty:
        outcome.warnings.append("the work tree has uncommitted changes")
    for name in outcome.steps:
        before = recorded.get(name)
        if before is None:
            raise InvalidInput(f"pipeline run {original.id} has no record of step {name!r}")
        before_code = yard.runs.get(before.run_id).tags.get(TAG_CODE)
        if before_code and before_code != graph.node(name).step.code_digest:
            outcome.changed_code.append(name)
    if outcome.changed_code:
        outcome.warnings.append(f"step code changed since: {', '.join(outcome.changed_code)}")
    if console is not None:
        console.print(
            f"[bold]reproduce {version.ref}[/bold] from pipeline run {original.id[:12]} "
            f"({reference}); re-running {', '.join(outcome.steps)} without the cache",
            highlight=False,
        )
        for warning in outcome.warnings:
            console.print(f"  [yellow]warning:[/yellow] {warning}", highlight=False)
    run = run_pipeline(
        yard,
        flow,
        params,
        use_cache=False,
        only=targets,
        reference=reference,
        tags={TAG_REPRODUCE_OF: version.ref},
        console=console,
    )
    outcome.reproduction_run = run.run_id
    outcome.failed = {n: run.steps[n].error or "" for n in run.failed}
    for name in outcome.steps:
        again = run.steps[name]
        before = recorded[name]
        if not again.ok or again.run_id is None:
            continue
        old_metrics = yard.runs.get(before.run_id).metrics
        new_metrics = yard.runs.get(again.run_id).metrics
        for key in sorted((set(old_metrics) | set(new_metrics)) - IGNORED_METRICS):
            a, b = old_metrics.get(key), new_metrics.get(key)
            outcome.metrics.append(MetricCheck(name, key, a, b, _close(a, b, tolerance)))
        for output, doc in (before.outputs or {}).items():
            if doc.get("t") == "run":
                continue  # a re-run is a new run by definition
            outcome.outputs[f"{name}.{output}"] = doc == again.encoded.get(output)
    return outcome
