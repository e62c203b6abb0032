"""Feature importance for the validation report: SHAP for tree models, permutation otherwise.

Tree models (LightGBM, XGBoost, CatBoost, scikit-learn trees and ensembles),
bare or as the last step of a scikit-learn ``Pipeline``, get exact TreeSHAP:
the sample is transformed by the pipeline's preprocessing and the importance
of a column is its mean absolute SHAP value (log-odds for boosted models).
When the preprocessing keeps one output column per input feature (scaling,
ordinal encoding, a renamed passthrough) the columns are reported under the
original feature names; otherwise (one-hot encoding) under the transformed
names.

Every other model gets ``sklearn.inspection.permutation_importance``: the
mean drop in ROC AUC when one feature is shuffled, on the raw features. When
no native model is given, the ``predict_proba`` callable is wrapped as a
scikit-learn classifier, so any model the registry can score can be
explained. Both methods run on a class-stratified sample of at most
``max_rows`` rows, which bounds their cost whatever the data size. SHAP is an
optional extra (``modelyard[explain]``); without it, or if SHAP fails on a
model, the permutation method is used and the section says why.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from modelyard.reports.stats import positive_scores

__all__ = ["feature_importance", "is_tree_model", "stratified_sample"]

_TREE_PACKAGES = ("lightgbm", "xgboost", "catboost")
_SKLEARN_TREES = (
    "DecisionTreeClassifier",
    "ExtraTreeClassifier",
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "GradientBoostingClassifier",
    "HistGradientBoostingClassifier",
)
PERMUTATION_REPEATS = 5


def _split_pipeline(model: Any) -> tuple[Any | None, Any]:
    """(preprocessing or None, final estimator) of a scikit-learn Pipeline, or (None, model)."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) > 0:
        head = model[:-1] if len(model.steps) > 1 else None
        return head, model.steps[-1][1]
    return None, model


def is_tree_model(model: Any) -> bool:
    """Whether ``model``, or the last step of a Pipeline, is a tree model TreeSHAP explains."""
    _, estimator = _split_pipeline(model)
    cls = type(estimator)
    if cls.__module__.split(".")[0] in _TREE_PACKAGES:
        return True
    return cls.__module__.startswith("sklearn.") and cls.__name__ in _SKLEARN_TREES


def stratified_sample(y: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Sorted row positions of a sample keeping the class shares, at most ``max_rows`` long."""
    if len(y) <= max_rows:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        take = max(1, round(max_rows * len(rows) / len(y)))
        picked.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(picked))[:max_rows]


def feature_importance(
    x: pd.DataFrame,
    y: np.ndarray,
    *,
    model: Any,
    predict_proba: Callable[[pd.DataFrame], np.ndarray],
    max_rows: int,
    seed: int,
) -> dict[str, Any]:
    """Importance of each feature on a sample of ``x``.

    Returns:
        ``{"method": "shap" | "permutation", "measure", "rows", "repeats", "note",
        "features": [{"feature", "importance", "std"}]}``, most important first
        (``std`` is the spread over permutation repeats; None for SHAP).
    """
    sample = stratified_sample(y, max_rows, seed)
    x_sample, y_sample = x.iloc[sample], y[sample]
    note = ""
    if model is not None and is_tree_model(model):
        if importlib.util.find_spec("shap") is None:
            note = "SHAP is not installed (pip install 'modelyard[explain]'); "
        else:
            try:
                return _shap(model, x_sample)
            except Exception as exc:  # SHAP's failures are many and untyped; the report goes on
                note = f"SHAP failed on this model ({type(exc).__name__}: {exc}); "
        note += "permutation importance was used instead."
    result = _permutation(model, predict_proba, x_sample, y_sample, seed)
    result["note"] = note
    return result


def _feature_names(preprocess: Any, width: int, features: list[str]) -> tuple[list[str], str]:
    """Names for the transformed columns, and a note when they are not the original features."""
    if preprocess is None:
        return features, ""
    try:
        names = [str(n) for n in preprocess.get_feature_names_out()]
    except (AttributeError, ValueError, TypeError):
        names = [f"x{i}" for i in range(width)]
    if len(names) != width:
        names = [f"x{i}" for i in range(width)]
    if sorted(names) == sorted(features):
        return names, ""
    # ColumnTransformer prefixes names with its transformer's ("num__age"); strip it when 1:1.
    stripped = [n.split("__", 1)[-1] for n in names]
    if sorted(stripped) == sorted(features):
        return stripped, ""
    return names, (
        "The preprocessing does not keep one column per feature, so importances are "
        "reported for the transformed columns the model sees."
    )


def _shap(model: Any, x: pd.DataFrame) -> dict[str, Any]:
    import shap

    preprocess, estimator = _split_pipeline(model)
    transformed = x if preprocess is None else preprocess.transform(x)
    if hasattr(transformed, "toarray"):  # sparse one-hot output; the sample is small
        transformed = transformed.toarray()
    names, note = _feature_names(preprocess, transformed.shape[1], list(x.columns))
    # Calling the explainer (rather than .shap_values) returns one array per row and
    # feature for LightGBM binary models without its "output has changed" warning.
    values = np.asarray(shap.TreeExplainer(estimator)(transformed).values)
    if values.ndim == 3:  # one slice per class (scikit-learn forests): explain "default"
        values = values[..., -1]
    importance = np.abs(values).mean(axis=0)
    return {
        "method": "shap",
        "measure": "mean |SHAP value|",
        "rows": len(x),
        "repeats": None,
        "note": note,
        "features": _ranked(names, importance, None),
    }


class _ScoreFunction(ClassifierMixin, BaseEstimator):
    """A fitted binary classifier wrapping a ``predict_proba`` callable, for scikit-learn."""

    def __init__(self, score_fn: Callable[[pd.DataFrame], np.ndarray] | None = None) -> None:
        self.score_fn = score_fn

    def fit(self, x: Any, y: Any) -> _ScoreFunction:  # never called: the model is trained
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        score = positive_scores(self.score_fn(x), len(x))
        return np.column_stack([1.0 - score, score])

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(x)[:, 1] >= 0.5).astype(int)


def _permutation(
    model: Any,
    predict_proba: Callable[[pd.DataFrame], np.ndarray],
    x: pd.DataFrame,
    y: np.ndarray,
    seed: int,
) -> dict[str, Any]:
    from sklearn.inspection import permutation_importance

    estimator = model if hasattr(model, "predict_proba") else _ScoreFunction(predict_proba)
    result = permutation_importance(
        estimator,
        x,
        y,
        scoring="roc_auc",
        n_repeats=PERMUTATION_REPEATS,
        random_state=seed,
        n_jobs=1,
    )
    return {
        "method": "permutation",
        "measure": "mean drop in ROC AUC when shuffled",
        "rows": len(x),
        "repeats": PERMUTATION_REPEATS,
        "note": "",
        "features": _ranked(list(x.columns), result.importances_mean, result.importances_std),
    }


def _ranked(
    names: list[str], importance: np.ndarray, std: np.ndarray | None
) -> list[dict[str, Any]]:
    """Features by decreasing importance; ``std`` is the spread over permutation repeats."""
    order = np.argsort(-importance, kind="stable")
    return [
        {
            "feature": names[i],
            "importance": float(importance[i]),
            "std": None if std is None else float(std[i]),
        }
        for i in order
    ]
