"""The numba tree kernel gives LightGBM's own answers, bit for bit, on out-of-time data.

Every model is trained on the generator's months before the regime change and
scored on 10,000 rows after it, where unseen categories, nulls and ranges
appear; more nulls, unseen category codes, zeros and values at LightGBM's
zero threshold are injected on top. Each supported shape is compared with
``np.array_equal`` to the library (``Booster.predict`` and the scikit-learn
model's ``predict_proba``/``predict``); a model the kernel does not reproduce
is refused with a reason and still scored exactly by the C API fallback.
"""

from __future__ import annotations

from typing import Any

import lightgbm
import numpy as np
import pytest

from modelyard.compiled.estimators import compile_estimator
from modelyard.compiled.lightgbm_trees import C_API, NUMBA, LightGBMTrees, load_lightgbm
from modelyard.compiled.preprocess import NotCompilable

SHAPES: dict[str, dict[str, Any]] = {
    "binary": {},
    "binary-categorical": {"categorical": True},
    "binary-sigmoid-0.7": {"sigmoid": 0.7},
    "binary-zero-as-missing": {"zero_as_missing": True},
    "binary-no-missing-handling": {"use_missing": False},
    "binary-random-forest": {
        "boosting_type": "rf",
        "bagging_freq": 1,
        "bagging_fraction": 0.7,
        "feature_fraction": 0.8,
    },
    "binary-single-leaf-trees": {"min_child_samples": 1_000_000},
    "multiclass": {"multiclass": True},
    "multiclass-categorical": {"multiclass": True, "categorical": True},
    "multiclassova": {"multiclass": True, "objective": "multiclassova"},
    "regression": {"regression": True},
    "regression-l1": {"regression": True, "objective": "regression_l1"},
    "poisson": {"regression": True, "objective": "poisson"},
}


def _fit(data: dict[str, Any], shape: dict[str, Any]) -> Any:
    params = dict(shape)
    categorical = params.pop("categorical", False)
    multiclass = params.pop("multiclass", False)
    regression = params.pop("regression", False)
    common = {"n_estimators": 60, "num_leaves": 31, "n_jobs": 1, "verbose": -1, "random_state": 3}
    fit: dict[str, Any] = {}
    if categorical:
        fit["categorical_feature"] = list(range(data["n_num"], data["train"].shape[1]))
    x = data["train"]
    if regression:
        target = data["train"][:, 2] / 1000.0 + data["y"]  # income-driven, positive
        target = np.abs(np.nan_to_num(target))
        return lightgbm.LGBMRegressor(**common, **params).fit(x, target, **fit)
    y = data["classes"] if multiclass else data["y"]
    return lightgbm.LGBMClassifier(**common, **params).fit(x, y, **fit)


@pytest.mark.parametrize("name", list(SHAPES))
def test_kernel_equals_lightgbm_bit_for_bit(data: dict[str, Any], name: str) -> None:
    model = _fit(data, SHAPES[name])
    x = data["score"]
    booster = model.booster_
    trees = LightGBMTrees(booster.model_to_string(num_iteration=-1))
    got = trees.predict(x)
    assert np.array_equal(got, booster.predict(x, num_threads=1))
    estimator = compile_estimator(model, x.shape[1])
    assert estimator.evaluator == NUMBA
    native = model.predict(x) if name.startswith(("regression", "poisson")) else None
    if native is None:
        native = model.predict_proba(x)
    assert np.array_equal(estimator.predict(x), native)
    # Any row count and any memory layout: blocks of rows, the four-row groups and the tail.
    for rows in (1, 3, 5, 63, 64, 65, 130):
        assert np.array_equal(trees.predict(x[:rows]), got[:rows])
    assert np.array_equal(trees.predict(np.asfortranarray(x[:130])), got[:130])
    assert trees.predict(x[:0]).shape[0] == 0
    # Numerical splits take the branch-free walk; the general kernel gives the same bits.
    general = "categorical" in name or "zero-as-missing" in name
    assert trees._forest.kernel == ("general" if general else "walk")
    if name in ("binary-random-forest", "multiclassova"):  # splits at +inf, missing right
        threshold, missing_right = trees._forest._general[1], trees._forest._general[4]
        assert np.any(np.isposinf(threshold) & (missing_right != 0))
    trees._forest._walk = None
    assert np.array_equal(trees.predict(x), got)


