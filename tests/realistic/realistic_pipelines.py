"""The four pipelines a bank's team typically registers, over the out-of-time columns.

Imported by ``conftest.py`` (fitted once per test process on the early months)
and by tests that need a fresh, unfitted copy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from modelyard.data.out_of_time import CATEGORICAL, FEATURES, NUMERIC, TARGET


def onehot_logistic() -> Pipeline:
    encode = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=1000))])


def ordinal_lightgbm() -> Pipeline:
    from lightgbm import LGBMClassifier

    encode = ColumnTransformer(
        [
            ("num", "passthrough", NUMERIC),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
        ]
    )
    model = LGBMClassifier(n_estimators=80, num_leaves=15, n_jobs=1, verbose=-1, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


def native_categorical_hgb() -> Pipeline:
    encode = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=np.nan,
                    encoded_missing_value=np.nan,
                ),
                CATEGORICAL,
            ),
            ("num", "passthrough", NUMERIC),
        ]
    )
    model = HistGradientBoostingClassifier(
        max_iter=80, categorical_features=list(range(len(CATEGORICAL))), random_state=3
    )
    return Pipeline([("encode", encode), ("model", model)])


def ordinal_xgboost() -> Pipeline:
    from xgboost import XGBClassifier

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
    model = XGBClassifier(
        n_estimators=80, max_depth=4, n_jobs=1, tree_method="hist", random_state=3
    )
    return Pipeline([("encode", encode), ("model", model)])


PIPELINES: dict[str, Callable[[], Pipeline]] = {
    "onehot_logistic": onehot_logistic,
    "ordinal_lightgbm": ordinal_lightgbm,
    "native_categorical_hgb": native_categorical_hgb,
    "ordinal_xgboost": ordinal_xgboost,
}


def split_xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame[list(FEATURES)], frame[TARGET]
