"""The quickstart's lifecycle stages, built on the example pipeline (``examples/credit_risk``).

Three calls, each printing what it does and returning a plain dict for the
summary table:

- ``run_training_pipeline``: the pipeline from synthetic data to a version
  awaiting sign-off; the demo's validator and approver sign it with their own
  tokens (``people.DemoCast``), and the next run of the pipeline (every step
  cached but the promotion) makes it the champion behind the ``credit-risk``
  endpoint;
- ``run_retraining``: the same pipeline, started by a trigger (a monitoring
  alert) on fresh, drifted data; its candidate must pass the gates —
  non-inferiority against the champion re-scored on the new holdout — and
  becomes the challenger on a 10% canary;
- ``decide_promotion``: DeLong's test on labelled online traffic decides
  whether the challenger replaces the champion.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInput, NotFound
from modelyard.pipelines import load_pipeline
from modelyard.pipelines.actions import decide_promotion as _decide
from modelyard.pipelines.runner import TAG_TRIGGER, PipelineRun, run_pipeline
from modelyard.pipelines.triggers import on_alert, registry_for, trigger

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from modelyard.demo.people import DemoCast
    from modelyard.yard import Yard

__all__ = [
    "RETRAIN_PIPELINE",
    "decide_promotion",
    "describe_alert",
    "example_reference",
    "register_retraining",
    "run_retraining",
    "run_training_pipeline",
]

MODEL = "credit-risk"
RETRAIN_PIPELINE = "credit-risk-retrain"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit_risk" / "pipeline.py"


def example_reference() -> str:
    """``FILE:FUNCTION`` of the example pipeline in this checkout."""
    if not EXAMPLE.is_file():
        raise NotFound(
            f"the example pipeline {EXAMPLE} is missing; the quickstart runs from a clone of "
            "the Modelyard repository (pip install -e .)"
        )
    return f"{EXAMPLE}:train"


def _step_output(run: PipelineRun, step: str, name: str | None = None) -> Any:
    result = run.steps.get(step)
    return run.output(step, name) if result is not None and result.ok else None


def _gates(yard: Yard, run: PipelineRun) -> list[str]:
    """The gate verdicts recorded on the run's ``gates`` step (passed or not)."""
    result = run.steps.get("gates")
    if result is None or result.run_id is None:
        return []
    tags = yard.runs.get(result.run_id).tags
    return [
        f"{k.removeprefix('gate.')}: {v}" for k, v in sorted(tags.items()) if k.startswith("gate.")
    ]


def _summary(yard: Yard, run: PipelineRun) -> dict[str, Any]:
    version = _step_output(run, "promote", "version")
    registered = _step_output(run, "register-version")
    summary: dict[str, Any] = {
        "ok": run.ok,
        "run_id": run.run_id,
        "params": run.params,
        "seconds": round(run.seconds, 1),
        "executed": run.executed,
        "cached": run.cached,
        "candidate": registered.ref if registered is not None else None,
        "version": version.ref if version is not None else None,
        "alias": _step_output(run, "promote", "alias"),
        "metrics": _step_output(run, "evaluate") or {},
        "gates": _gates(yard, run),
        "routes": _step_output(run, "route-traffic"),
        "reports": {},
        "error": None if run.ok else run.failure_message(),
    }
    if run.steps.get("validate-version") is not None and run.steps["validate-version"].ok:
        report = run.output("validate-version", "report")
        summary["reports"]["validation report"] = str(Path(report).resolve())
        card = run.output("validate-version", "card")
        if card:
            summary["reports"]["model card"] = str(Path(card).resolve())
    return summary


