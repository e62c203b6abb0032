"""Per-row contributions of one fitted estimator on the matrix it scores.

Each function returns ``(contributions (rows, features), base (rows,), raw (rows,))``
where ``raw`` is the estimator's own raw score — log-odds for boosted and
linear classifiers, the positive-class probability for forests (which
average probabilities), the prediction for regressors — computed by the
estimator itself, so that ``contributions.sum(1) + base == raw`` is a check
of the explanation, not a definition.

Tree models are explained by the tabulated exact TreeSHAP of ``_fasttreeshap``
(the same numbers as the recursive algorithm LightGBM, XGBoost and ``shap`` run,
at O(leaves x depth) a row instead of O(leaves x depth^2)), over node arrays
read from each library's own model, with its own split rules:

- LightGBM: from the booster's model text (``_lightgbm_trees``); shapes not read
  there (linear trees, random-forest mode) use the booster's ``pred_contrib=True``.
- XGBoost: from the booster's JSON model (``_xgboost_trees``), in float64, so that
  the terms add up to the raw score to 1e-6 although XGBoost works in float32;
  shapes not read there fall back to ``pred_contribs=True``.
- HistGradientBoosting: from its predictors, honouring native categorical splits
  and per-node missing-value directions that ``shap``'s explainer does not.
- Decision trees, random forests, extra trees, gradient boosting: from ``tree_``,
  with the outputs ``shap.TreeExplainer`` gives them.
- Linear and logistic models: ``coef * (x - mean)``, the exact SHAP values of
  a linear model with independent features, ``mean`` taken over a background
  sample (the version's stored training example).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from modelyard.errors import InvalidInput

__all__ = ["estimator_contributions", "estimator_kind", "estimator_values", "prepare"]

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
    """'lightgbm', 'xgboost', 'hgb', 'sklearn-tree' or 'linear'; None when unsupported."""
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
            return "sklearn-tree"
        if hasattr(estimator, "coef_") and hasattr(estimator, "intercept_"):
            return "linear"
    return None


def prepare(kind: str, estimator: Any, width: int) -> None:
    """Build a tree model's TreeSHAP tables now (when its explainer is made), not on the
    first rows explained; ``width`` is the number of columns the estimator reads."""
    if kind == "lightgbm":
        from modelyard.explain._lightgbm_trees import lightgbm_fast

        _binary_only(estimator, "LightGBM model")
        booster = getattr(estimator, "booster_", estimator)
        lightgbm_fast(booster, booster.num_feature())
    elif kind == "xgboost":
        from modelyard.explain._xgboost_trees import _parsed

        _binary_only(estimator, "XGBoost model")
        _parsed(estimator)
    elif kind == "hgb":
        _binary_only(estimator, "HistGradientBoosting model")
        _cached(estimator, lambda: _hgb_trees(estimator, width))
    elif kind == "sklearn-tree":
        _binary_only(estimator, type(estimator).__name__)
        _cached(estimator, lambda: _sklearn_trees(estimator, width))


def estimator_values(
    kind: str, estimator: Any, matrix: Any, background_mean: np.ndarray | None
) -> np.ndarray:
    """The contributions alone, (rows, features), without the raw score: what reasons
    need. Tree models skip the estimator's own scoring pass; the numbers are the same
    as ``estimator_contributions``'s."""
    if kind in ("lightgbm", "xgboost", "hgb", "sklearn-tree"):
        _binary_only(estimator, type(estimator).__name__)
        x = np.asarray(matrix, dtype=np.float64)
        fast: Any = None
        if kind == "lightgbm":
            from modelyard.explain._lightgbm_trees import lightgbm_fast

            booster = getattr(estimator, "booster_", estimator)
            fast = lightgbm_fast(booster, booster.num_feature())
        elif kind == "xgboost":
            from modelyard.explain._xgboost_trees import _parsed

            parsed = _parsed(estimator)
            fast = parsed.shap if parsed is not None else None
        elif kind == "hgb":
            return _hgb_values(estimator, x)[0]
        else:
            fast = _cached(estimator, lambda: _sklearn_trees(estimator, x.shape[1]))[0]
        if fast is not None:
            return fast.contributions(x)
    return estimator_contributions(kind, estimator, matrix, background_mean)[0]


