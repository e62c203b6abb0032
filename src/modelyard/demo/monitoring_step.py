"""The monitoring step of the demo: drifted traffic to the champion, then the monitor.

``run_monitoring_demo`` serves the champion in-process (the real serving app, its
prediction log included), sends it loan applications from the synthetic generator's
``income_shift`` scenario — incomes about 20% lower, so debt-to-income about 25%
higher — and their outcomes through ``POST /v1/feedback``, then runs the monitor over
exactly that window of the log. It prints which features drifted, the data-quality
verdict, realised against estimated performance and the alerts raised, writes the
HTML report, and returns the alerts with the one whose rule would start retraining.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rich.console import Console

from modelyard.errors import IntegrityError

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.yard import Yard

__all__ = ["DEMO_RULES", "RETRAIN_RULE", "run_monitoring_demo"]

RETRAIN_RULE = "feature-drift"
# The rule that would start retraining names it with trigger_pipeline; the demo runs
# with triggers off and hands the alert back, so the quickstart decides when to retrain.
DEMO_RULES = f"""
rules:
  - name: {RETRAIN_RULE}
    check: drift.count
    threshold: 0
    severity: warning
    cooldown: 1d
    trigger_pipeline: true
  - name: data-quality
    check: quality.errors
    threshold: 0
    severity: critical
  - name: score-drift
    check: score_psi
    threshold: 0.2
  - name: auc-drop
    check: performance.auc_drop
    threshold: 0.03
    severity: critical
    cooldown: 1d
  - name: calibration
    check: performance.calibration_error_drop
    threshold: 0.03
    severity: critical
    cooldown: 1d
"""
BATCH = 100


def _send(
    yard: Yard,
    target: str,
    name: str,
    frame: pd.DataFrame,
    inputs: list[str],
    target_column: str | None,
) -> tuple[int, int]:
    """Score ``frame`` through the serving app in-process; returns (rows, labels) sent."""
    import httpx

    from modelyard.serving import ServingConfig, create_app

    features = frame[inputs]
    app = create_app(target, yard=yard, config=ServingConfig.build(poll_interval_s=0))

    async def traffic() -> tuple[int, int]:
        await app.runtime.astart()
        rows = labelled = 0
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
                for start in range(0, len(frame), BATCH):
                    part = features.iloc[start : start + BATCH]
                    response = await client.post(
                        f"/v1/models/{name}/predict", json={"records": part.to_dict("records")}
                    )
                    if response.status_code != 200:
                        raise IntegrityError(f"scoring failed: {response.text[:300]}")
                    rows += len(part)
                    if target_column is None or target_column not in frame.columns:
                        continue
                    request_id = response.json()["request_id"]
                    outcomes = frame[target_column].iloc[start : start + BATCH].tolist()
                    labels = [
                        {"request_id": request_id, "row": i, "label": int(v)}
                        for i, v in enumerate(outcomes)
                    ]
                    sent = await client.post("/v1/feedback", json={"labels": labels})
                    if sent.status_code != 200:
                        raise IntegrityError(f"feedback failed: {sent.text[:300]}")
                    labelled += len(labels)
        finally:
            await app.runtime.aclose()  # writes every queued prediction and label
        return rows, labelled

    return asyncio.run(traffic())


def run_monitoring_demo(
    yard: Yard,
    console: Console | None = None,
    ref: str = "credit-risk@champion",
    endpoint: str | None = None,
    drifted_frame: pd.DataFrame | None = None,
    *,
    rows: int = 3_000,
    scenario: str = "income_shift",
    send_labels: bool = True,
    seed: int = 2_027,
) -> dict[str, Any]:
    """Send drifted traffic to ``ref`` (or the deployment ``endpoint``), monitor it, report.

    Returns a plain dict: the window, drifted features (and the scenario's), quality
    errors, realised and estimated AUC, the alerts firing after this run (``alerts``,
    each with ``action``: "raised" when new and notified, "repeated" when an earlier
    one within its cooldown was counted again), the alert of ``RETRAIN_RULE``
    (``retrain_alert``, to pass to ``run_retraining(alert=...)``) and the report's paths.
    """
    from modelyard.data import synthetic

    console = console or Console()
    info = yard.models.get(ref)
    reference = yard.monitors.reference(info.ref)
    console.print(
        f"  reference of {info.ref}: {reference.profile.rows:,} rows of "
        f"{reference.source.get('ref') or reference.source.get('kind')}, "
        f"calibration {reference.calibration.method}, baseline "
        f"{reference.baseline.get('source', 'none')}",
        highlight=False,
    )
    if drifted_frame is None:
        drifted_frame = synthetic.generate(rows, seed=seed, scenario=scenario)
    target = reference.target if send_labels else None
    started = datetime.now(UTC) - timedelta(seconds=1)
    clock = time.perf_counter()
    sent, labelled = _send(
        yard, endpoint or ref, endpoint or info.name, drifted_frame, reference.features, target
    )
    console.print(
        f"  sent {sent:,} {scenario} applications to {endpoint or info.name} "
        f"({labelled:,} outcomes as feedback) in {time.perf_counter() - clock:.1f} s",
        highlight=False,
    )
    result = yard.monitors.run(
        info.ref,
        endpoint=endpoint or info.name,
        since=started,
        until=datetime.now(UTC) + timedelta(seconds=1),
        rules=DEMO_RULES,
        triggers=False,
        console=console,
    )
    for line in result.describe():
        console.print(line, highlight=False, markup=False)
    report = yard.monitors.report(info.ref)
    drifted = result.drifted_features()
    console.print(
        f"  drifted features: [bold]{', '.join(drifted) or 'none'}[/bold]", highlight=False
    )
    console.print(f"  monitoring report: {report}", highlight=False)
    firing = [
        {**e.alert.to_dict(), "action": e.action}
        for e in result.alerts
        if e.alert is not None and e.outcome.fired
    ]
    retrain = next((a for a in firing if a["rule"] == RETRAIN_RULE), None)
    if retrain is not None:
        console.print(
            f"  alert {retrain['id']} ({RETRAIN_RULE}) is the one that would start retraining",
            highlight=False,
        )
    expected = list(synthetic.SCENARIOS[scenario].drifted_features) if scenario else []
    return {
        "ref": info.ref,
        "endpoint": endpoint or info.name,
        "scenario": scenario,
        "rows": result.rows,
        "labelled": labelled,
        "window": result.window.to_dict(),
        "drifted_features": drifted,
        "expected_drifted": expected,
        "quality_errors": [i.to_dict() for i in result.quality.errors()] if result.quality else [],
        "auc": (result.performance or {}).get("metrics", {}).get("auc"),
        "estimated_auc": (result.estimated or {}).get("metrics", {}).get("auc"),
        "alerts": firing,
        "retrain_rule": RETRAIN_RULE,
        "retrain_alert": retrain,
        "report": str(report),
        "report_json": str(report.with_name("monitoring.json")),
    }