def _print(console: Console, summary: dict[str, Any]) -> None:
    for line in summary["gates"]:
        console.print(f"  gate {line}", highlight=False)
    if summary["ok"] and not summary["alias"]:
        console.print(f"  {summary['candidate']} awaits sign-off: not promoted", highlight=False)
    elif summary["ok"]:
        auc = summary["metrics"].get("auc")
        console.print(
            f"  {summary['version']} is now [bold]{MODEL}@{summary['alias']}[/bold]"
            + (f" (holdout AUC {auc:.4f})" if auc is not None else ""),
            highlight=False,
        )
        routes = summary["routes"] or {}
        if "skipped" in routes:
            console.print(f"  endpoint not updated: {routes['skipped']}", highlight=False)
        elif routes:
            spec = routes["spec"]
            shown = ", ".join(f"{r['name']} {r.get('weight', 100):g}%" for r in spec["routes"])
            console.print(f"  endpoint {routes['endpoint']}: {shown}", highlight=False)
    else:
        console.print(f"  [red]stopped[/red]: {summary['error']}", highlight=False)
    for what, path in summary["reports"].items():
        console.print(f"  {what}: {path}", highlight=False)


def run_training_pipeline(
    cast: DemoCast, console: Console, rows: int = 20_000, **params: Any
) -> dict[str, Any]:
    """Run the example pipeline, have people sign its version, run it again to a champion."""
    yard = cast.yard
    reference = example_reference()
    pipe = load_pipeline(reference)
    values = {"rows": rows, **params}
    run = run_pipeline(yard, pipe, values, console=console, reference=reference)
    summary = _summary(yard, run)
    if _awaits_sign_off(yard, summary):
        console.print(
            f"  {summary['candidate']} awaits sign-off: the pipeline requested it, people sign",
            highlight=False,
        )
        cast.sign_off(summary["candidate"], console)
        console.print("  the pipeline again: every step cached but the promotion", highlight=False)
        first = summary
        run = run_pipeline(yard, pipe, values, console=console, reference=reference)
        summary = _summary(yard, run)
        summary["seconds"] = round(first["seconds"] + summary["seconds"], 1)
        summary["gates"] = summary["gates"] or first["gates"]  # cached: verdicts of the first
    _print(console, summary)
    return summary


def _awaits_sign_off(yard: Yard, summary: Mapping[str, Any]) -> bool:
    candidate = summary.get("candidate")
    return bool(summary["ok"] and candidate and yard.models.missing_sign_offs(candidate))


def register_retraining(
    yard: Yard,
    *,
    rows: int = 20_000,
    scenario: str = "concept_drift",
    start_date: str = "2026-04-01",
    seed: int = 7,
    **params: Any,
) -> None:
    """Name the retraining pipeline and have alerts on ``credit-risk`` start it.

    The parameters describe the fresh labelled data it trains on (the demo
    draws it from the synthetic generator with the drift that was observed).
    """
    registry_for(yard).register(
        RETRAIN_PIPELINE,
        example_reference(),
        params={
            "rows": rows,
            "scenario": scenario,
            "start_date": start_date,
            "seed": seed,
            **params,
        },
        on_alert=[MODEL],
        description="Retrain credit-risk on fresh data when monitoring raises an alert",
    )


def run_retraining(
    cast: DemoCast,
    console: Console,
    reason: str = "manual",
    *,
    alert: Any = None,
    **params: Any,
) -> dict[str, Any]:
    """Retrain through a trigger: an alert record/mapping (``alert=``) or a plain ``reason``.

    The candidate becomes the challenger on a canary only if it passes the
    gates; sign-offs still stand between it and the champion alias, and the
    demo's validator and approver give them with their own tokens, so that a
    promotion decision may later make it the champion. Keyword ``params``
    (rows, scenario, start_date, seed, ...) set up the named retraining
    pipeline first.
    """
    yard = cast.yard
    named = registry_for(yard).load()
    if params or RETRAIN_PIPELINE not in named:
        register_retraining(yard, **params)
    if alert is not None:
        runs = on_alert(yard, alert, console=console)
        run = runs[0] if runs else _retrain_again(yard, console, alert)
    else:
        run = trigger(yard, RETRAIN_PIPELINE, reason=reason, console=console)
    summary = _summary(yard, run)
    summary["reason"] = yard.runs.get(run.run_id).tags.get(TAG_TRIGGER)
    _print(console, summary)
    if summary["alias"] and _awaits_sign_off(yard, summary):
        console.print(
            f"  {summary['candidate']} is only the challenger; people sign it off so that a "
            "promotion decision may make it the champion",
            highlight=False,
        )
        cast.sign_off(summary["candidate"], console)
    return summary


