"""Contributions plus the base value equal the model's raw score, on every supported shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.svm import SVC

from modelyard.errors import InvalidInput
from modelyard.explain import Explainer, explainable

SEED = 20261207
NUMERIC = ["income", "debt ratio", "age"]
CATEGORICAL = ["region", "channel"]
COLUMNS = NUMERIC + CATEGORICAL
# XGBoost adds its leaves in float32; its margin agrees with the float64 explanation to this.
XGBOOST_FLOAT32 = 1e-5


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    n = 1500
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.4, n),
            "debt ratio": rng.uniform(0, 1, n),
            "age": rng.integers(18, 80, n).astype(float),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "channel": rng.choice(["web", "branch", "phone"], n),
        }
    )
    frame.loc[rng.random(n) < 0.05, "debt ratio"] = np.nan
    z = (
        2.5 * frame["debt ratio"].fillna(0.5)
        - 0.00002 * frame["income"]
        + (frame["region"] == "south") * 0.8
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    value = z + rng.normal(0, 0.1, n)
    return frame, y, value.to_numpy()


def _ordinal() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", "passthrough", NUMERIC),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
        ]
    )


def _onehot() -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", make_pipeline(_imputer(), StandardScaler()), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )


def _imputer() -> Any:
    from sklearn.impute import SimpleImputer

    return SimpleImputer(strategy="median")


def _lightgbm() -> Any:
    from lightgbm import LGBMClassifier

    return LGBMClassifier(n_estimators=40, num_leaves=15, n_jobs=1, verbose=-1, random_state=1)


def _xgboost() -> Any:
    from xgboost import XGBClassifier

    return XGBClassifier(n_estimators=40, max_depth=4, n_jobs=1, random_state=1)


def _native_hgb() -> Pipeline:
    encode = ColumnTransformer(
        [
            ("num", "passthrough", NUMERIC),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
                CATEGORICAL,
            ),
        ]
    )
    # Categorical columns last here: the model's own preprocessor moves them first.
    model = HistGradientBoostingClassifier(max_iter=15, categorical_features=[3, 4], random_state=1)
    return Pipeline([("encode", encode), ("model", model)])


CLASSIFIERS = {
    "onehot_logistic": lambda: Pipeline([("encode", _onehot()), ("model", LogisticRegression())]),
    "ordinal_lightgbm": lambda: Pipeline([("encode", _ordinal()), ("model", _lightgbm())]),
    "ordinal_xgboost": lambda: Pipeline([("encode", _ordinal()), ("model", _xgboost())]),
    "native_hgb": _native_hgb,
    "ordinal_hgb": lambda: Pipeline(
        [("encode", _ordinal()), ("model", HistGradientBoostingClassifier(max_iter=15))]
    ),
    "random_forest": lambda: Pipeline(
        [
            ("encode", _ordinal()),
            ("impute", _imputer()),
            ("model", RandomForestClassifier(n_estimators=15, max_depth=5, random_state=1)),
        ]
    ),
    "extra_trees": lambda: Pipeline(
        [
            ("encode", _ordinal()),
            ("impute", _imputer()),
            ("model", ExtraTreesClassifier(n_estimators=15, max_depth=5, random_state=1)),
        ]
    ),
    "gradient_boosting": lambda: Pipeline(
        [
            ("encode", _ordinal()),
            ("impute", _imputer()),
            ("model", GradientBoostingClassifier(n_estimators=20, random_state=1)),
        ]
    ),
}
REGRESSORS = {
    "onehot_ridge": lambda: Pipeline([("encode", _onehot()), ("model", Ridge())]),
    "onehot_linear": lambda: Pipeline([("encode", _onehot()), ("model", LinearRegression())]),
    "ordinal_hgb_regressor": lambda: Pipeline(
        [("encode", _ordinal()), ("model", HistGradientBoostingRegressor(max_iter=15))]
    ),
    "random_forest_regressor": lambda: Pipeline(
        [
            ("encode", _ordinal()),
            ("impute", _imputer()),
            ("model", RandomForestRegressor(n_estimators=10, max_depth=5, random_state=1)),
        ]
    ),
}


def _check_sum(model: Any, frame: pd.DataFrame, kind_tolerance: float) -> Any:
    explainer = Explainer(model, COLUMNS, background=frame)
    c = explainer.contributions(frame.head(120))
    assert c.values.shape == (120, len(COLUMNS))
    assert c.columns == COLUMNS
    np.testing.assert_allclose(c.values.sum(axis=1) + c.base, c.raw, rtol=0, atol=kind_tolerance)
    return explainer, c


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifier_contributions_sum_to_the_raw_score(name: str, data: Any) -> None:
    frame, y, _ = data
    model = CLASSIFIERS[name]().fit(frame, y)
    _, c = _check_sum(model, frame, 1e-6)
    probability = model.predict_proba(frame.head(120))[:, 1]
    if name.startswith(("random", "extra")):
        expected = probability  # forests average probabilities: that is their raw score
    else:
        expected = np.log(probability / (1 - probability))  # log-odds
    np.testing.assert_allclose(c.raw, expected, rtol=0, atol=1e-4)
    # Every column the model uses gets some contribution: the mapping did not lose one.
    assert np.abs(c.values).sum(axis=0)[COLUMNS.index("debt ratio")] > 0


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressor_contributions_sum_to_the_prediction(name: str, data: Any) -> None:
    frame, _, value = data
    model = REGRESSORS[name]().fit(frame, value)
    _, c = _check_sum(model, frame, 1e-6)
    np.testing.assert_allclose(c.raw, model.predict(frame.head(120)), rtol=0, atol=1e-9)


def test_bare_lightgbm_on_a_numeric_frame(data: Any) -> None:
    frame, y, _ = data
    numeric = frame[NUMERIC]
    model = _lightgbm().fit(numeric, y)
    c = Explainer(model, NUMERIC).contributions(numeric.head(50))
    np.testing.assert_allclose(c.values.sum(axis=1) + c.base, c.raw, rtol=0, atol=1e-6)


def test_one_hot_groups_are_summed_into_their_column(data: Any) -> None:
    frame, y, _ = data
    model = CLASSIFIERS["onehot_logistic"]().fit(frame, y)
    c = Explainer(model, COLUMNS, background=frame).contributions(frame.head(20))
    coef = model[-1].coef_[0]
    x = model[:-1].transform(frame.head(20))
    x = x.toarray() if hasattr(x, "toarray") else x
    mean = model[:-1].transform(frame.head(1000))  # the explainer reads at most 1000 rows
    mean = (mean.toarray() if hasattr(mean, "toarray") else mean).mean(axis=0)
    # region's one-hot block sits after the three numeric columns
    block = slice(3, 3 + len(model[0].named_transformers_["cat"].categories_[0]))
    expected = (coef[block] * (x[:, block] - mean[block])).sum(axis=1)
    np.testing.assert_allclose(c.values[:, COLUMNS.index("region")], expected, atol=1e-12)


def test_an_unsupported_estimator_is_refused_naming_it(data: Any) -> None:
    frame, y, _ = data
    steps = [("encode", _ordinal()), ("impute", _imputer()), ("svm", SVC())]
    model = Pipeline(steps).fit(frame.head(200), y[:200])
    assert "SVC" in (explainable(model) or "")
    with pytest.raises(InvalidInput, match="SVC"):
        Explainer(model, COLUMNS)


def test_a_step_that_mixes_columns_is_refused_naming_the_step(data: Any) -> None:
    frame, y, _ = data
    model = Pipeline(
        [
            ("encode", _ordinal()),
            ("impute", _imputer()),
            ("reduce", PCA(3)),
            ("model", LogisticRegression()),
        ]
    ).fit(frame, y)
    with pytest.raises(InvalidInput, match=r"step 'reduce' \(PCA\)"):
        Explainer(model, COLUMNS, background=frame)


def test_a_multiclass_model_is_refused(data: Any) -> None:
    frame, y, _ = data
    classes = y + (frame["age"].to_numpy() > 60).astype(int)
    model = Pipeline([("encode", _ordinal()), ("model", _lightgbm())]).fit(frame, classes)
    with pytest.raises(InvalidInput, match="3 classes"):
        Explainer(model, COLUMNS).contributions(frame.head(5))


def test_a_linear_model_needs_background_rows(data: Any) -> None:
    frame, y, _ = data
    model = CLASSIFIERS["onehot_logistic"]().fit(frame, y)
    with pytest.raises(InvalidInput, match="background"):
        Explainer(model, COLUMNS)


def test_rows_missing_a_column_are_refused(data: Any) -> None:
    frame, y, _ = data
    model = CLASSIFIERS["ordinal_lightgbm"]().fit(frame, y)
    with pytest.raises(InvalidInput, match="age"):
        Explainer(model, COLUMNS).contributions(frame.drop(columns=["age"]).head(3))


def test_the_tables_give_the_recursive_algorithms_numbers_on_native_categories(
    data: Any,
) -> None:
    from modelyard.explain._estimators import _TABULATED
    from modelyard.explain._treeshap import tree_shap

    frame, y, _ = data
    model = _native_hgb().fit(frame, y)
    rows = frame.head(40).copy()
    rows.loc[rows.index[:5], "region"] = "unseen"  # an unknown category: the default child
    Explainer(model, COLUMNS).contributions(rows)
    fast = _TABULATED[model[-1]]
    pre = model[-1]._preprocess_X(model[:-1].transform(rows), reset=False)
    tabulated = fast.contributions(pre)
    np.testing.assert_allclose(tabulated, fast.recursive(pre), rtol=0, atol=1e-12)
    np.testing.assert_allclose(tabulated, fast.recursive(pre, tree_shap=tree_shap), atol=1e-12)


@pytest.mark.parametrize(
    "name", ["random_forest", "extra_trees", "gradient_boosting", "random_forest_regressor"]
)
def test_scikit_learn_trees_equal_shaps_exact_tree_explainer(name: str, data: Any) -> None:
    import shap

    frame, y, value = data
    shapes = {**CLASSIFIERS, **REGRESSORS}
    model = shapes[name]().fit(frame, value if name.endswith("regressor") else y)
    c = Explainer(model, COLUMNS).contributions(frame.head(120))
    matrix = model[:-1].transform(frame.head(120))
    explanation = shap.TreeExplainer(model[-1])(matrix, check_additivity=False)
    values, base = explanation.values, np.asarray(explanation.base_values)
    if values.ndim == 3:
        values, base = values[..., -1], base[..., -1]
    # The ordinal encoder keeps one matrix column per input column, in order.
    np.testing.assert_allclose(c.values, values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(c.base, np.broadcast_to(base.ravel(), (120,)), rtol=0, atol=1e-9)


def _xgboost_margin(model: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """XGBoost's own (float32) contributions and margin for the rows of ``frame``."""
    import xgboost

    matrix = model[:-1].transform(frame)
    data = xgboost.DMatrix(np.asarray(matrix, dtype=np.float32), missing=np.nan)
    booster = model[-1].get_booster()
    return booster.predict(data, pred_contribs=True), booster.predict(data, output_margin=True)