def test_best_iteration_is_honoured(data: dict[str, Any]) -> None:
    x, y = data["train"], data["y"]
    model = lightgbm.LGBMClassifier(n_estimators=300, n_jobs=1, verbose=-1, random_state=3)
    model.fit(
        x[:20_000],
        y[:20_000],
        eval_X=x[20_000:],
        eval_y=y[20_000:],
        callbacks=[lightgbm.early_stopping(5, verbose=False)],
    )
    assert model.booster_.best_iteration > 0
    estimator = compile_estimator(model, x.shape[1])
    assert estimator.evaluator == NUMBA
    assert np.array_equal(estimator.predict(data["score"]), model.predict_proba(data["score"]))
    text = model.booster_.model_to_string(num_iteration=-1)
    for iterations in (1, 7):
        trees = LightGBMTrees(text, num_iteration=iterations)
        expected = model.booster_.predict(data["score"], num_iteration=iterations, num_threads=1)
        assert np.array_equal(trees.predict(data["score"]), expected)


def test_linear_trees_are_refused_and_scored_by_the_c_api(data: dict[str, Any]) -> None:
    x = np.nan_to_num(data["train"][:, : data["n_num"]])
    model = lightgbm.LGBMClassifier(
        n_estimators=20, linear_tree=True, n_jobs=1, verbose=-1, random_state=3
    ).fit(x, data["y"])
    text = model.booster_.model_to_string()
    with pytest.raises(NotCompilable, match="linear trees"):
        LightGBMTrees(text)
    estimator = compile_estimator(model, x.shape[1])
    assert estimator.kind == "lightgbm-compiled"
    assert estimator.evaluator.startswith(f"{C_API} (a LightGBM model with linear trees")
    score = np.nan_to_num(data["score"][:, : data["n_num"]])
    assert np.array_equal(estimator.predict(score), model.predict_proba(score))


def test_predict_parameters_keep_lightgbms_own_predict(data: dict[str, Any]) -> None:
    model = _fit(data, {})
    text = model.booster_.model_to_string()
    predictor, evaluator = load_lightgbm(text, parameters="num_threads=1 pred_early_stop=true")
    assert evaluator.startswith(f"{C_API} (predict parameters pred_early_stop")
    _, evaluator = load_lightgbm(text, parameters="num_threads=1")
    assert evaluator == NUMBA
    assert predictor.num_feature == data["score"].shape[1]


def test_unsupported_objective_is_refused_with_its_name(data: dict[str, Any]) -> None:
    model = lightgbm.LGBMRegressor(
        n_estimators=5, objective="cross_entropy_lambda", n_jobs=1, verbose=-1
    ).fit(data["train"], data["y"])
    with pytest.raises(NotCompilable, match="cross_entropy_lambda"):
        LightGBMTrees(model.booster_.model_to_string())
    estimator = compile_estimator(model, data["train"].shape[1])
    assert estimator.evaluator.startswith(C_API)
    assert np.array_equal(estimator.predict(data["score"]), model.predict(data["score"]))


def test_a_matrix_of_the_wrong_width_is_named(data: dict[str, Any]) -> None:
    trees = LightGBMTrees(_fit(data, {}).booster_.model_to_string())
    with pytest.raises(NotCompilable, match="reads 20 columns"):
        trees.predict(np.zeros((2, 3)))


def test_the_frame_pipeline_reports_its_evaluator(data: dict[str, Any]) -> None:
    """The compile report names what evaluates the trees (shown by ``models get``)."""
    from modelyard.compiled.report import describe_scorer

    line = describe_scorer(
        {"scorer": "lightgbm-compiled", "evaluator": NUMBA, "compiled": True, "verified_rows": 5}
    )
    assert line.startswith("lightgbm-compiled: compiled, bit-identical to the native model")
    assert line.endswith("on 5 example rows; evaluator: numba tree kernel")
