"""The numba tree kernel gives XGBoost's own answers, bit for bit, on out-of-time data.

Same data as the LightGBM tests (``conftest.py``): trained before the regime
change, 10,000 rows after it with nulls, unseen codes, zeros and infinities
injected. Each supported shape is compared with ``np.array_equal`` to
``inplace_predict`` and to the scikit-learn model's ``predict_proba``/``predict``
(float32, as XGBoost gives them); what the kernel does not reproduce is refused
with a reason and scored by ``inplace_predict``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xgboost

from modelyard.compiled.estimators import compile_estimator
from modelyard.compiled.preprocess import NotCompilable
from modelyard.compiled.xgboost_trees import XGBoostTrees

SHAPES: dict[str, dict[str, Any]] = {
    "binary": {},
    "binary-deep": {"max_depth": 8, "n_estimators": 120},
    "binary-base-score": {"base_score": 0.3},
    "binary-lossguide": {"grow_policy": "lossguide", "max_leaves": 31, "max_depth": 0},
    "binary-forest": {"num_parallel_tree": 3, "subsample": 0.7, "colsample_bynode": 0.8},
    "multiclass": {"multiclass": True},
    "regression": {"regression": True},
    "regression-absolute-error": {"regression": True, "objective": "reg:absoluteerror"},
}


def _fit(data: dict[str, Any], shape: dict[str, Any]) -> Any:
    params = dict(shape)
    multiclass = params.pop("multiclass", False)
    regression = params.pop("regression", False)
    common = {"n_estimators": 60, "max_depth": 5, "n_jobs": 1, "random_state": 3}
    common.update({k: params.pop(k) for k in ("n_estimators", "max_depth") if k in params})
    x = data["train"]
    if regression:
        target = np.abs(np.nan_to_num(data["train"][:, 2] / 1000.0)) + data["y"]
        return xgboost.XGBRegressor(**common, **params).fit(x, target)
    y = data["classes"] if multiclass else data["y"]
    return xgboost.XGBClassifier(**common, **params).fit(x, y)


@pytest.mark.parametrize("name", list(SHAPES))
def test_kernel_equals_xgboost_bit_for_bit(data: dict[str, Any], name: str) -> None:
    model = _fit(data, SHAPES[name])
    x = data["score"]
    booster = model.get_booster()
    trees = XGBoostTrees(booster, model._get_iteration_range(None), x.shape[1])
    got = trees.predict(x)
    assert got.dtype == np.float32
    assert np.array_equal(got, booster.inplace_predict(x))
    estimator = compile_estimator(model, x.shape[1])
    assert estimator.evaluator == "numba tree kernel"
    native = model.predict(x) if name.startswith("regression") else model.predict_proba(x)
    assert np.array_equal(estimator.predict(x), native)
    for rows in (1, 7, 8, 9, 64, 65, 130):
        assert np.array_equal(trees.predict(x[:rows]), got[:rows])
    # Numerical splits take the branch-free walk; the general kernel gives the same bits.
    assert trees._forest.kernel == "walk"
    trees._forest._walk = None
    assert np.array_equal(trees.predict(x), got)


def test_early_stopping_uses_the_best_iteration(data: dict[str, Any]) -> None:
    x, y = data["train"], data["y"]
    model = xgboost.XGBClassifier(
        n_estimators=400, early_stopping_rounds=5, n_jobs=1, random_state=3, learning_rate=0.3
    )
    model.fit(x[:20_000], y[:20_000], eval_set=[(x[20_000:], y[20_000:])], verbose=False)
    assert model.best_iteration + 1 < model.get_booster().num_boosted_rounds()
    estimator = compile_estimator(model, x.shape[1])
    assert estimator.evaluator == "numba tree kernel"
    assert np.array_equal(estimator.predict(data["score"]), model.predict_proba(data["score"]))


def test_categorical_splits_are_refused(data: dict[str, Any]) -> None:
    import pandas as pd

    n_num = data["n_num"]
    codes = np.nan_to_num(data["train"][:, n_num : n_num + 2], nan=-1).astype(np.int64)
    frame = pd.DataFrame(codes.astype(str), columns=["a", "b"]).astype("category")
    model = xgboost.XGBClassifier(
        n_estimators=10, enable_categorical=True, tree_method="hist", n_jobs=1, max_cat_to_onehot=1
    ).fit(frame, data["y"])
    with pytest.raises(NotCompilable, match="categorical splits"):
        XGBoostTrees(model.get_booster(), (0, 0), 2)


def test_a_model_with_another_missing_value_keeps_inplace_predict(data: dict[str, Any]) -> None:
    x = np.nan_to_num(data["train"])
    model = xgboost.XGBClassifier(n_estimators=10, missing=-999.0, n_jobs=1).fit(x, data["y"])
    estimator = compile_estimator(model, x.shape[1])
    assert estimator.evaluator == "XGBoost C API (missing=-999.0)"
    score = np.nan_to_num(data["score"], nan=-999.0)
    assert np.array_equal(estimator.predict(score), model.predict_proba(score))
