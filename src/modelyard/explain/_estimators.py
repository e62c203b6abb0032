"""Per-row contributions of one fitted estimator on the matrix it scores.

Each function returns ``(contributions (rows, features), base (rows,), raw (rows,))``
where ``raw`` is the estimator's own raw score — log-odds for boosted and
linear classifiers, the positive-class probability for forests (which
average probabilities), the prediction for regressors — computed by the
estimator itself, so that ``contributions.sum(1) + base == raw`` is a check
of the explanation, not a definition.

- LightGBM: the booster's own TreeSHAP (``pred_contrib=True``).
- XGBoost: exact TreeSHAP in float64 over the booster's own trees (``_xgboost_trees``),
  so that the terms add up to the raw score to 1e-6 although XGBoost works in
  float32; shapes not read there fall back to ``pred_contribs=True``.
- HistGradientBoosting: exact path-dependent TreeSHAP over its predictors
  (``_treeshap``), which honours native categorical splits and per-node
  missing-value directions that ``shap``'s explainer does not.
- Decision trees, random forests, extra trees, gradient boosting: ``shap.TreeExplainer``.
- Linear and logistic models: ``coef * (x - mean)``, the exact SHAP values of
  a linear model with independent features, ``mean`` taken over a background
  sample (the version's stored training example).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.errors import InvalidInput

__all__ = ["estimator_contributions", "estimator_kind"]

Result = tuple[np.ndarray, np.ndarray, np.ndarray]

_SHAP_TREES = (
    "DecisionTreeClassifier",
    "DecisionTreeRegressor",
    "ExtraTreeClassifier",
    "ExtraTreeRegressor",
    "RandomForestClassifier",
    "RandomForestRegressor",
    "ExtraTreesClassifier",
    "ExtraTreesRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
)
_HGB = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor")
SUPPORTED = (
    "LightGBM (LGBMClassifier, LGBMRegressor, Booster), XGBoost (XGBClassifier, "
    "XGBRegressor), HistGradientBoosting, decision trees, random forests, extra trees, "
    "gradient boosting, and linear models with coef_ (LogisticRegression, Ridge, ...)"
)


def estimator_kind(estimator: Any) -> str | None:
    """'lightgbm', 'xgboost', 'hgb', 'shap-tree' or 'linear'; None when unsupported."""
    cls = type(estimator)
    package = cls.__module__.split(".")[0]
    if package == "lightgbm" and cls.__name__ in ("LGBMClassifier", "LGBMRegressor", "Booster"):
        return "lightgbm"
    if package == "xgboost" and cls.__name__ in ("XGBClassifier", "XGBRegressor"):
        return "xgboost"
    if package == "sklearn":
        if cls.__name__ in _HGB:
            return "hgb"
        if cls.__name__ in _SHAP_TREES:
            return "shap-tree"
        if hasattr(estimator, "coef_") and hasattr(estimator, "intercept_"):
            return "linear"
    return None


def estimator_contributions(
    kind: str, estimator: Any, matrix: Any, background_mean: np.ndarray | None
) -> Result:
    if kind == "lightgbm":
        return _lightgbm(estimator, matrix)
    if kind == "xgboost":
        return _xgboost(estimator, matrix)
    if kind == "hgb":
        return _hgb(estimator, matrix)
    if kind == "shap-tree":
        return _shap_tree(estimator, matrix)
    if background_mean is None:
        raise InvalidInput("a linear model's contributions need a background sample")
    return _linear(estimator, matrix, background_mean)


def _binary_only(estimator: Any, what: str) -> None:
    classes = getattr(estimator, "classes_", None)
    if classes is not None and len(classes) != 2:
        raise InvalidInput(
            f"explanations cover binary classifiers and regressors; this {what} has "
            f"{len(classes)} classes"
        )


def _split(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(values, dtype=np.float64)
    return values[:, :-1], values[:, -1]


def _lightgbm(estimator: Any, matrix: Any) -> Result:
    _binary_only(estimator, "LightGBM model")
    # The booster directly, on one thread: what the wrapper computes, without its checks
    # and without OpenMP threads contending with the server's own.
    booster = getattr(estimator, "booster_", estimator)
    contributions = booster.predict(matrix, pred_contrib=True, num_threads=1)
    raw = booster.predict(matrix, raw_score=True, num_threads=1)
    values, base = _split(contributions)
    return values, base, np.asarray(raw, dtype=np.float64).ravel()


def _xgboost(estimator: Any, matrix: Any) -> Result:
    import xgboost

    from modelyard.explain._xgboost_trees import xgboost_float64

    _binary_only(estimator, "XGBoost model")
    exact = xgboost_float64(estimator, matrix, _tree_shap())
    if exact is not None:
        return exact
    # Shapes not read from the trees: XGBoost's own TreeSHAP, additive to float32 rounding.
    booster = estimator.get_booster()
    data = xgboost.DMatrix(np.asarray(matrix, dtype=np.float32), missing=np.nan)
    values, base = _split(booster.predict(data, pred_contribs=True))
    raw = booster.predict(data, output_margin=True)
    return values, base, np.asarray(raw, dtype=np.float64).ravel()


def _shap_tree(estimator: Any, matrix: Any) -> Result:
    import shap

    _binary_only(estimator, type(estimator).__name__)
    x = np.asarray(matrix, dtype=np.float64)
    explanation = shap.TreeExplainer(estimator)(x, check_additivity=False)
    values = np.asarray(explanation.values, dtype=np.float64)
    base = np.asarray(explanation.base_values, dtype=np.float64)
    if values.ndim == 3:  # one slice per class: explain the positive class
        values, base = values[..., -1], base[..., -1]
    if hasattr(estimator, "decision_function") and hasattr(estimator, "loss"):
        raw = np.asarray(estimator.decision_function(x), dtype=np.float64)
    elif hasattr(estimator, "predict_proba"):
        raw = estimator.predict_proba(x)[:, -1]
    else:
        raw = np.asarray(estimator.predict(x), dtype=np.float64)
    return values, np.broadcast_to(base.ravel(), (len(x),)).copy(), raw.ravel()


def _linear(estimator: Any, matrix: Any, mean: np.ndarray) -> Result:
    coef = np.asarray(estimator.coef_, dtype=np.float64)
    if coef.ndim == 2:
        if coef.shape[0] != 1:
            raise InvalidInput(
                f"explanations cover binary classifiers and regressors; this "
                f"{type(estimator).__name__} has {coef.shape[0]} sets of coefficients"
            )
        coef = coef[0]
    x = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix, dtype=np.float64)
    intercept = float(np.ravel(estimator.intercept_)[0]) if np.size(estimator.intercept_) else 0.0
    values = coef * (x - mean)
    base = np.full(len(x), intercept + float(coef @ mean))
    if hasattr(estimator, "decision_function") and hasattr(estimator, "classes_"):
        raw = np.asarray(estimator.decision_function(matrix), dtype=np.float64)
    else:
        raw = np.asarray(estimator.predict(matrix), dtype=np.float64)
    return values, base, raw.ravel()


def _hgb(estimator: Any, matrix: Any) -> Result:
    from modelyard.explain._treeshap import Tree

    tree_shap = _tree_shap()

    _binary_only(estimator, "HistGradientBoosting model")
    x = np.asarray(matrix, dtype=np.float64)
    pre = estimator._preprocess_X(x, reset=False)
    pre = np.asarray(pre, dtype=np.float64)
    n_features = pre.shape[1]
    # The model's own preprocessor puts categorical columns first: map back to x's order.
    categorical = getattr(estimator, "is_categorical_", None)
    if getattr(estimator, "_preprocessor", None) is not None and categorical is not None:
        order = np.concatenate([np.flatnonzero(categorical), np.flatnonzero(~categorical)])
    else:
        order = np.arange(n_features)
    known, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
    values = np.zeros((len(pre), n_features))
    base = float(np.ravel(estimator._baseline_prediction)[0])
    for (predictor,) in estimator._predictors:
        nodes = predictor.nodes
        tree = Tree(
            left=np.where(nodes["is_leaf"] == 1, -1, nodes["left"].astype(np.int64)),
            right=np.where(nodes["is_leaf"] == 1, -1, nodes["right"].astype(np.int64)),
            feature=nodes["feature_idx"].astype(np.int64),
            value=nodes["value"].astype(np.float64),
            cover=nodes["count"].astype(np.float64),
        )
        goes_left = _hgb_decisions(nodes, pre, predictor.raw_left_cat_bitsets, known, f_idx_map)
        values += tree_shap(tree, goes_left, n_features)
        base += tree.expected_value()
    raw = np.asarray(estimator._raw_predict(x), dtype=np.float64)[:, 0]
    mapped = np.zeros_like(values)
    mapped[:, order] = values
    return mapped, np.full(len(pre), base), raw


def _tree_shap() -> Any:
    """The compiled TreeSHAP when numba is there (it comes with shap), else the vectorised one."""
    try:
        from modelyard.explain._treeshap_jit import tree_shap_rows
    except ImportError:
        from modelyard.explain._treeshap import tree_shap

        return tree_shap
    return tree_shap_rows


def _in_bitsets(bitsets: np.ndarray, rows: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Whether ``codes[i, j]`` is in bitset ``rows[i]`` (256-bit sets of eight uint32 words)."""
    if len(bitsets) == 0:
        return np.zeros(codes.shape, dtype=bool)
    words = bitsets[rows].astype(np.int64)  # (nodes, 8)
    word = np.take_along_axis(words, codes // 32, axis=1)
    return ((word >> (codes % 32)) & 1).astype(bool)


def _hgb_decisions(
    nodes: np.ndarray,
    x: np.ndarray,
    left_bitsets: np.ndarray,
    known: np.ndarray,
    f_idx_map: np.ndarray,
) -> np.ndarray:
    """(nodes, rows) whether each row goes left, as ``_predictor.pyx`` decides on raw data."""
    features = nodes["feature_idx"].astype(np.int64)
    values = x[:, features].T  # (nodes, rows)
    default = np.broadcast_to(nodes["missing_go_to_left"].astype(bool)[:, None], values.shape)
    missing = np.isnan(values)
    with np.errstate(invalid="ignore"):
        numeric = values <= nodes["num_threshold"][:, None]
    goes_left = np.where(missing, default, numeric)
    categorical = nodes["is_categorical"].astype(bool) & ~nodes["is_leaf"].astype(bool)
    if categorical.any():
        cat_values = values[categorical]
        valid = ~np.isnan(cat_values) & (cat_values >= 0) & (cat_values < 256)
        codes = np.where(valid, cat_values, 0).astype(np.int64)
        in_left = _in_bitsets(
            left_bitsets, nodes["bitset_idx"][categorical].astype(np.int64), codes
        )
        is_known = _in_bitsets(known, f_idx_map[features[categorical]].astype(np.int64), codes)
        cat_default = default[categorical]
        goes_left[categorical] = np.where(
            valid & in_left, True, np.where(valid & is_known, False, cat_default)
        )
    goes_left[nodes["is_leaf"].astype(bool)] = False
    return goes_left
