"""Two credit-default models for the demo: a scorecard-style logistic regression and LightGBM.

Both are ordinary scikit-learn pipelines over the synthetic generator's
columns, the kind of model a bank's team already has.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from modelyard.data.synthetic import FEATURES, TARGET

CATEGORICAL = ["home_ownership", "loan_purpose", "region"]
NUMERIC = [f for f in FEATURES if f not in CATEGORICAL]


def split_xy(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    return frame[list(FEATURES)], frame[TARGET]


def logistic_pipeline(c: float = 1.0) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(C=c, max_iter=500))])


def lightgbm_pipeline(**params: Any) -> Pipeline:
    from lightgbm import LGBMClassifier

    settings = {
        "n_estimators": 200,
        "num_leaves": 31,
        "learning_rate": 0.05,
        "min_child_samples": 50,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "random_state": 7,
        "n_jobs": 1,  # more threads ran far slower on busy 2-core machines
        "verbose": -1,
    }
    settings.update(params)
    encode = ColumnTransformer(
        [
            ("num", "passthrough", NUMERIC),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
        ],
        verbose_feature_names_out=False,
    )
    return Pipeline([("encode", encode), ("model", LGBMClassifier(**settings))])
