"""Final estimators scored on the compiled model matrix, each exactly as its library does.

* Linear and logistic models: ``X @ coef_.T + intercept_`` then scikit-learn's own
  ``expit``/``softmax``. Exact to float64 rounding only: the native pipeline may
  multiply a *sparse* one-hot matrix (a different summation order), so parity is
  checked with an absolute tolerance of :data:`LINEAR_TOLERANCE`.
* LightGBM: the numba tree kernel of :mod:`modelyard.compiled.lightgbm_trees`
  (bit-identical to LightGBM's predict, about twice as fast), or the C API booster
  of :mod:`modelyard.compiled._lightgbm_capi` for what the kernel refuses.
* XGBoost: the numba tree kernel of :mod:`modelyard.compiled.xgboost_trees`
  (bit-identical to ``inplace_predict``; a one-row call costs microseconds instead
  of XGBoost's fixed ~0.2 ms), or, for what the kernel refuses, the C call
  ``Booster.inplace_predict`` (hence ``XGBClassifier.predict_proba``) makes —
  ``XGBoosterPredictFromDense`` with one thread on the same float64 matrix — made
  directly (:mod:`modelyard.compiled._xgboost_capi`, without inplace_predict's
  per-call wrapping).
* Tree ensembles of scikit-learn (RandomForest, ExtraTrees, GradientBoosting,
  HistGradientBoosting, its native categorical features included): numpy
  traversal in :mod:`modelyard.compiled.trees`, bit-identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.compiled._deferred import deferred
from modelyard.compiled._estimator import Estimator
from modelyard.compiled._xgboost_capi import DensePredictor
from modelyard.compiled.preprocess import NotCompilable
from modelyard.compiled.trees import GradientBoosting, HistGradientBoosting, RandomForest

__all__ = ["LINEAR_TOLERANCE", "Estimator", "compile_estimator"]

LINEAR_TOLERANCE = 1e-12
"""Largest difference to the native outputs accepted for linear models, relative to
``max(1, |native|)`` (probabilities: absolute; large regression values: relative)."""


class Linear(Estimator):
    tolerance = LINEAR_TOLERANCE
    rejects_nan = True

    def __init__(self, model: Any, classifier: bool) -> None:
        from scipy.special import expit
        from sklearn.utils.extmath import softmax

        self.kind = "linear-compiled"
        self._expit, self._softmax = expit, softmax
        self._coef = np.ascontiguousarray(np.asarray(model.coef_, dtype=np.float64))
        self._intercept = np.asarray(model.intercept_, dtype=np.float64)
        self._classifier = classifier
        self._binary = classifier and len(model.classes_) == 2

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        if self._coef.ndim == 1:
            scores = matrix @ self._coef + self._intercept
        else:
            scores = matrix @ self._coef.T + self._intercept
        if not self._classifier:
            return scores.ravel() if scores.ndim == 2 and scores.shape[1] == 1 else scores
        if self._binary:
            prob = self._expit(scores.ravel())
            return np.vstack([1 - prob, prob]).T
        return self._softmax(scores, copy=False)


class LightGBM(Estimator):
    """LightGBM's prediction; ``evaluator`` says which evaluates it (the kernel or the C API)."""

    def __init__(self, model: Any, width: int) -> None:
        from modelyard.compiled._lightgbm_capi import predict_params
        from modelyard.compiled.lightgbm_trees import load_lightgbm

        booster = model.booster_
        params = {"num_threads": 1, **predict_params(model)}
        self.kind = "lightgbm-compiled"
        self._booster, self.evaluator = load_lightgbm(
            booster.model_to_string(num_iteration=-1),
            num_iteration=int(booster.best_iteration or 0),
            parameters=" ".join(f"{k}={v}" for k, v in params.items()),
        )
        if self._booster.num_feature != width:
            raise NotCompilable(
                f"the encoder gives {width} columns, the model takes {self._booster.num_feature}"
            )
        self._binary = getattr(model, "n_classes_", 0) == 2

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        raw = self._booster.predict(matrix)
        if self._binary:
            return np.vstack((1.0 - raw, raw)).transpose()
        return raw


