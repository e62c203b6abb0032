"""The tabulated TreeSHAP gives the libraries' own exact TreeSHAP numbers on late rows.

The late months bring nulls, categories training never saw and new ranges.
On those rows the contributions of each tree shape must equal what the
model's own library (LightGBM's ``pred_contrib``), ``shap``'s exact tree
explainer, or the recursive algorithm (Lundberg et al. 2018, Algorithm 2) on
the same split decisions give — to 1e-9 — and add up with the base value to
the raw score (log-odds) to 1e-6.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from realistic_pipelines import split_xy
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from modelyard.data.out_of_time import CATEGORICAL, FEATURES, NUMERIC
from modelyard.explain import Explainer
from modelyard.explain._treeshap import tree_shap as vectorised_tree_shap

COLUMNS = list(FEATURES)
ROWS = 200
EXACT = 1e-9
TREE_SHAPES = ["native_categorical_hgb", "ordinal_lightgbm", "ordinal_xgboost"]


@pytest.fixture(scope="module")
def rows(late: pd.DataFrame) -> pd.DataFrame:
    sample = late[COLUMNS].sample(ROWS, random_state=21)
    assert sample["employment_years"].isna().any()
    assert (sample["channel"] == "app").any()
    return sample


def _tabulated(explainer: Explainer) -> Any:
    """The FastTreeShap the explainer used for its estimator (built on first use)."""
    from modelyard.explain import _estimators, _lightgbm_trees, _xgboost_trees

    estimator = explainer._estimator
    if explainer.kind == "lightgbm":
        return _lightgbm_trees._CACHE[estimator.booster_]
    if explainer.kind == "xgboost":
        return _xgboost_trees._CACHE[estimator].shap
    found = _estimators._TABULATED[estimator]
    return found[0] if isinstance(found, tuple) else found


@pytest.mark.parametrize("name", TREE_SHAPES)
def test_tables_equal_the_recursive_algorithm_and_add_up(
    name: str, fitted_pipelines: dict[str, Pipeline], early: pd.DataFrame, rows: pd.DataFrame
) -> None:
    model = fitted_pipelines[name]
    x, _ = split_xy(early)
    explainer = Explainer(model, COLUMNS, background=x)
    c = explainer.contributions(rows)
    np.testing.assert_allclose(c.values.sum(axis=1) + c.base, c.raw, rtol=0, atol=1e-6)
    p = model.predict_proba(rows)[:, 1]
    np.testing.assert_allclose(c.raw, np.log(p / (1 - p)), rtol=0, atol=1e-4)

    fast = _tabulated(explainer)
    assert fast.fallback_trees == []
    assert (fast._unit_d > 0).any()  # subtrees tabulated as one
    matrix = np.asarray(model[:-1].transform(rows), dtype=np.float64)
    if name == "native_categorical_hgb":
        matrix = np.asarray(model[-1]._preprocess_X(matrix, reset=False), dtype=np.float64)
    tabulated = fast.contributions(matrix)
    np.testing.assert_allclose(tabulated, fast.recursive(matrix), rtol=0, atol=EXACT)
    vectorised = fast.recursive(matrix[:40], tree_shap=vectorised_tree_shap)
    np.testing.assert_allclose(tabulated[:40], vectorised, rtol=0, atol=EXACT)


def test_lightgbm_equals_its_own_pred_contrib(
    fitted_pipelines: dict[str, Pipeline], early: pd.DataFrame, rows: pd.DataFrame
) -> None:
    model = fitted_pipelines["ordinal_lightgbm"]
    x, _ = split_xy(early)
    c = Explainer(model, COLUMNS, background=x).contributions(rows)
    own = model[-1].booster_.predict(model[:-1].transform(rows), pred_contrib=True)
    # The ordinal encoder keeps one matrix column per input column: numeric, then categorical.
    order = [COLUMNS.index(col) for col in (*NUMERIC, *CATEGORICAL)]
    np.testing.assert_allclose(c.values[:, order], own[:, :-1], rtol=0, atol=EXACT)
    np.testing.assert_allclose(c.base, own[:, -1], rtol=0, atol=EXACT)


def test_xgboost_agrees_with_shaps_tree_explainer_to_float32(
    fitted_pipelines: dict[str, Pipeline], early: pd.DataFrame, rows: pd.DataFrame
) -> None:
    import shap

    model = fitted_pipelines["ordinal_xgboost"]
    x, _ = split_xy(early)
    c = Explainer(model, COLUMNS, background=x).contributions(rows)
    matrix = np.asarray(model[:-1].transform(rows), dtype=np.float64)
    # shap hands XGBoost models to XGBoost's own pred_contribs, which adds in float32:
    # the float64 terms (equal to the recursive algorithm's to 1e-9, above) agree to
    # float32 rounding over the trees.
    explanation = shap.TreeExplainer(model[-1])(matrix, check_additivity=False)
    order = [COLUMNS.index(col) for col in (*NUMERIC, *CATEGORICAL)]
    np.testing.assert_allclose(c.values[:, order], explanation.values, rtol=0, atol=1e-5)


def _lightgbm_with(encode_unknown: float | int, **params: Any) -> Pipeline:
    from lightgbm import LGBMClassifier

    encode = ColumnTransformer(
        [
            ("num", "passthrough", list(NUMERIC)),
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=encode_unknown,
                    encoded_missing_value=np.nan,
                ),
                list(CATEGORICAL),
            ),
        ]
    )
    model = LGBMClassifier(n_estimators=60, num_leaves=31, n_jobs=1, verbose=-1, **params)
    return Pipeline([("encode", encode), ("model", model)])


@pytest.mark.parametrize(
    "params",
    [
        # Native categorical splits (bitsets); unknown and null categories are NaN.
        {"categorical_feature": list(range(len(NUMERIC), len(COLUMNS))), "unknown": np.nan},
        # The same with unknown categories as -1 (negative: to the right child).
        {"categorical_feature": list(range(len(NUMERIC), len(COLUMNS))), "unknown": -1},
        # Zero as missing: 0.0 and NaN both take the default child.
        {"zero_as_missing": True, "unknown": -1},
        # Missing values off: NaN is read as 0.0.
        {"use_missing": False, "unknown": -1},
    ],
    ids=["categorical-nan", "categorical-negative", "zero-as-missing", "no-missing"],
)
def test_lightgbm_split_rules_match_pred_contrib(
    params: dict[str, Any], early: pd.DataFrame, rows: pd.DataFrame
) -> None:
    params = dict(params)
    unknown = params.pop("unknown")
    categorical = params.pop("categorical_feature", None)
    model = _lightgbm_with(unknown, random_state=4, **params)
    x, y = split_xy(early)
    fit_params = {} if categorical is None else {"model__categorical_feature": categorical}
    model.fit(x, y, **fit_params)
    booster = model[-1].booster_
    if categorical is not None:
        assert "num_cat=0" not in booster.model_to_string().split("Tree=1")[0]
    c = Explainer(model, COLUMNS).contributions(rows)
    np.testing.assert_allclose(c.values.sum(axis=1) + c.base, c.raw, rtol=0, atol=1e-6)
    own = booster.predict(model[:-1].transform(rows), pred_contrib=True)
    order = [COLUMNS.index(col) for col in (*NUMERIC, *CATEGORICAL)]
    np.testing.assert_allclose(c.values[:, order], own[:, :-1], rtol=0, atol=EXACT)
    np.testing.assert_allclose(c.base, own[:, -1], rtol=0, atol=EXACT)


def test_wide_paths_fall_back_to_the_recursive_algorithm_per_tree(
    fitted_pipelines: dict[str, Pipeline],
    early: pd.DataFrame,
    rows: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from modelyard.explain import _fasttreeshap
    from modelyard.explain._lightgbm_trees import _read

    booster = fitted_pipelines["ordinal_lightgbm"][-1].booster_
    matrix = np.asarray(fitted_pipelines["ordinal_lightgbm"][:-1].transform(rows), np.float64)
    reference = booster.predict(matrix, pred_contrib=True)[:, :-1]
    # Paths of more than 6 distinct features: those trees by the recursive algorithm.
    monkeypatch.setattr(_fasttreeshap, "MAX_PATH_FEATURES", 6)
    mixed = _read(booster, booster.num_feature())
    assert mixed is not None and 0 < len(mixed.fallback_trees) < mixed.trees.n_trees
    # Paths too wide for a table are not a budget overflow: the widest units still.
    assert not mixed.over_budget
    assert mixed.subtree_index_bits == _fasttreeshap.SUBTREE_INDEX_BITS[0]
    np.testing.assert_allclose(mixed.contributions(matrix), reference, rtol=0, atol=EXACT)
    # No per-term tables (only the 2**k subset tables): the same numbers.
    monkeypatch.setattr(_fasttreeshap, "MAX_PATH_FEATURES", 16)
    monkeypatch.setattr(_fasttreeshap, "VECTOR_BUDGET", 0)
    subsets = _read(booster, booster.num_feature())
    assert subsets is not None and not subsets._unit_vectors.any()
    np.testing.assert_allclose(subsets.contributions(matrix), reference, rtol=0, atol=EXACT)
    # A table budget of nothing: every tree recursive.
    monkeypatch.setattr(_fasttreeshap, "TABLE_BUDGET", 0)
    recursive = _read(booster, booster.num_feature())
    assert recursive is not None and len(recursive.fallback_trees) == recursive.trees.n_trees
    np.testing.assert_allclose(recursive.contributions(matrix), reference, rtol=0, atol=EXACT)


def test_subtree_units_shrink_to_fit_the_table_budget(
    fitted_pipelines: dict[str, Pipeline], rows: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The widest subtree units whose tables fit the budget: a budget that the widest
    overflow gets narrower units, every term still tabulated and the same numbers."""
    from modelyard.explain import _fasttreeshap
    from modelyard.explain._lightgbm_trees import _read

    booster = fitted_pipelines["ordinal_lightgbm"][-1].booster_
    matrix = np.asarray(fitted_pipelines["ordinal_lightgbm"][:-1].transform(rows), np.float64)
    reference = booster.predict(matrix, pred_contrib=True)[:, :-1]
    widest = _read(booster, booster.num_feature())
    assert widest is not None and widest.subtree_index_bits == _fasttreeshap.SUBTREE_INDEX_BITS[0]
    assert not widest.over_budget and widest._unit_vectors.all()
    monkeypatch.setattr(
        _fasttreeshap, "SUBTREE_INDEX_BITS", (_fasttreeshap.SUBTREE_INDEX_BITS[-1],)
    )
    narrowest = _read(booster, booster.num_feature())
    assert narrowest is not None and narrowest.table_entries < widest.table_entries
    # A budget between the two: the widest units overflow it, the narrowest fit.
    monkeypatch.setattr(_fasttreeshap, "SUBTREE_INDEX_BITS", (11, 10, 9))
    between = (narrowest.table_entries + widest.table_entries) // 2
    monkeypatch.setattr(_fasttreeshap, "VECTOR_BUDGET", between)
    fitted = _read(booster, booster.num_feature())
    assert fitted is not None and fitted.subtree_index_bits < 11
    assert not fitted.over_budget and fitted._unit_vectors.all() and not fitted.fallback_trees
    np.testing.assert_allclose(fitted.contributions(matrix), reference, rtol=0, atol=EXACT)
    # No budget that fits: the narrowest units, the overflow on the slower forms, exact.
    monkeypatch.setattr(_fasttreeshap, "VECTOR_BUDGET", narrowest.table_entries // 2)
    squeezed = _read(booster, booster.num_feature())
    assert squeezed is not None and squeezed.over_budget and squeezed.subtree_index_bits == 9
    assert not squeezed._unit_vectors.all()
    np.testing.assert_allclose(squeezed.contributions(matrix), reference, rtol=0, atol=EXACT)


def test_one_row_and_many_give_the_same_numbers(
    fitted_pipelines: dict[str, Pipeline], early: pd.DataFrame, rows: pd.DataFrame
) -> None:
    model = fitted_pipelines["ordinal_lightgbm"]
    explainer = Explainer(model, COLUMNS)
    together = explainer.contributions(rows.head(30)).values
    alone = np.vstack([explainer.contributions(rows.iloc[[i]]).values for i in range(30)])
    np.testing.assert_array_equal(together, alone)