def test_xgboost_is_explained_in_float64_and_agrees_with_its_own_float32(data: Any) -> None:
    frame, y, _ = data
    model = Pipeline([("encode", _ordinal()), ("model", _xgboost())]).fit(frame, y)
    _, c = _check_sum(model, frame, 1e-6)
    own, margin = _xgboost_margin(model, frame.head(120))
    # The ordinal encoder keeps one matrix column per input column, in order.
    np.testing.assert_allclose(c.values, own[:, :-1], rtol=0, atol=XGBOOST_FLOAT32)
    np.testing.assert_allclose(c.raw, margin, rtol=0, atol=XGBOOST_FLOAT32)
    assert c.method.startswith("exact TreeSHAP in float64")


def test_an_xgboost_regressor_has_the_identity_link(data: Any) -> None:
    from xgboost import XGBRegressor

    frame, _, value = data
    model = Pipeline(
        [("encode", _ordinal()), ("model", XGBRegressor(n_estimators=30, max_depth=3, n_jobs=1))]
    ).fit(frame, value)
    _, c = _check_sum(model, frame, 1e-6)
    np.testing.assert_allclose(c.raw, model.predict(frame.head(120)), rtol=1e-5, atol=1e-4)


def test_xgboost_shapes_not_read_from_the_trees_use_its_own_contributions(data: Any) -> None:
    from xgboost import XGBClassifier

    from modelyard.explain._xgboost_trees import xgboost_float64

    frame, y, _ = data
    dart = XGBClassifier(booster="dart", n_estimators=10, max_depth=3, n_jobs=1, random_state=1)
    model = Pipeline([("encode", _ordinal()), ("model", dart)]).fit(frame, y)
    assert xgboost_float64(model[-1], model[:-1].transform(frame.head(5))) is None
    # XGBoost's own TreeSHAP then: additive to its float32 rounding only.
    _check_sum(model, frame, XGBOOST_FLOAT32)