class XGBoost(Estimator):
    """The numba tree kernel on the dense matrix, else ``Booster.inplace_predict``'s C call
    (``XGBoosterPredictFromDense``, made directly; ``evaluator`` says which one scores).

    ``sparse``: the native pipeline hands XGBoost a sparse matrix, whose absent
    entries — every 0.0, since scipy stores only non-zeros — XGBoost reads as
    missing; the dense matrix then gets NaN (missing) wherever it holds 0.0.
    """

    evaluator = "XGBoost C API (XGBoosterPredictFromDense)"

    def __init__(self, model: Any, *, sparse: bool = False) -> None:
        self.kind = "xgboost-compiled"
        self._zeros_missing = sparse
        if sparse and not (isinstance(model.missing, float) and np.isnan(model.missing)):
            raise NotCompilable(
                f"XGBoost with missing={model.missing!r} behind a sparse ColumnTransformer"
            )
        booster = model.get_booster().copy()
        booster.set_param({"nthread": 1})
        self._booster = booster
        self._missing = model.missing
        self._range = model._get_iteration_range(None)
        self._dense = DensePredictor(booster, missing=self._missing, iteration_range=self._range)
        self._classifier = hasattr(model, "classes_")
        self._n_classes = int(getattr(model, "n_classes_", 0))
        if getattr(model, "objective", None) == "multi:softmax":
            raise NotCompilable("an XGBoost multi:softmax model gives no probabilities")
        self._trees: Any = None
        if not (isinstance(model.missing, float) and np.isnan(model.missing)):
            self.evaluator = f"XGBoost C API (missing={model.missing!r})"
            return
        try:
            from modelyard.compiled.xgboost_trees import XGBoostTrees

            trees = XGBoostTrees(booster, self._range, int(model.n_features_in_))
            self._trees, self.evaluator = deferred(
                trees.predict, self._dense.predict, "XGBoost C API"
            )
        except NotCompilable as exc:
            self.evaluator = f"XGBoost C API ({exc})"
        except ImportError as exc:  # numba missing or broken
            self.evaluator = f"XGBoost C API (numba is unavailable: {exc})"

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        if self._zeros_missing:
            matrix = np.where(matrix == 0.0, np.nan, matrix)
        trees = self._trees
        pred = trees(matrix) if trees is not None else self._dense.predict(matrix)
        if not self._classifier:
            return pred
        if pred.ndim == 2 and pred.shape[1] == self._n_classes:
            return pred
        return np.vstack((1.0 - pred, pred)).transpose()


def compile_estimator(
    model: Any, width: int, *, sparse: bool = False, encoded: bool = False
) -> Estimator:
    """The compiled form of a fitted final estimator reading ``width`` columns.

    ``encoded``: the preprocessing already ran a HistGradientBoosting model's own
    categorical encoding (``model._preprocessor``).

    Raises:
        NotCompilable: The estimator (or one of its options) has no compiled form.
    """
    cls = type(model)
    module, name = cls.__module__, cls.__name__
    classifier = hasattr(model, "classes_")
    n_in = getattr(model, "n_features_in_", width)
    if n_in != width:
        raise NotCompilable(f"the encoder gives {width} columns, {name} takes {n_in}")
    if module.startswith("lightgbm") and name in ("LGBMClassifier", "LGBMRegressor"):
        return LightGBM(model, width)
    if module.startswith("xgboost") and name in ("XGBClassifier", "XGBRegressor"):
        return XGBoost(model, sparse=sparse)
    if not module.startswith("sklearn."):
        raise NotCompilable(f"{name} has no compiled form")
    if name in ("RandomForestClassifier", "RandomForestRegressor") or name in (
        "ExtraTreesClassifier",
        "ExtraTreesRegressor",
    ):
        return RandomForest(model, classifier)
    if name in ("GradientBoostingClassifier", "GradientBoostingRegressor"):
        return GradientBoosting(model, classifier)
    if name in ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"):
        return HistGradientBoosting(model, classifier, encoded=encoded)
    if name in ("LogisticRegression", "LinearRegression", "Ridge", "Lasso", "ElasticNet"):
        return Linear(model, classifier)
    raise NotCompilable(f"{name} has no compiled form")