def estimator_contributions(
    kind: str, estimator: Any, matrix: Any, background_mean: np.ndarray | None
) -> Result:
    if kind == "lightgbm":
        return _lightgbm(estimator, matrix)
    if kind == "xgboost":
        return _xgboost(estimator, matrix)
    if kind == "hgb":
        return _hgb(estimator, matrix)
    if kind == "sklearn-tree":
        return _sklearn_tree(estimator, matrix)
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
    from modelyard.explain._lightgbm_trees import lightgbm_fast

    _binary_only(estimator, "LightGBM model")
    # The booster directly, on one thread: what the wrapper computes, without its checks
    # and without OpenMP threads contending with the server's own.
    booster = getattr(estimator, "booster_", estimator)
    raw = np.asarray(booster.predict(matrix, raw_score=True, num_threads=1), dtype=np.float64)
    fast = lightgbm_fast(booster, booster.num_feature())
    if fast is not None:
        x = np.asarray(matrix, dtype=np.float64)
        return fast.contributions(x), np.full(len(x), fast.base), raw.ravel()
    contributions = booster.predict(matrix, pred_contrib=True, num_threads=1)
    values, base = _split(contributions)
    return values, base, raw.ravel()


def _xgboost(estimator: Any, matrix: Any) -> Result:
    import xgboost

    from modelyard.explain._xgboost_trees import xgboost_float64

    _binary_only(estimator, "XGBoost model")
    exact = xgboost_float64(estimator, matrix)
    if exact is not None:
        return exact
    # Shapes not read from the trees: XGBoost's own TreeSHAP, additive to float32 rounding.
    booster = estimator.get_booster()
    data = xgboost.DMatrix(np.asarray(matrix, dtype=np.float32), missing=np.nan)
    values, base = _split(booster.predict(data, pred_contribs=True))
    raw = booster.predict(data, output_margin=True)
    return values, base, np.asarray(raw, dtype=np.float64).ravel()


def _sklearn_tree(estimator: Any, matrix: Any) -> Result:
    _binary_only(estimator, type(estimator).__name__)
    x = np.asarray(matrix, dtype=np.float64)
    fast, offset = _cached(estimator, lambda: _sklearn_trees(estimator, x.shape[1]))
    if hasattr(estimator, "decision_function") and hasattr(estimator, "loss"):
        raw = np.asarray(estimator.decision_function(x), dtype=np.float64)
    elif hasattr(estimator, "predict_proba"):
        raw = estimator.predict_proba(x)[:, -1]
    else:
        raw = np.asarray(estimator.predict(x), dtype=np.float64)
    return fast.contributions(x), np.full(len(x), offset + fast.base), raw.ravel()


def _sklearn_trees(estimator: Any, n_features: int) -> tuple[Any, float]:
    """scikit-learn's ``tree_`` arrays as node arrays, with the output ``shap``'s tree
    explainer gives them: a classifier's node values as class fractions (the positive
    class), a forest's divided by its number of trees, gradient boosting's scaled by
    the learning rate on top of the initial log-odds. scikit-learn compares the row's
    value cast to float32 (``<=`` the float64 threshold) and sends NaN where the node's
    ``missing_go_to_left`` says."""
    from modelyard.explain._fasttreeshap import LE, MISSING_DEFAULT, FastTreeShap, NodeTrees

    name = type(estimator).__name__
    classifier = hasattr(estimator, "classes_")
    offset = 0.0
    if name.startswith("GradientBoosting"):
        trees = [e.tree_ for e in estimator.estimators_[:, 0]]
        scale = float(estimator.learning_rate)
        offset = float(np.ravel(estimator._raw_predict_init(np.zeros((1, n_features))))[0])
        normalize = False
    elif hasattr(estimator, "estimators_"):
        trees = [e.tree_ for e in estimator.estimators_]
        scale, normalize = 1.0 / len(trees), classifier
    else:
        trees, scale, normalize = [estimator.tree_], 1.0, classifier
    arrays = []
    for tree in trees:
        left = tree.children_left.astype(np.int64)
        leaf = left < 0
        value = tree.value.reshape(tree.value.shape[0], -1).astype(np.float64)
        if normalize:
            value = (value.T / value.sum(1)).T
        missing_left = getattr(tree, "missing_go_to_left", None)
        arrays.append(
            {
                "left": left,
                "right": tree.children_right.astype(np.int64),
                "feature": np.where(leaf, 0, tree.feature).astype(np.int64),
                "threshold": tree.threshold.astype(np.float64),
                "kind": np.full(len(left), LE, dtype=np.int8),
                "missing": np.full(len(left), MISSING_DEFAULT, dtype=np.int8),
                "default_left": (
                    np.zeros(len(left), dtype=bool)
                    if missing_left is None
                    else np.asarray(missing_left, dtype=bool)
                ),
                "value": value[:, -1] * scale,
                "cover": tree.weighted_n_node_samples.astype(np.float64),
            }
        )
    return FastTreeShap(NodeTrees.from_trees(arrays, float32=True), n_features), offset


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
    _binary_only(estimator, "HistGradientBoosting model")
    x = np.asarray(matrix, dtype=np.float64)
    values, fast = _hgb_values(estimator, x)
    base = float(np.ravel(estimator._baseline_prediction)[0]) + fast.base
    raw = np.asarray(estimator._raw_predict(x), dtype=np.float64)[:, 0]
    return values, np.full(len(x), base), raw


