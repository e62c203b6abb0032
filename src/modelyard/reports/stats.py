"""The numbers behind each chart of the validation report, as plain JSON-ready data.

Every function takes labels (0/1, 1 = default) and scores (probability of
default) and returns lists and dicts of Python floats, so the registry can
store ``ValidationResult.sections`` as JSON and a UI can redraw any chart.
Curves are thinned to at most ``MAX_POINTS`` points: a 10k-row ROC has
thousands of vertices that add megabytes to the report and nothing to the eye.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from modelyard.errors import InvalidInput

__all__ = [
    "MAX_POINTS",
    "group_labels",
    "ks_curve",
    "positive_scores",
    "roc_curve_points",
    "score_histogram",
    "segment_table",
]

MAX_POINTS = 300
MISSING_GROUP = "(missing)"


def positive_scores(raw: Any, rows: int) -> np.ndarray:
    """The probability of default from a model's output: a 1-D array, or the last column of 2-D.

    Raises:
        InvalidInput: the output is not one probability in [0, 1] per row.
    """
    try:
        scores = np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"predict_proba returned non-numeric output: {exc}") from exc
    if scores.ndim == 2 and scores.shape[1] in (1, 2):
        scores = scores[:, -1]
    if scores.shape != (rows,):
        raise InvalidInput(
            f"predict_proba must return one probability per row (shape ({rows},) or "
            f"({rows}, 2)); got shape {scores.shape}"
        )
    if not np.all(np.isfinite(scores)) or scores.min() < 0 or scores.max() > 1:
        raise InvalidInput("predict_proba returned values outside [0, 1] or NaN")
    return scores


def _thin(count: int, keep: int | None = None) -> np.ndarray:
    """Indices of at most MAX_POINTS evenly spaced points, always the ends and ``keep``."""
    if count <= MAX_POINTS:
        return np.arange(count)
    index = np.unique(np.linspace(0, count - 1, MAX_POINTS).round().astype(int))
    if keep is not None:
        index = np.unique(np.append(index, keep))
    return index


def _floats(values: np.ndarray) -> list[float]:
    """Chart points as Python floats; 6 decimals are finer than any screen and halve the JSON."""
    return [round(float(v), 6) for v in values]


def roc_curve_points(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, list[float]]:
    """False- and true-positive rates of the ROC curve, thinned (the area is computed unthinned)."""
    fpr, tpr, thresholds = roc_curve(y_true, y_score)
    index = _thin(len(fpr))
    # roc_curve's first threshold is +inf (nobody flagged), which JSON cannot hold.
    cut = np.minimum(thresholds[index], 1.0)
    return {"fpr": _floats(fpr[index]), "tpr": _floats(tpr[index]), "threshold": _floats(cut)}


def ks_curve(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, Any]:
    """Cumulative score distributions of goods and bads, and where they are furthest apart.

    The maximum is found over every distinct score, so ``ks`` equals the
    two-sample Kolmogorov-Smirnov statistic of bads' against goods' scores; the
    returned curve is thinned but keeps that point.
    """
    grid = np.unique(y_score)
    goods = np.sort(y_score[y_true == 0])
    bads = np.sort(y_score[y_true == 1])
    cdf_goods = np.searchsorted(goods, grid, side="right") / goods.size
    cdf_bads = np.searchsorted(bads, grid, side="right") / bads.size
    gap = np.abs(cdf_goods - cdf_bads)
    best = int(np.argmax(gap))
    index = _thin(grid.size, keep=best)
    return {
        "score": _floats(grid[index]),
        "cdf_goods": _floats(cdf_goods[index]),
        "cdf_bads": _floats(cdf_bads[index]),
        "ks": float(gap[best]),
        "at_score": float(grid[best]),
        "cdf_goods_at": float(cdf_goods[best]),
        "cdf_bads_at": float(cdf_bads[best]),
    }


def score_histogram(y_true: np.ndarray, y_score: np.ndarray, *, bins: int = 40) -> dict[str, Any]:
    """Share of goods and of bads per equal-width score bin over the observed range.

    Shares within each class, not counts: with ~10% defaults, counts would
    flatten the bads' distribution into the axis.
    """
    low, high = float(np.min(y_score)), float(np.max(y_score))
    if high <= low:
        high = low + 1e-9  # every score equal: one visible bin instead of a division by zero
    edges = np.linspace(low, high, bins + 1)
    goods, _ = np.histogram(y_score[y_true == 0], bins=edges)
    bads, _ = np.histogram(y_score[y_true == 1], bins=edges)
    return {
        "edges": _floats(edges),
        "goods_share": _floats(goods / max(goods.sum(), 1)),
        "bads_share": _floats(bads / max(bads.sum(), 1)),
        "goods": int(goods.sum()),
        "bads": int(bads.sum()),
    }


def group_labels(values: pd.Series, *, max_levels: int = 12, bands: int = 5) -> pd.Series:
    """Ordered categorical labels that split rows into readable groups.

    A numeric column with more than ``max_levels`` distinct values (age,
    income) is cut into ``bands`` quantile bands labelled ``[low\u2013high)``,
    ordered low to high; anything else is grouped by value, in sorted order.
    Missing values form their own last group, because how a model treats them
    is often exactly what a reviewer asks.
    """
    present = values.notna()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and values[present].nunique() > max_levels:
        known = values[present].to_numpy(dtype=float)
        edges = np.unique(np.quantile(known, np.linspace(0, 1, bands + 1)))
        last = len(edges) - 2
        names = [
            f"[{_short(edges[i])}\u2013{_short(edges[i + 1])}{']' if i == last else ')'}"
            for i in range(last + 1)
        ]
        codes = np.searchsorted(edges, values.to_numpy(dtype=float), side="right") - 1
        text = np.array(names, dtype=object)[np.clip(codes, 0, last)]
    else:
        distinct = values[present].unique().tolist()
        try:
            distinct.sort()
        except TypeError:  # mixed types: fall back to their text
            distinct.sort(key=str)
        names = list(dict.fromkeys(str(v) for v in distinct))
        text = values.astype(object).map(str).to_numpy()
    if not present.all():
        names.append(MISSING_GROUP)
        text = np.where(present.to_numpy(), text, MISSING_GROUP)
    return pd.Series(pd.Categorical(text, categories=names, ordered=True), index=values.index)


def _short(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 1000 else f"{value:.4g}"


def _auc(y_true: np.ndarray, y_score: np.ndarray) -> float | None:
    return float(roc_auc_score(y_true, y_score)) if len(np.unique(y_true)) == 2 else None


def segment_table(
    frame: pd.DataFrame, y_true: np.ndarray, y_score: np.ndarray, columns: list[str]
) -> list[dict[str, Any]]:
    """Count, default rate, mean score and AUC for each value (or band) of each column.

    AUC and Gini are None where a segment holds only one class. Segments keep
    ``group_labels``' order, so bands read low to high.
    """
    rows: list[dict[str, Any]] = []
    total = len(frame)
    for column in columns:
        labels = group_labels(frame[column])
        codes = labels.cat.codes.to_numpy()
        for code, label in enumerate(labels.cat.categories):
            mask = codes == code
            if not mask.any():
                continue
            truth, score = y_true[mask], y_score[mask]
            auc = _auc(truth, score)
            rows.append(
                {
                    "column": column,
                    "segment": str(label),
                    "count": int(mask.sum()),
                    "share": float(mask.sum() / total),
                    "defaults": int(truth.sum()),
                    "default_rate": float(truth.mean()),
                    "mean_score": float(score.mean()),
                    "auc": auc,
                    "gini": None if auc is None else 2 * auc - 1,
                }
            )
    return rows
