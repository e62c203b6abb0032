"""Shared, seeded data and small fitted models for the flavor tests.

Models are small (50 trees, one thread) so the whole flavors suite stays
well under a minute on two cores; session scope trains each once per worker.
"""

from __future__ import annotations

import pandas as pd
import pytest

from modelyard.data import synthetic
from modelyard.demo.credit_models import NUMERIC, lightgbm_pipeline, logistic_pipeline, split_xy

TRAIN_SEED = 20_261
HOLDOUT_SEED = 20_262


@pytest.fixture(scope="session")
def train() -> tuple[pd.DataFrame, pd.Series]:
    return split_xy(synthetic.generate(5_000, seed=TRAIN_SEED))


@pytest.fixture(scope="session")
def holdout() -> pd.DataFrame:
    """New rows from the same population, never seen in training."""
    return split_xy(synthetic.generate(2_000, seed=HOLDOUT_SEED))[0]


@pytest.fixture(scope="session")
def lgbm_pipeline(train):
    """OrdinalEncoder for the categoricals, LightGBM on top."""
    X, y = train
    return lightgbm_pipeline(n_estimators=50).fit(X, y)


@pytest.fixture(scope="session")
def logistic(train):
    """StandardScaler + OneHotEncoder, logistic regression on top."""
    X, y = train
    return logistic_pipeline().fit(X, y)


@pytest.fixture(scope="session")
def bare_lgbm(train):
    from lightgbm import LGBMClassifier

    X, y = train
    model = LGBMClassifier(n_estimators=50, num_leaves=15, n_jobs=1, verbose=-1, random_state=3)
    return model.fit(X[NUMERIC], y)


@pytest.fixture(scope="session")
def bare_xgb(train):
    from xgboost import XGBClassifier

    X, y = train
    model = XGBClassifier(n_estimators=50, max_depth=4, n_jobs=1, random_state=3)
    return model.fit(X[NUMERIC], y)
