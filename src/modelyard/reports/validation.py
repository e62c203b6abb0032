"""The validation report of a binary credit-default model: figures, chart data and one HTML file.

``validate_model`` is a pure function of a scoring function, labelled data
and plain metadata, so the registry (``yard.models.validate``), the CLI and a
notebook all get the same report. It returns the headline figures (stored as
metrics of the model version), the data behind every chart (JSON-ready, for a
UI to redraw) and a self-contained HTML page: Plotly's bundle is embedded once
from the installed package, so the file opens offline, from an e-mail or an
audit archive, years later.

Conventions: the score is the probability of default (label 1); a score at or
above ``threshold`` declines the application, below it approves it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import InvalidInput
from modelyard.metrics import (
    binary_classification_metrics,
    calibration_bins,
    expected_calibration_error,
    psi_table,
)
from modelyard.reports import charts
from modelyard.reports._render import plotly_bundle, render
from modelyard.reports.fairness import FOUR_FIFTHS, SMALL_GROUP, fairness_table
from modelyard.reports.importance import feature_importance
from modelyard.reports.stats import (
    ks_curve,
    positive_scores,
    roc_curve_points,
    score_histogram,
    segment_table,
)

__all__ = ["SECTION_TITLES", "ValidationResult", "validate_model"]

SECTION_TITLES = {
    "summary": "Summary",
    "discrimination": "Discrimination",
    "calibration": "Calibration",
    "scores": "Score distribution",
    "stability": "Population stability",
    "segments": "Performance by segment",
    "fairness": "Fairness",
    "importance": "Feature importance",
    "method": "Method & limitations",
}
PSI_BINS = 10
CALIBRATION_BINS = 10
PSI_WATCH, PSI_ALERT = 0.1, 0.25


@dataclass(frozen=True)
class ValidationResult:
    """What a validation produces.

    Attributes:
        metrics: headline figures to store as metrics of the model version:
            ``auc``, ``gini``, ``ks``, ``brier``, ``log_loss``,
            ``calibration_error`` (expected calibration error over score
            deciles), ``accuracy``, ``precision``, ``recall`` and
            ``approval_rate`` at the threshold, ``psi_scores`` (only with
            reference data), ``approval_rate_ratio`` and ``tpr_gap`` (only with
            a fairness attribute, and only where defined), and the counts
            ``n_rows``, ``n_defaults``, ``default_rate``, ``mean_score``,
            ``n_reference_rows``.
        sections: the data behind each chart and table, JSON-serialisable
            (no NaN): ``meta``, ``roc``, ``ks``, ``calibration``,
            ``score_histogram``, ``psi``, ``segments``, ``fairness``,
            ``importance``.
        html: the complete, self-contained report page.
    """

    metrics: dict[str, float]
    sections: dict[str, Any]
    html: str


def validate_model(
    predict_proba: Callable[[pd.DataFrame], np.ndarray],
    data: pd.DataFrame,
    *,
    target: str,
    features: Sequence[str],
    model_name: str,
    version: int | str,
    reference_data: pd.DataFrame | None = None,
    reference_name: str | None = None,
    segment_by: Sequence[str] = (),
    fairness_attribute: str | None = None,
    threshold: float = 0.5,
    model_for_importance: Any = None,
    title: str | None = None,
    max_rows_for_importance: int = 2000,
    seed: int = 0,
) -> ValidationResult:
    """Score ``data``, measure the model and build the report.

    Args:
        predict_proba: scores a frame of ``features``; returns the probability
            of default per row (1-D, or 2-D whose last column is the default).
        data: labelled validation data (a holdout or out-of-time sample).
        target: the 0/1 label column, 1 = default.
        features: the columns ``predict_proba`` needs, in its order.
        model_name: shown in the header.
        version: shown in the header.
        reference_data: the training data; its scores are the baseline of the
            score PSI. Without it the stability section says so.
        reference_name: where ``reference_data`` came from (e.g. "training
            dataset loans-train/1"), shown with the PSI.
        segment_by: columns to break performance down by; numeric columns
            with many values are cut into quantile bands.
        fairness_attribute: the column to compare decisions across (need not
            be a feature).
        threshold: the decision cut-off on the probability of default.
        model_for_importance: the native model: TreeSHAP when it is a tree
            model (or a Pipeline ending in one), else permutation importance.
            None: permutation importance through ``predict_proba``.
        title: the page title; defaults to "Validation report: NAME vVERSION".
        max_rows_for_importance: the importance sample's size limit, which
            bounds its cost.
        seed: seeds the importance sample and permutations.

    Raises:
        InvalidInput: naming the column or parameter that is missing or wrong.
    """
    features = list(features)
    segment_by = [segment_by] if isinstance(segment_by, str) else list(segment_by)
    _check(data, target, features, reference_data, segment_by, fairness_attribute, threshold)
    _check_rows(max_rows_for_importance)

    y = data[target].to_numpy(dtype=np.int64)
    scores = positive_scores(predict_proba(data[features]), len(data))
    base = binary_classification_metrics(y, scores, threshold=threshold)
    ece = expected_calibration_error(y, scores, bins=CALIBRATION_BINS)
    metrics: dict[str, float] = {k: base[k] for k in ("auc", "gini", "ks", "brier", "log_loss")}
    metrics["calibration_error"] = ece
    metrics.update({k: base[k] for k in ("accuracy", "precision", "recall")})
    metrics["approval_rate"] = float(np.mean(scores < threshold))

    sections: dict[str, Any] = {
        "meta": {
            "title": title or f"Validation report: {model_name} v{version}",
            "model_name": str(model_name),
            "version": str(version),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "target": target,
            "features": features,
            "threshold": float(threshold),
            "rows": len(data),
        },
        "roc": roc_curve_points(y, scores),
        "ks": ks_curve(y, scores),
        "calibration": {
            "bins": calibration_bins(y, scores, bins=CALIBRATION_BINS),
            "brier": base["brier"],
            "ece": ece,
        },
        "score_histogram": score_histogram(y, scores),
        "psi": _stability(predict_proba, reference_data, reference_name, features, scores, metrics),
        "segments": segment_table(data, y, scores, segment_by),
        "fairness": _fairness(data, fairness_attribute, y, scores, threshold, metrics),
        "importance": feature_importance(
            data[features],
            y,
            model=model_for_importance,
            predict_proba=predict_proba,
            max_rows=max_rows_for_importance,
            seed=seed,
        ),
    }
    metrics.update(
        {
            "n_rows": float(len(y)),
            "n_defaults": float(y.sum()),
            "default_rate": base["positive_rate"],
            "mean_score": float(scores.mean()),
        }
    )
    return ValidationResult(metrics=metrics, sections=sections, html=_html(metrics, sections))


def _stability(
    predict_proba: Callable[[pd.DataFrame], np.ndarray],
    reference_data: pd.DataFrame | None,
    reference_name: str | None,
    features: list[str],
    scores: np.ndarray,
    metrics: dict[str, float],
) -> dict[str, Any]:
    """The score PSI section; adds ``psi_scores`` and ``n_reference_rows`` to ``metrics``."""
    if reference_data is None:
        return {
            "available": False,
            "reference": None,
            "note": "No training data is recorded for this version and none was given, so "
            "score stability was not measured: no reference (training) scores to compare "
            "with. Log the training dataset as an input of the training run, or pass "
            "reference=... ('modelyard models validate REF --reference DATASET').",
        }
    reference = positive_scores(predict_proba(reference_data[features]), len(reference_data))
    table = psi_table(reference, scores, bins=PSI_BINS)
    psi = float(sum(row["contribution"] for row in table))
    metrics["psi_scores"] = psi
    metrics["n_reference_rows"] = float(len(reference_data))
    where = reference_name or "reference data"
    return {
        "available": True,
        "psi": psi,
        "bins": table,
        "reference": where,
        "rows_reference": len(reference_data),
        "note": f"Scores of this data against the scores of the {where} "
        f"({len(reference_data):,} rows).",
    }


def _fairness(
    data: pd.DataFrame,
    attribute: str | None,
    y: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    metrics: dict[str, float],
) -> dict[str, Any]:
    """The fairness section; adds its headline figures to ``metrics`` where they are defined."""
    if attribute is None:
        return {
            "available": False,
            "note": "No fairness attribute was chosen, so decisions were not compared "
            "across groups.",
        }
    fair = fairness_table(data[attribute], y, scores, threshold=threshold)
    for key in ("approval_rate_ratio", "tpr_gap"):
        if fair[key] is not None:
            metrics[key] = float(fair[key])
    return {"available": True, "note": "", **fair}


def _check_rows(max_rows: Any) -> None:
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 10:
        raise InvalidInput(
            f"The 'max_rows_for_importance' parameter must be an integer >= 10. Got {max_rows!r}."
        )


def _check(
    data: Any,
    target: str,
    features: list[str],
    reference: Any,
    segment_by: list[str],
    fairness_attribute: str | None,
    threshold: Any,
) -> None:
    """Fail fast, naming the offending column or parameter, before any scoring."""
    if not isinstance(data, pd.DataFrame):
        raise InvalidInput(f"data must be a pandas DataFrame; got {type(data).__name__}")
    if data.empty:
        raise InvalidInput("data is empty: a validation needs labelled rows")
    if not features:
        raise InvalidInput("The 'features' parameter is empty: name the model's input columns")
    missing = [f for f in features if f not in data.columns]
    if missing:
        raise InvalidInput(
            f"data lacks the feature column(s) {missing}", details={"missing": missing}
        )
    if target not in data.columns:
        raise InvalidInput(
            f"data lacks the target column {target!r}", details={"missing": [target]}
        )
    if target in features:
        raise InvalidInput(f"the target column {target!r} is also listed among the features")
    labels = data[target]
    if labels.isna().any() or not set(pd.unique(labels)) <= {0, 1}:
        found = sorted(map(str, pd.unique(labels.dropna())))[:5]
        raise InvalidInput(
            f"the target column {target!r} must hold only 0 and 1 (1 = default) with no "
            f"missing values; found {found}{' and missing values' if labels.isna().any() else ''}"
        )
    if labels.nunique() < 2:
        raise InvalidInput(
            f"the target column {target!r} holds only {labels.iloc[0]!r}: AUC, KS and "
            "calibration need both defaults and non-defaults"
        )
    for column in segment_by:
        if column not in data.columns:
            raise InvalidInput(f"the segment_by column {column!r} is not in data")
    if fairness_attribute is not None and fairness_attribute not in data.columns:
        raise InvalidInput(f"the fairness_attribute column {fairness_attribute!r} is not in data")
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold < 1
    ):
        raise InvalidInput(
            f"The 'threshold' parameter must be a number in (0, 1). Got {threshold!r}."
        )
    if reference is not None:
        if not isinstance(reference, pd.DataFrame) or reference.empty:
            raise InvalidInput("reference_data must be a non-empty DataFrame or None")
        missing = [f for f in features if f not in reference.columns]
        if missing:
            raise InvalidInput(
                f"reference_data lacks the feature column(s) {missing}",
                details={"missing": missing},
            )


def _status(
    value: float | None, *, ok: Callable[[float], bool], warn: Callable[[float], bool]
) -> str:
    if value is None or not math.isfinite(value):
        return "neutral"
    return "ok" if ok(value) else "warn" if warn(value) else "bad"


def _kpis(metrics: dict[str, float]) -> list[dict[str, Any]]:
    psi = metrics.get("psi_scores")
    ratio = metrics.get("approval_rate_ratio")
    return [
        {"label": "AUC", "value": metrics["auc"], "hint": "ranking power", "status": "neutral"},
        {"label": "Gini", "value": metrics["gini"], "hint": "2 AUC - 1", "status": "neutral"},
        {"label": "KS", "value": metrics["ks"], "hint": "max separation", "status": "neutral"},
        {
            "label": "Brier",
            "value": metrics["brier"],
            "hint": "lower is better",
            "status": "neutral",
        },
        {
            "label": "PSI (scores)",
            "value": psi,
            "hint": "vs training scores" if psi is not None else "no training data recorded",
            "status": _status(psi, ok=lambda v: v < PSI_WATCH, warn=lambda v: v < PSI_ALERT),
            "digits": 4,
        },
        {
            "label": "Approval-rate ratio",
            "value": ratio,
            "hint": "lowest / highest group" if ratio is not None else "no fairness attribute",
            "status": _status(ratio, ok=lambda v: v >= FOUR_FIFTHS, warn=lambda v: v >= 0.6),
        },
    ]


def _html(metrics: dict[str, float], sections: dict[str, Any]) -> str:
    meta = sections["meta"]
    figures = {
        "roc": charts.roc_chart(sections["roc"], metrics["auc"]),
        "ks": charts.ks_chart(sections["ks"]),
        "calibration": charts.calibration_chart(sections["calibration"]["bins"]),
        "scores": charts.score_distribution_chart(sections["score_histogram"], meta["threshold"]),
        "importance": charts.importance_chart(sections["importance"]),
    }
    if sections["fairness"]["available"]:
        figures["fairness"] = charts.fairness_chart(sections["fairness"])
    return render(
        "validation.html.j2",
        page_title=meta["title"],
        meta=meta,
        metrics=metrics,
        sections=sections,
        titles=SECTION_TITLES,
        kpis=_kpis(metrics),
        charts=figures,
        plotly_js=plotly_bundle(),
        psi_watch=PSI_WATCH,
        psi_alert=PSI_ALERT,
        four_fifths=FOUR_FIFTHS,
        small_group=SMALL_GROUP,
    )
