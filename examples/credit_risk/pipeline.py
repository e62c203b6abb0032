"""Credit risk, from data to a deployed champion, as one Modelyard pipeline.

    synthetic data → split → train LightGBM → evaluate → register → validation report
    and model card → gates → sign-off requested → champion (or challenger) → endpoint routes

The pipeline never signs off: a validator and an approver do, each with their
own token (``modelyard models approve credit-risk/N --role validator``). A
version still awaiting them is not promoted; the next run after they have
signed promotes it (that step is never cached).

Run it locally (a second run re-runs nothing; change a parameter and only
the steps downstream of it run again)::

    modelyard pipeline run examples/credit_risk/pipeline.py:train --param rows=20000

Retrain on drifted data; the new version must not be worse than the
champion re-scored on the same new holdout, and becomes the challenger on a
10% canary::

    modelyard pipeline run examples/credit_risk/pipeline.py:train \\
        --param scenario=concept_drift --param start_date=2026-04-01 --param seed=7

Export it for Kubeflow Pipelines / Vertex AI: see README.md next to this file.
"""

from __future__ import annotations

from typing import Any

from modelyard.data import synthetic
from modelyard.demo.credit_models import lightgbm_pipeline, logistic_pipeline, split_xy
from modelyard.errors import InvalidInput
from modelyard.metrics import binary_classification_metrics
from modelyard.pipelines import pipeline, step, step_context
from modelyard.pipelines.actions import (
    check_gates,
    promote,
    register_version,
    request_approval,
    route_traffic,
    validate_version,
)
from modelyard.pipelines.gates import fairness, non_inferior, quality_pass, stability, threshold

MODEL = "credit-risk"


@step
def make_data(rows: int, seed: int, scenario: str = "none", start_date: str = "2026-01-01") -> Any:
    """Synthesise loan applications and register them as a dataset version."""
    ctx = step_context()
    frame = synthetic.generate(rows, seed=seed, scenario=scenario, start_date=start_date)
    return ctx.yard.datasets.register(
        "loan-applications",
        frame,
        description=f"Synthetic loan applications from {start_date} ({scenario})",
        run=ctx.run.id,
    )


@step(outputs=("train", "holdout"))
def split(data: Any, holdout_share: float = 0.25) -> tuple[Any, Any]:
    """Out-of-time split: the latest ``holdout_share`` of applications is the holdout."""
    ctx = step_context()
    frame = ctx.yard.datasets.load(data)
    cutoff = frame["application_date"].quantile(1 - holdout_share)
    train = frame[frame["application_date"] < cutoff]
    holdout = frame[frame["application_date"] >= cutoff]
    datasets = ctx.yard.datasets
    return (
        datasets.register("loans-train", train, parents=[data], run=ctx.run.id),
        datasets.register("loans-holdout", holdout, parents=[data], run=ctx.run.id),
    )


@step(outputs=("model", "run"))
def fit(
    train: Any,
    num_leaves: int = 15,
    n_estimators: int = 100,
    learning_rate: float = 0.05,
    algorithm: str = "lightgbm",
) -> tuple[Any, Any]:
    """Train the LightGBM pipeline (one thread: faster on small, busy machines), or the
    scorecard-style logistic regression when exploration found it better."""
    ctx = step_context()
    x, y = split_xy(ctx.yard.datasets.load(train))
    if algorithm == "logistic":
        ctx.run.log_params({"model": "logreg", "C": 1.0})
        model = logistic_pipeline(c=1.0).fit(x, y)
    elif algorithm == "lightgbm":
        params = {
            "num_leaves": num_leaves,
            "n_estimators": n_estimators,
            "learning_rate": learning_rate,
        }
        ctx.run.log_params({"model": "lightgbm", "n_jobs": 1, **params})
        model = lightgbm_pipeline(**params).fit(x, y)
    else:
        raise InvalidInput(f"algorithm must be 'lightgbm' or 'logistic'; got {algorithm!r}")
    train_metrics = binary_classification_metrics(y, model.predict_proba(x)[:, 1])
    ctx.run.log_metrics({f"train_{k}": v for k, v in train_metrics.items()})
    return model, ctx.run.info()


@step
def evaluate(model: Any, holdout: Any) -> dict[str, float]:
    """Holdout discrimination and calibration (logged as this step's metrics)."""
    x, y = split_xy(step_context().yard.datasets.load(holdout))
    return binary_classification_metrics(y, model.predict_proba(x)[:, 1])


@step
def gates(version: Any, holdout: Any, min_auc: float = 0.70, margin: float = 0.005) -> Any:
    """The promotion gates: absolute AUC, non-inferiority to the champion on this holdout,
    the four-fifths rule across home ownership, clean data and stable scores."""
    return check_gates(
        version,
        holdout,
        gates=[
            threshold("auc", ">=", min_auc),
            non_inferior("auc", margin=margin),
            fairness("approval_rate_ratio", ">=", 0.8),
            quality_pass(),
            stability("psi_scores", "<=", 0.1),
        ],
    )


@pipeline(name="credit-risk-train")
def train(
    rows: int = 20_000,
    seed: int = 2026,
    scenario: str = "none",
    start_date: str = "2026-01-01",
    holdout_share: float = 0.25,
    num_leaves: int = 15,
    n_estimators: int = 100,
    learning_rate: float = 0.05,
    algorithm: str = "lightgbm",
    min_auc: float = 0.70,
    margin: float = 0.005,
    endpoint: str = MODEL,
    canary_weight: float = 10.0,
) -> None:
    """Train, validate, gate, request sign-off and deploy the credit-risk model."""
    data = make_data(rows, seed, scenario, start_date)
    train_set, holdout = split(data, holdout_share)
    fitted = fit(train_set, num_leaves, n_estimators, learning_rate, algorithm)
    metrics = evaluate(fitted["model"], holdout)
    version = register_version(
        fitted["model"],
        name=MODEL,
        run=fitted["run"],
        example=train_set,
        features=list(synthetic.FEATURES),
        target=synthetic.TARGET,
        metrics=metrics,
    )
    validated = validate_version(
        version, holdout, fairness_attribute="home_ownership", segment_by=["term"]
    )
    passed = gates(validated["version"], holdout, min_auc, margin)
    request_approval(passed)
    promoted = promote(passed)
    route_traffic(
        promoted["version"],
        promoted["alias"],
        endpoint=endpoint,
        mode="canary",
        weight=canary_weight,
    )