def test_a_path_too_wide_for_any_table_is_not_a_budget_overflow() -> None:
    """A tree with a path of 24 distinct features (its subset tables would need 2**24
    entries and more) goes to the recursive algorithm; that is the path's width, not
    the budget, so the other trees keep the widest subtree units."""
    from modelyard.explain import _fasttreeshap
    from modelyard.explain._fasttreeshap import FastTreeShap, NodeTrees

    depth = 24
    n = 2 * depth + 1  # a chain: inner node j at 2j, its left leaf at 2j + 1
    left, right = np.full(n, -1), np.full(n, -1)
    inner = np.arange(0, 2 * depth, 2)
    left[inner], right[inner] = inner + 1, inner + 2
    feature = np.zeros(n, dtype=np.int64)
    feature[inner] = np.arange(depth)
    cover = np.zeros(n)
    cover[inner] = 2.0 ** (depth - np.arange(depth) + 1)
    cover[inner + 1] = cover[inner] / 2
    cover[-1] = 2.0
    chain = {
        "left": left,
        "right": right,
        "feature": feature,
        "threshold": np.zeros(n),
        "value": np.linspace(-1.0, 1.0, n),
        "cover": cover,
    }
    stump = {  # a small tree that fits any table
        "left": np.array([1, -1, -1]),
        "right": np.array([2, -1, -1]),
        "feature": np.array([0, 0, 0]),
        "threshold": np.zeros(3),
        "value": np.array([0.0, -0.5, 0.5]),
        "cover": np.array([4.0, 2.0, 2.0]),
    }
    explainer = FastTreeShap(NodeTrees.from_trees([chain, stump]), depth)
    assert explainer.fallback_trees == [0]
    assert not explainer.over_budget
    assert explainer.subtree_index_bits == _fasttreeshap.SUBTREE_INDEX_BITS[0]
    rows = np.random.default_rng(3).normal(size=(50, depth))
    np.testing.assert_allclose(
        explainer.contributions(rows).sum(axis=1) + explainer.base,
        explainer.leaf_sum(rows),
        rtol=0,
        atol=1e-9,
    )