def _field(alert: Any, name: str) -> Any:
    return alert.get(name) if isinstance(alert, Mapping) else getattr(alert, name, None)


def describe_alert(alert: Any) -> str:
    """``alert 3 (feature-drift on credit-risk/1, firing)``: an alert record or mapping."""
    model = _field(alert, "model_name") or _field(alert, "model") or "?"
    version = _field(alert, "model_version")
    subject = f"{model}/{version}" if version is not None else str(model)
    status = _field(alert, "status")
    alert_id = _field(alert, "id") or _field(alert, "fingerprint") or "?"
    rule = _field(alert, "rule") or "no rule"
    return f"alert {alert_id} ({rule} on {subject}{f', {status}' if status else ''})"


def _retrain_again(yard: Yard, console: Console, alert: Any) -> PipelineRun:
    """The alert started no pipeline: say why, and retrain anyway when it was already handled.

    A trigger starts a pipeline once per alert; an alert still firing in a
    later window (the quickstart run again on the same store) keeps its id,
    so the earlier retraining is not repeated for it. The demo retrains
    anyway, naming the reason, so that every run of it plays every stage.
    """
    model = str(_field(alert, "model_name") or _field(alert, "model"))
    described = describe_alert(alert)
    if not registry_for(yard).for_alert(model, str(_field(alert, "rule") or "")):
        raise InvalidInput(
            f"no retraining pipeline listens to {described}: name one with "
            f"'modelyard pipeline register NAME FILE:FUNCTION --on-alert {model}'"
        )
    console.print(
        f"  {described} already started a retraining and still fires: "
        "the quickstart retrains again",
        highlight=False,
    )
    reason = f"quickstart: {described} still firing"
    return trigger(yard, RETRAIN_PIPELINE, reason=reason, console=console)


def decide_promotion(
    yard: Yard,
    console: Console,
    labelled_frame_or_window: pd.DataFrame | Mapping[str, Any] | tuple[Any, Any],
    *,
    model: str = MODEL,
    endpoint: str | None = None,
    margin: float = 0.01,
    alpha: float = 0.05,
    min_labels: int = 200,
) -> dict[str, Any]:
    """Decide on the challenger from labelled traffic (a frame, or a window of the logs).

    A frame has ``arm`` (champion / challenger), ``score`` and ``label``; a
    window is ``(since, until)`` or ``{"since": ..., "until": ...}`` over the
    endpoint's prediction log joined to its feedback. The decision is a
    tracked run (experiment ``credit-risk-promotion``) and an audit event.
    """
    import pandas as pd

    labelled = None
    since = until = None
    if isinstance(labelled_frame_or_window, pd.DataFrame):
        labelled = labelled_frame_or_window
    elif isinstance(labelled_frame_or_window, Mapping):
        since, until = labelled_frame_or_window.get("since"), labelled_frame_or_window.get("until")
    elif isinstance(labelled_frame_or_window, tuple) and len(labelled_frame_or_window) == 2:
        since, until = labelled_frame_or_window
    else:
        raise InvalidInput("give a labelled frame (arm, score, label) or a (since, until) window")
    with yard.start_run(experiment=f"{model}-promotion", name="promotion-decision") as run:
        figures = _decide(
            yard,
            model,
            labelled,
            endpoint=endpoint,
            since=since,
            until=until,
            margin=margin,
            alpha=alpha,
            min_labels=min_labels,
            run=run,
        )
    figures["run_id"] = run.id
    colour = "green" if figures["decision"] == "promote" else "yellow"
    console.print(
        f"  decision: [{colour}]{figures['decision']}[/{colour}] — {figures['reason']}",
        highlight=False,
    )
    if figures.get("new_champion"):
        console.print(f"  {figures['new_champion']} is now {model}@champion", highlight=False)
    return figures
