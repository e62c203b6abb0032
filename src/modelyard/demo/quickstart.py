"""The platform's main job end to end on the embedded default (``make demo``).

0. People: the acting user (first admin of a fresh store, and developer), a
   validator and an approver, each acting with a token of their own.
1. Data: synthetic loan applications, registered with an out-of-time split.
2. Exploration: a logistic regression and a LightGBM model as two tracked runs,
   compared side by side.
3. Production pipeline: the better algorithm goes through the example
   pipeline (``examples/credit_risk``): register, validation report and model
   card, gates, sign-off requested; the validator and the approver sign with
   their tokens (four-eyes; the pipeline never signs), and the next run of the
   pipeline makes the version champion.
4. Serving: the champion behind a real server, called through the V2 and
   plain APIs, answers checked, prediction log flushed.
5. Batch: a one-million-loan portfolio scored by the champion.
6. Monitoring: drifted traffic to the served champion; drift detected, an
   alert raised.
7. Retraining: the alert triggers the pipeline on fresh data; the candidate
   passes the gates and becomes the challenger on a 10% canary.
8. Promotion: a statistical test on labelled traffic decides whether the
   challenger replaces the champion.

Each stage prints what it did; the run ends with a summary table and the path
of every report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from modelyard.data import synthetic
from modelyard.demo.credit_models import lightgbm_pipeline, logistic_pipeline, split_xy
from modelyard.demo.people import DemoCast, enrol
from modelyard.metrics import binary_classification_metrics
from modelyard.yard import Yard

EXPERIMENT = "credit-risk-exploration"
MODEL_NAME = "credit-risk"
SEED = 2026
LGBM_PARAMS = {"num_leaves": 15, "n_estimators": 100, "learning_rate": 0.05}
DRIFT_SCENARIO = "income_shift"
DRIFT_START, DRIFT_ROWS = "2026-04-01", 3_000
RETRAIN_ROWS = 20_000
LABELLED_START, LABELLED_ROWS = "2026-05-01", 20_000
PEOPLE_STAGE = "0. People: a registrant, a validator and an approver, each with a token"


@dataclass
class QuickstartResult:
    dataset_refs: dict[str, str] = field(default_factory=dict)
    run_ids: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    best: str = ""
    champion: str = ""
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    reports: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    cast: DemoCast | None = None  # the people and the Yards they act with


def _explore(
    yard: Yard, result: QuickstartResult, train: Any, holdout: Any, console: Console
) -> None:
    train_frame, holdout_frame = yard.datasets.load(train), yard.datasets.load(holdout)
    x_train, y_train = split_xy(train_frame)
    x_hold, y_hold = split_xy(holdout_frame)
    candidates = {
        "logistic": (logistic_pipeline(c=1.0), {"model": "logreg", "C": 1.0}),
        "lightgbm": (lightgbm_pipeline(**LGBM_PARAMS), {"model": "lgbm", **LGBM_PARAMS}),
    }
    for name, (model, params) in candidates.items():
        with yard.start_run(experiment=EXPERIMENT, name=name) as run:
            run.log_input(train, role="training")
            run.log_input(holdout, role="holdout")
            run.log_params(params)
            model.fit(x_train, y_train)
            metrics = binary_classification_metrics(y_hold, model.predict_proba(x_hold)[:, 1])
            run.log_metrics(metrics)
        result.run_ids[name], result.metrics[name] = run.id, metrics
        console.print(
            f"  run {run.id[:8]} {name:<10} "
            f"holdout AUC {metrics['auc']:.4f}  KS {metrics['ks']:.4f}"
        )
    result.best = max(result.metrics, key=lambda n: result.metrics[n]["auc"])
    comparison = yard.runs.compare(list(result.run_ids.values()))
    grid = Table(header_style="bold")
    grid.add_column("")
    for run in comparison["runs"]:
        grid.add_column(f"{run['name']} ({run['id'][:8]})", justify="right")
    for key in ("auc", "gini", "ks", "brier", "log_loss"):
        grid.add_row(key, *(f"{v:.4f}" for v in comparison["metrics"][key]))
    for key, values in comparison["params"].items():
        grid.add_row(f"param {key}", *("-" if v is None else str(v) for v in values))
    console.print(grid)
    console.print(f"  better by holdout AUC: [bold]{result.best}[/bold]")


def _stage(console: Console, title: str) -> float:
    console.rule(f"[bold]{title}")
    return time.perf_counter()


def _summary(console: Console, result: QuickstartResult) -> None:
    console.rule("[bold]Summary")
    grid = Table(header_style="bold")
    grid.add_column("stage")
    grid.add_column("outcome")
    grid.add_column("seconds", justify="right")
    for stage, info in result.stages.items():
        grid.add_row(stage, str(info.get("outcome", "")), f"{info.get('seconds', 0):.1f}")
    console.print(grid)
    if result.reports:
        paths = Table(header_style="bold")
        paths.add_column("report", no_wrap=True)
        paths.add_column("path", overflow="fold")
        for name, path in result.reports.items():
            paths.add_row(name, path)
        console.print(paths)


def run_quickstart(
    yard: Yard,
    *,
    rows: int = 20_000,
    portfolio_rows: int = 1_000_000,
    console: Console | None = None,
    workdir: Path | None = None,
    full: bool = False,
    cast: DemoCast | None = None,
) -> QuickstartResult:
    """Play the lifecycle on ``yard``; prints progress to ``console``.

    Stages 1-3 (data to a signed-off champion) always run; ``full`` adds
    serving, batch, monitoring, retraining and the promotion decision (what
    ``modelyard quickstart`` runs). ``cast`` is the demo's people when the
    caller enrolled them already (``people.enrol``); by default they are
    enrolled first, and ``result.cast.yard`` is the Yard that acted.
    """
    from modelyard.demo import lifecycle_step

    console = console or Console()
    workdir = workdir or yard.settings.home / "demo"
    started = time.perf_counter()
    result = QuickstartResult()

    if cast is None:
        _stage(console, PEOPLE_STAGE)
        cast = enrol(yard, console)
    result.cast, yard = cast, cast.yard

    t0 = _stage(console, "1. Data")
    frame = synthetic.generate(rows, seed=SEED)
    applications = yard.datasets.register("loan-applications", frame)
    cutoff = frame["application_date"].quantile(0.75)
    train = yard.datasets.register(
        "loans-train", frame[frame["application_date"] < cutoff], parents=[applications]
    )
    holdout = yard.datasets.register(
        "loans-holdout", frame[frame["application_date"] >= cutoff], parents=[applications]
    )
    for info in (applications, train, holdout):
        result.dataset_refs[info.name] = info.ref
        console.print(
            f"  dataset {info.ref:<22} {info.num_rows:>8,} rows  sha256:{info.short_digest}"
        )
    result.stages["data"] = {
        "outcome": f"{applications.ref}, split out of time",
        "seconds": time.perf_counter() - t0,
    }

    t0 = _stage(console, "2. Exploration: two tracked runs")
    _explore(yard, result, train, holdout, console)
    result.stages["exploration"] = {
        "outcome": f"{result.best} better (AUC {result.metrics[result.best]['auc']:.4f})",
        "seconds": time.perf_counter() - t0,
    }

    t0 = _stage(console, "3. Production pipeline: register, validate, gate, sign off, champion")
    trained = lifecycle_step.run_training_pipeline(
        cast, console, rows=rows, seed=SEED, algorithm=result.best
    )
    champion = yard.models.get(f"{MODEL_NAME}@champion")
    result.champion = champion.ref
    parity = yard.models.compile(champion.ref, data=yard.datasets.load(holdout))
    console.print(
        f"  ONNX compiled for serving: parity {'passed' if parity.passed else 'FAILED'} "
        f"(max |Δp| {parity.max_abs_diff:.1e} over {parity.rows} rows)"
    )
    card = yard.models.card(champion.ref)
    for name, path in (trained.get("reports") or {}).items():
        result.reports[name] = path
    result.reports["model card"] = str(card.markdown_path.resolve())
    result.reports["model card (HTML)"] = str(card.html_path.resolve())
    console.print(f"  model card (Markdown): {card.markdown_path}")
    audit = yard.audit.verify()
    console.print(f"  audit chain: {'intact' if audit.ok else 'BROKEN'} ({audit.events} events)")
    result.stages["pipeline"] = {
        "outcome": f"{champion.ref} champion ({champion.state}), signed off by "
        + ", ".join(sorted({a.user for a in champion.approvals})),
        "seconds": time.perf_counter() - t0,
        **{k: v for k, v in trained.items() if isinstance(v, str | int | float)},
    }

    if full:
        _later_stages(cast, result, console, holdout, portfolio_rows, workdir)

    result.seconds = time.perf_counter() - started
    _summary(console, result)
    console.print(
        f"  store: {yard.settings.describe()['store_url']}   done in {result.seconds:.1f} s"
    )
    return result


def _later_stages(
    cast: DemoCast,
    result: QuickstartResult,
    console: Console,
    holdout: Any,
    portfolio_rows: int,
    workdir: Path,
) -> None:
    """Serving, batch, monitoring, retraining and promotion."""
    yard = cast.yard
    from modelyard.demo.batch_step import run_batch_demo
    from modelyard.demo.serving_step import run_serving_demo

    ref = f"{MODEL_NAME}@champion"
    holdout_frame: pd.DataFrame = yard.datasets.load(holdout)

    t0 = _stage(console, "4. Serving")
    served = run_serving_demo(yard, console, ref, holdout_frame[list(synthetic.FEATURES)])
    p99 = max((v.get("p99_ms", 0) for v in served.values() if isinstance(v, dict)), default=0)
    result.stages["serving"] = {
        "outcome": f"{served['requests']} requests (V2 + plain API), answers checked, "
        f"p99 {p99:.1f} ms, {served['logged_rows']} rows logged; first prediction "
        f"{served['first_prediction_s']:.1f} s after launch",
        "seconds": time.perf_counter() - t0,
    }

    t0 = _stage(console, "5. Batch scoring")
    scored = run_batch_demo(yard, console, ref, rows=portfolio_rows, workdir=workdir / "batch")
    result.stages["batch"] = {
        "outcome": f"{scored['rows_scored']:,} of {scored['rows']:,} loans scored at "
        f"{scored['rows_per_s']:,.0f} rows/s ({scored['form']} form), "
        f"{scored['rows_rejected']} rejected with reasons",
        "seconds": time.perf_counter() - t0,
    }

    from modelyard.demo import lifecycle_step
    from modelyard.demo.monitoring_step import run_monitoring_demo

    t0 = _stage(console, f"6. Monitoring: drifted traffic ({DRIFT_SCENARIO}) to the champion")
    drifted = synthetic.generate(
        DRIFT_ROWS, seed=SEED + 1, scenario=DRIFT_SCENARIO, start_date=DRIFT_START
    )
    monitored = run_monitoring_demo(
        yard, console, ref=ref, endpoint=MODEL_NAME, drifted_frame=drifted
    )
    alerts = list(monitored.get("alerts") or [])
    for key in ("report", "report_path", "html"):
        if monitored.get(key):
            result.reports["monitoring report"] = str(Path(monitored[key]).resolve())
            break
    drifted_features = monitored.get("drifted_features") or []
    result.stages["monitoring"] = {
        "outcome": f"drift in {', '.join(drifted_features) or 'no feature'}; "
        f"{len(alerts)} alert(s) raised",
        "seconds": time.perf_counter() - t0,
    }

    t0 = _stage(console, "7. Retraining, triggered by the drift alert")
    retrain_params = {
        "rows": RETRAIN_ROWS,
        "scenario": DRIFT_SCENARIO,
        "start_date": DRIFT_START,
        "seed": SEED + 2,
        "algorithm": result.best,
    }
    if alerts:
        retrained = lifecycle_step.run_retraining(cast, console, alert=alerts[0], **retrain_params)
    else:
        retrained = lifecycle_step.run_retraining(
            cast, console, reason="quickstart: no alert fired", **retrain_params
        )
    challenger = _alias_ref(yard, "challenger") if retrained.get("ok") else None
    for name, path in (retrained.get("reports") or {}).items():
        result.reports[f"retrained {name}"] = path
    candidate = retrained.get("candidate") or "no candidate"
    result.stages["retraining"] = {
        "outcome": f"{candidate}: challenger on a 10% canary"
        if challenger
        else f"{candidate} stopped: {retrained.get('error') or 'gates failed'}",
        "seconds": time.perf_counter() - t0,
    }

    t0 = _stage(console, "8. Promotion decision on labelled traffic")
    if challenger:
        labelled = _labelled_traffic(yard, challenger)
        decision = lifecycle_step.decide_promotion(yard, console, labelled)
        result.champion = yard.models.get(f"{MODEL_NAME}@champion").ref
        result.stages["promotion"] = {
            "outcome": f"{decision.get('decision', decision.get('outcome', '?'))}; "
            f"champion now {result.champion}",
            "seconds": time.perf_counter() - t0,
        }
    else:
        result.stages["promotion"] = {
            "outcome": "no challenger to decide on",
            "seconds": time.perf_counter() - t0,
        }


def _alias_ref(yard: Yard, alias: str) -> str | None:
    from modelyard.errors import NotFound

    try:
        return yard.models.get(f"{MODEL_NAME}@{alias}").ref
    except NotFound:
        return None


def _labelled_traffic(yard: Yard, challenger: str) -> pd.DataFrame:
    """Labelled applications after the drift, routed 90/10 as the canary splits traffic.

    Defaults are only known months after a loan is granted; the demo draws
    the matured outcomes from the generator's ground truth instead of waiting.
    """
    frame = synthetic.generate(
        LABELLED_ROWS, seed=SEED + 3, scenario=DRIFT_SCENARIO, start_date=LABELLED_START
    )
    arms = ["challenger" if i % 10 == 0 else "champion" for i in range(len(frame))]
    frame["arm"] = arms
    x = frame[list(synthetic.FEATURES)]
    scores = pd.Series(0.0, index=frame.index)
    for arm, ref in (("champion", f"{MODEL_NAME}@champion"), ("challenger", challenger)):
        mask = frame["arm"] == arm
        scores[mask] = yard.models.load(ref).predict_proba(x[mask])[:, 1]
    return pd.DataFrame({"arm": frame["arm"], "score": scores, "label": frame[synthetic.TARGET]})
