"""Discrimination and calibration metrics of credit scoring, computed one way everywhere.

Training runs, validation reports, gates and monitoring all call these, so a
Gini in a model card and a Gini in a monitoring alert are the same number.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

from modelyard.errors import InvalidInput

__all__ = [
    "binary_classification_metrics",
    "calibration_bins",
    "expected_calibration_error",
    "ks_statistic",
    "population_stability_index",
    "psi_table",
]

PSI_FLOOR = 1e-4
"""Smallest bin share PSI uses, so an empty bin adds a large but finite term, not inf."""


def _arrays(y_true: ArrayLike, y_score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(y_true)
    score = np.asarray(y_score, dtype=float)
    if truth.shape != score.shape or truth.ndim != 1:
        raise InvalidInput(
            f"labels and scores must be 1-D and equally long; got {truth.shape} and {score.shape}"
        )
    if len(np.unique(truth)) != 2:
        raise InvalidInput("labels must contain both classes (0 and 1) to compute AUC and KS")
    return truth, score


def ks_statistic(y_true: ArrayLike, y_score: ArrayLike) -> float:
    """Kolmogorov-Smirnov separation of the score between goods and bads: max(TPR - FPR)."""
    truth, score = _arrays(y_true, y_score)
    fpr, tpr, _ = roc_curve(truth, score)
    return float(np.max(tpr - fpr))


def binary_classification_metrics(
    y_true: ArrayLike, y_score: ArrayLike, *, threshold: float = 0.5
) -> dict[str, float]:
    """AUC, Gini, KS, Brier, log loss, and accuracy/precision/recall at ``threshold``."""
    truth, score = _arrays(y_true, y_score)
    auc = float(roc_auc_score(truth, score))
    predicted = score >= threshold
    positives = truth == 1
    tp = float(np.sum(predicted & positives))
    precision = tp / max(float(np.sum(predicted)), 1.0)
    recall = tp / max(float(np.sum(positives)), 1.0)
    return {
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks_statistic(truth, score),
        "brier": float(brier_score_loss(truth, score)),
        "log_loss": float(log_loss(truth, np.clip(score, 1e-15, 1 - 1e-15))),
        "accuracy": float(np.mean(predicted == positives)),
        "precision": precision,
        "recall": recall,
        "positive_rate": float(np.mean(positives)),
    }


def _scores(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise InvalidInput(f"{name} must be a non-empty 1-D array; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidInput(f"{name} contains NaN or infinite values")
    return array


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise InvalidInput(f"The 'bins' parameter must be an integer >= 1. Got {bins!r}.")


def calibration_bins(
    y_true: ArrayLike, y_score: ArrayLike, *, bins: int = 10
) -> list[dict[str, float]]:
    """Reliability-diagram bins: mean score against observed default rate per score quantile.

    Quantile bins, not equal-width ones, because credit scores crowd near the
    default rate: equal-width bins would leave most of [0, 1] empty and put
    nearly every loan in the first two. The binning is exactly scikit-learn's
    ``calibration_curve(strategy="quantile")``; empty bins (tied quantiles) are
    left out.

    Returns:
        One dict per non-empty bin, lowest scores first: ``lower`` and ``upper``
        (the bin's score quantiles), ``count``, ``mean_score``, ``default_rate``.
    """
    truth, score = _arrays(y_true, y_score)
    _check_bins(bins)
    edges = np.percentile(score, np.linspace(0, 100, bins + 1))
    ids = np.searchsorted(edges[1:-1], score)
    total = np.bincount(ids, minlength=bins)
    score_sum = np.bincount(ids, weights=score, minlength=bins)
    true_sum = np.bincount(ids, weights=truth.astype(float), minlength=bins)
    return [
        {
            "lower": float(edges[i]),
            "upper": float(edges[i + 1]),
            "count": int(total[i]),
            "mean_score": float(score_sum[i] / total[i]),
            "default_rate": float(true_sum[i] / total[i]),
        }
        for i in range(bins)
        if total[i]
    ]


def expected_calibration_error(y_true: ArrayLike, y_score: ArrayLike, *, bins: int = 10) -> float:
    """Count-weighted mean gap between mean score and default rate over ``calibration_bins``."""
    table = calibration_bins(y_true, y_score, bins=bins)
    rows = sum(b["count"] for b in table)
    return float(sum(b["count"] * abs(b["mean_score"] - b["default_rate"]) for b in table) / rows)


def psi_table(
    reference: ArrayLike, current: ArrayLike, *, bins: int = 10
) -> list[dict[str, float | None]]:
    """Population stability of ``current`` against ``reference``, bin by bin.

    Bins are the reference's quantiles (deciles by default), taken as observed
    values (inverted CDF) and closed on the right, ``(lower, upper]``, so a
    repeated score never straddles two bins: tied quantiles merge bins. The
    outer bins are open, so every current value lands in one. Each bin
    contributes ``(cur - ref) * ln(cur / ref)`` with shares floored at
    ``PSI_FLOOR``; identical samples therefore give exactly 0. These are the
    bins and floor of drift monitoring's quantile PSI, so a score PSI in a
    validation report and in a monitoring alert are the same number.

    Returns:
        One dict per bin: ``lower`` (None for the first), ``upper`` (None for
        the last), ``reference_share``, ``current_share``, ``contribution``.
    """
    ref = _scores(reference, "reference")
    cur = _scores(current, "current")
    _check_bins(bins)
    ordered = np.sort(ref)
    # Inverted-CDF quantiles in integer arithmetic: rank ceil(k * n / bins) - 1 exactly,
    # where float quantile levels (0.30000000000000004 * n) can land one rank off.
    ranks = (np.arange(1, bins) * ordered.size + bins - 1) // bins - 1
    inner = np.unique(ordered[ranks])
    count = len(inner) + 1
    ref_share = np.bincount(np.searchsorted(inner, ref, side="left"), minlength=count) / ref.size
    cur_share = np.bincount(np.searchsorted(inner, cur, side="left"), minlength=count) / cur.size
    ref_floor = np.maximum(ref_share, PSI_FLOOR)
    cur_floor = np.maximum(cur_share, PSI_FLOOR)
    contribution = (cur_floor - ref_floor) * np.log(cur_floor / ref_floor)
    bounds = [None, *(float(e) for e in inner), None]
    return [
        {
            "lower": bounds[i],
            "upper": bounds[i + 1],
            "reference_share": float(ref_share[i]),
            "current_share": float(cur_share[i]),
            "contribution": float(contribution[i]),
        }
        for i in range(count)
    ]


def population_stability_index(
    reference: ArrayLike, current: ArrayLike, *, bins: int = 10
) -> float:
    """PSI of ``current`` against ``reference``: the sum of ``psi_table``'s contributions.

    Conventional reading: below 0.1 stable, 0.1-0.25 a shift worth a look,
    above 0.25 a significant shift.
    """
    return float(sum(row["contribution"] for row in psi_table(reference, current, bins=bins)))
