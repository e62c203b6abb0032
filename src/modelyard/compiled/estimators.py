"""Final estimators scored on the compiled model matrix, each exactly as its library does.

* Linear and logistic models: ``X @ coef_.T + intercept_`` then scikit-learn's own
  ``expit``/``softmax``. Exact to float64 rounding only: the native pipeline may
  multiply a *sparse* one-hot matrix (a different summation order), so parity is
  checked with an absolute tolerance of :data:`LINEAR_TOLERANCE`.
* LightGBM: the C API booster of :mod:`modelyard.compiled._lightgbm_capi`.
* XGBoost: ``Booster.inplace_predict`` with one thread — the call
  ``XGBClassifier.predict_proba`` itself makes, on the same float64 matrix.
* Tree ensembles of scikit-learn (RandomForest, ExtraTrees, GradientBoosting,
  HistGradientBoosting): hand-written here, vectorised in numpy over rows and
  trees at once. treelite/tl2cgen would need a C compiler run per model version
  (minutes for a deep forest on a loaded host) and a new dependency, and its
  summation and float32 handling are its own; these few numpy lines repeat
  scikit-learn's comparisons (float32 inputs against float64 thresholds for
  ``tree_``, float64 with NaN routing for HistGradientBoosting) and its
  accumulation order (tree by tree, strictly sequential), so the
  probabilities are bit-identical.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.compiled.preprocess import NotCompilable

__all__ = ["LINEAR_TOLERANCE", "compile_estimator"]

LINEAR_TOLERANCE = 1e-12
"""Largest difference to the native outputs accepted for linear models, relative to
``max(1, |native|)`` (probabilities: absolute; large regression values: relative)."""


class Estimator:
    """A compiled final step. ``rejects_nan``: NaN in the matrix goes the canonical way."""

    kind = "compiled"
    tolerance = 0.0
    rejects_nan = False

    def predict(self, matrix: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotCompilable("abstract estimator")


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
    def __init__(self, model: Any, width: int) -> None:
        from modelyard.compiled._lightgbm_capi import CBooster, predict_params

        booster = model.booster_
        params = {"num_threads": 1, **predict_params(model)}
        self.kind = "lightgbm-compiled"
        self._booster = CBooster(
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
    def __init__(self, model: Any) -> None:
        self.kind = "xgboost-compiled"
        booster = model.get_booster().copy()
        booster.set_param({"nthread": 1})
        self._booster = booster
        self._missing = model.missing
        self._range = model._get_iteration_range(None)
        self._classifier = hasattr(model, "classes_")
        self._n_classes = int(getattr(model, "n_classes_", 0))
        if getattr(model, "objective", None) == "multi:softmax":
            raise NotCompilable("an XGBoost multi:softmax model gives no probabilities")

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        pred = self._booster.inplace_predict(
            matrix,
            iteration_range=self._range,
            predict_type="value",
            missing=self._missing,
            validate_features=False,
        )
        if not self._classifier:
            return pred
        if pred.ndim == 2 and pred.shape[1] == self._n_classes:
            return pred
        return np.vstack((1.0 - pred, pred)).transpose()


class _Forest:
    """Many trees flattened into one node table, traversed for all rows and trees at once.

    Leaves loop to themselves (threshold +inf, both children the leaf), so a fixed
    number of steps (the deepest tree's depth) brings every (row, tree) to its leaf.
    """

    def __init__(self, trees: list[dict[str, np.ndarray]], float32: bool) -> None:
        offsets = np.cumsum([0] + [len(t["feature"]) for t in trees])
        self.roots = offsets[:-1].astype(np.intp)
        feature, threshold, left, right, nan_left, values = [], [], [], [], [], []
        depth = 0
        for tree, base in zip(trees, offsets[:-1], strict=True):
            leaf = tree["leaf"]
            idx = np.arange(len(leaf)) + base
            feature.append(np.where(leaf, 0, tree["feature"]).astype(np.intp))
            threshold.append(np.where(leaf, np.inf, tree["threshold"]).astype(np.float64))
            left.append(np.where(leaf, idx, tree["left"] + base).astype(np.intp))
            right.append(np.where(leaf, idx, tree["right"] + base).astype(np.intp))
            nan_left.append(np.where(leaf, True, tree["nan_left"]).astype(bool))
            values.append(tree["value"])
            depth = max(depth, _depth(tree["left"], tree["right"], leaf))
        self.feature = np.concatenate(feature)
        self.threshold = np.concatenate(threshold)
        self.left = np.concatenate(left)
        self.right = np.concatenate(right)
        self.nan_left = np.concatenate(nan_left)
        self.values = np.concatenate(values)
        self.depth = depth
        self.float32 = float32

    def leaf_values(self, matrix: np.ndarray) -> np.ndarray:
        """(rows, trees, outputs) leaf values."""
        x = matrix.astype(np.float32) if self.float32 else matrix
        n = x.shape[0]
        state = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        has_nan = not self.float32 and bool(np.isnan(x).any())
        for _ in range(self.depth):
            value = x[rows, self.feature[state]]
            go_left = value <= self.threshold[state]
            if has_nan:
                go_left |= np.isnan(value) & self.nan_left[state]
            state = np.where(go_left, self.left[state], self.right[state])
        return self.values[state]


def _depth(left: np.ndarray, right: np.ndarray, leaf: np.ndarray) -> int:
    depth = np.zeros(len(left), dtype=np.intp)
    for node in range(len(left)):  # children come after their parent in both libraries
        if not leaf[node]:
            depth[left[node]] = depth[node] + 1
            depth[right[node]] = depth[node] + 1
    return int(depth.max()) if len(depth) else 0


def _sklearn_tree(tree: Any, values: np.ndarray) -> dict[str, np.ndarray]:
    t = tree.tree_
    leaf = t.children_left == -1
    return {
        "feature": t.feature,
        "threshold": t.threshold,
        "left": np.where(leaf, 0, t.children_left),
        "right": np.where(leaf, 0, t.children_right),
        "nan_left": np.asarray(getattr(t, "missing_go_to_left", np.zeros(len(leaf))), bool),
        "leaf": leaf,
        "value": values,
    }


class RandomForest(Estimator):
    """RandomForest / ExtraTrees: the mean of the trees' leaf fractions, summed tree by tree."""

    rejects_nan = True

    def __init__(self, model: Any, classifier: bool) -> None:
        self.kind = "forest-compiled"
        if getattr(model, "n_outputs_", 1) != 1:
            raise NotCompilable("a multi-output forest")
        self._classifier = classifier
        self._n = len(model.estimators_)
        trees = []
        for est in model.estimators_:
            value = est.tree_.value[:, 0, :]
            trees.append(
                _sklearn_tree(est, value[:, : model.n_classes_] if classifier else value[:, :1])
            )
        self._forest = _Forest(trees, float32=True)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        values = self._forest.leaf_values(matrix)  # (n, trees, classes)
        # np.cumsum adds strictly in order, like the forest's `out += prediction` per tree.
        total = np.cumsum(values, axis=1)[:, -1, :]
        total /= self._n
        return total if self._classifier else total[:, 0]


class GradientBoosting(Estimator):
    """GradientBoosting: init raw score plus ``learning_rate * leaf`` per stage, then the link."""

    rejects_nan = True

    def __init__(self, model: Any, classifier: bool) -> None:
        self.kind = "gbdt-compiled"
        init = model.init_
        if not (isinstance(init, str) and init == "zero") and type(init).__name__ not in (
            "DummyClassifier",
            "DummyRegressor",
        ):
            raise NotCompilable(f"init estimator {type(init).__name__} is not constant")
        self._model = model
        self._classifier = classifier
        stages, k = model.estimators_.shape
        self._k = k
        trees = [
            _sklearn_tree(model.estimators_[s, j], model.estimators_[s, j].tree_.value[:, 0, :1])
            for s in range(stages)
            for j in range(k)
        ]
        self._forest = _Forest(trees, float32=True)
        self._stages = stages
        # A constant init estimator gives the same raw score for every row.
        probe = np.zeros((1, model.n_features_in_), dtype=np.float32)
        self._init = np.asarray(model._raw_predict_init(probe), dtype=np.float64)[0]
        self._rate = float(model.learning_rate)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        n = matrix.shape[0]
        leaves = self._forest.leaf_values(matrix)[:, :, 0].reshape(n, self._stages, self._k)
        steps = np.empty((n, self._stages + 1, self._k), dtype=np.float64)
        steps[:, 0, :] = self._init
        steps[:, 1:, :] = self._rate * leaves
        raw = np.cumsum(steps, axis=1)[:, -1, :]
        if raw.shape[1] == 1:
            raw = raw.ravel()
        if not self._classifier:
            return raw
        return self._model._loss.predict_proba(raw)


class HistGradientBoosting(Estimator):
    """HistGradientBoosting: baseline plus every predictor's leaf in order, then the link."""

    def __init__(self, model: Any, classifier: bool) -> None:
        self.kind = "hgb-compiled"
        if getattr(model, "is_categorical_", None) is not None and np.any(model.is_categorical_):
            raise NotCompilable("HistGradientBoosting with native categorical splits")
        self._model = model
        self._classifier = classifier
        self._k = int(model.n_trees_per_iteration_)
        self._iterations = len(model._predictors)
        trees = []
        for predictors in model._predictors:
            for predictor in predictors:
                nodes = predictor.nodes
                leaf = nodes["is_leaf"].astype(bool)
                if nodes["is_categorical"].any():
                    raise NotCompilable("HistGradientBoosting with categorical splits")
                trees.append(
                    {
                        "feature": nodes["feature_idx"].astype(np.intp),
                        "threshold": nodes["num_threshold"].astype(np.float64),
                        "left": np.where(leaf, 0, nodes["left"]).astype(np.intp),
                        "right": np.where(leaf, 0, nodes["right"]).astype(np.intp),
                        "nan_left": nodes["missing_go_to_left"].astype(bool),
                        "leaf": leaf,
                        "value": nodes["value"].astype(np.float64)[:, None],
                    }
                )
        self._forest = _Forest(trees, float32=False)
        self._baseline = np.asarray(model._baseline_prediction, dtype=np.float64).ravel()

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        n = matrix.shape[0]
        leaves = self._forest.leaf_values(matrix)[:, :, 0].reshape(n, self._iterations, self._k)
        steps = np.empty((n, self._iterations + 1, self._k), dtype=np.float64)
        steps[:, 0, :] = 0.0 + self._baseline
        steps[:, 1:, :] = leaves
        raw = np.cumsum(steps, axis=1)[:, -1, :]
        if self._classifier:
            return self._model._loss.predict_proba(raw)
        return self._model._loss.link.inverse(raw.ravel())


def compile_estimator(model: Any, width: int, *, sparse: bool = False) -> Estimator:
    """The compiled form of a fitted final estimator reading ``width`` columns.

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
        if sparse:
            # XGBoost reads a sparse matrix's absent entries as missing, a dense 0.0 as 0.0.
            raise NotCompilable("XGBoost behind a ColumnTransformer with sparse output")
        return XGBoost(model)
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
        return HistGradientBoosting(model, classifier)
    if name in ("LogisticRegression", "LinearRegression", "Ridge", "Lasso", "ElasticNet"):
        return Linear(model, classifier)
    raise NotCompilable(f"{name} has no compiled form")