def _hgb_values(estimator: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
    """HistGradientBoosting's contributions in ``x``'s column order, and its tables."""
    pre = np.asarray(estimator._preprocess_X(x, reset=False), dtype=np.float64)
    n_features = pre.shape[1]
    # The model's own preprocessor puts categorical columns first: map back to x's order.
    categorical = getattr(estimator, "is_categorical_", None)
    if getattr(estimator, "_preprocessor", None) is not None and categorical is not None:
        order = np.concatenate([np.flatnonzero(categorical), np.flatnonzero(~categorical)])
    else:
        order = np.arange(n_features)
    fast = _cached(estimator, lambda: _hgb_trees(estimator, n_features))
    values = fast.contributions(pre)
    mapped = np.zeros_like(values)
    mapped[:, order] = values
    return mapped, fast


_TABULATED: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
_TABULATED_LOCK = threading.Lock()


def _cached(estimator: Any, build: Any) -> Any:
    """The estimator's tabulated TreeSHAP, built once (at its first explanation)."""
    with _TABULATED_LOCK:
        found = _TABULATED.get(estimator)
    if found is None:
        found = build()
        with _TABULATED_LOCK:
            _TABULATED[estimator] = found
    return found


def _hgb_trees(estimator: Any, n_features: int) -> Any:
    """HistGradientBoosting's predictors as node arrays, decided as ``_predictor.pyx``
    decides on raw data: NaN to the default child; a categorical value in the
    split's left set goes left, a known category not in it right, anything else
    (unknown, negative, 256 and above) to the default child."""
    from modelyard.explain._fasttreeshap import (
        CAT,
        CAT_DEFAULT,
        CAT_LEFT,
        CAT_RIGHT,
        LE,
        MISSING_DEFAULT,
        FastTreeShap,
        NodeTrees,
    )

    known, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
    codes = np.arange(256)
    trees = []
    for (predictor,) in estimator._predictors:
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        is_cat = nodes["is_categorical"].astype(bool) & ~leaf
        tree: dict[str, Any] = {
            "left": np.where(leaf, -1, nodes["left"].astype(np.int64)),
            "right": np.where(leaf, -1, nodes["right"].astype(np.int64)),
            "feature": nodes["feature_idx"].astype(np.int64),
            "threshold": nodes["num_threshold"].astype(np.float64),
            "kind": np.where(is_cat, CAT, LE).astype(np.int8),
            "missing": np.full(len(nodes), MISSING_DEFAULT, dtype=np.int8),
            "default_left": nodes["missing_go_to_left"].astype(bool),
            "value": nodes["value"].astype(np.float64),
            "cover": nodes["count"].astype(np.float64),
            "cat_other": np.full(len(nodes), CAT_DEFAULT, dtype=np.int8),
        }
        if is_cat.any():
            table = np.full((len(nodes), 256), CAT_DEFAULT, dtype=np.int8)
            for n in np.flatnonzero(is_cat):
                split = np.full(1, nodes["bitset_idx"][n], dtype=np.int64)
                in_left = _in_bitsets(predictor.raw_left_cat_bitsets, split, codes[None, :])[0]
                feature_row = np.full(1, f_idx_map[nodes["feature_idx"][n]], dtype=np.int64)
                is_known = _in_bitsets(known, feature_row, codes[None, :])[0]
                table[n] = np.where(in_left, CAT_LEFT, np.where(is_known, CAT_RIGHT, CAT_DEFAULT))
            tree["cat_table"] = table
            tree["cat_node"] = is_cat
        trees.append(tree)
    return FastTreeShap(NodeTrees.from_trees(trees), n_features)


def _in_bitsets(bitsets: np.ndarray, rows: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Whether ``codes[i, j]`` is in bitset ``rows[i]`` (256-bit sets of eight uint32 words)."""
    if len(bitsets) == 0:
        return np.zeros(codes.shape, dtype=bool)
    words = bitsets[rows].astype(np.int64)  # (nodes, 8)
    word = np.take_along_axis(words, codes // 32, axis=1)
    return ((word >> (codes % 32)) & 1).astype(bool)
