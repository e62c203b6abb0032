"""scikit-learn's tree ensembles through the numba tree kernel, bit for bit.

The numpy traversal of ``modelyard.compiled.trees`` is the reference the kernel
replaces; both are compared with ``np.array_equal`` to scikit-learn's own
``predict_proba``/``predict`` on 10,000 out-of-time rows (``conftest.py``):
with NaN for HistGradientBoosting, which routes it; without for the forests and
GradientBoosting, whose compiled form leaves NaN to the canonical path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from modelyard.compiled.estimators import compile_estimator

MODELS: dict[str, tuple[Callable[[], Any], str, bool]] = {
    # name: (model, target, keeps NaN)
    "random-forest": (
        lambda: RandomForestClassifier(n_estimators=30, min_samples_leaf=5, random_state=3),
        "y",
        False,
    ),
    "random-forest-multiclass": (
        lambda: RandomForestClassifier(n_estimators=20, max_depth=12, random_state=3),
        "classes",
        False,
    ),
    "random-forest-regressor": (
        lambda: RandomForestRegressor(n_estimators=20, max_depth=10, random_state=3),
        "value",
        False,
    ),
    "extra-trees": (
        lambda: ExtraTreesClassifier(n_estimators=30, max_depth=14, random_state=3),
        "y",
        False,
    ),
    "gradient-boosting": (
        lambda: GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=3),
        "y",
        False,
    ),
    "gradient-boosting-multiclass": (
        lambda: GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=3),
        "classes",
        False,
    ),
    "gradient-boosting-regressor": (
        lambda: GradientBoostingRegressor(n_estimators=40, random_state=3),
        "value",
        False,
    ),
    "hist-gradient-boosting": (
        lambda: HistGradientBoostingClassifier(max_iter=60, random_state=3),
        "y",
        True,
    ),
    "hist-gradient-boosting-multiclass": (
        lambda: HistGradientBoostingClassifier(max_iter=30, random_state=3),
        "classes",
        True,
    ),
    "hist-gradient-boosting-regressor": (
        lambda: HistGradientBoostingRegressor(max_iter=60, random_state=3),
        "value",
        True,
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_kernel_equals_scikit_learn_bit_for_bit(data: dict[str, Any], name: str) -> None:
    make, target, keeps_nan = MODELS[name]
    train = data["train"] if keeps_nan else np.nan_to_num(data["train"])
    score = data["score"] if keeps_nan else np.nan_to_num(data["score"], posinf=1e30, neginf=-1e30)
    if target == "value":
        y = np.abs(np.nan_to_num(data["train"][:, 2] / 1000.0)) + data["y"]
    else:
        y = data[target]
    model = make().fit(train[:12_000], y[:12_000])
    estimator = compile_estimator(model, train.shape[1])
    assert estimator.evaluator == "numba tree kernel"
    native = model.predict(score) if target == "value" else model.predict_proba(score)
    got = estimator.predict(score)
    assert np.array_equal(got, native)
    # The numpy traversal (the reference) gives the same.
    estimator._raw = estimator._numpy_raw
    assert np.array_equal(estimator.predict(score), native)
