"""Fixtures for report tests: one seeded synthetic sample, two trained models, their reports.

Models and reports are module-scoped where tests only read them: training and
SHAP run once per worker, which keeps tests/reports well inside its time budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelyard.data import synthetic
from modelyard.demo import credit_models
from modelyard.reports import ValidationResult, validate_model

FEATURES = list(synthetic.FEATURES)
TARGET = synthetic.TARGET
SEED = 20261124


@pytest.fixture(scope="session")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): the first 4,000 applications train, the last 2,000 validate."""
    data = synthetic.generate(6000, seed=SEED)
    return data.iloc[:4000].reset_index(drop=True), data.iloc[4000:].reset_index(drop=True)


@pytest.fixture(scope="session")
def lightgbm_model(frames: tuple[pd.DataFrame, pd.DataFrame]) -> Any:
    train, _ = frames
    x, y = credit_models.split_xy(train)
    return credit_models.lightgbm_pipeline(n_estimators=50, n_jobs=1).fit(x, y)


@pytest.fixture(scope="session")
def logistic_model(frames: tuple[pd.DataFrame, pd.DataFrame]) -> Any:
    train, _ = frames
    x, y = credit_models.split_xy(train)
    return credit_models.logistic_pipeline().fit(x, y)


def proba(model: Any) -> Any:
    """The scoring function the registry would pass: probability of default per row."""
    return lambda frame: model.predict_proba(frame)[:, 1]


@pytest.fixture(scope="session")
def lightgbm_report(
    frames: tuple[pd.DataFrame, pd.DataFrame], lightgbm_model: Any
) -> ValidationResult:
    train, holdout = frames
    return validate_model(
        proba(lightgbm_model),
        holdout,
        target=TARGET,
        features=FEATURES,
        model_name="credit-risk",
        version=7,
        reference_data=train,
        segment_by=["region", "income"],
        fairness_attribute="home_ownership",
        threshold=0.2,
        model_for_importance=lightgbm_model,
        max_rows_for_importance=1000,
        seed=3,
    )


@pytest.fixture(scope="session")
def logistic_report(
    frames: tuple[pd.DataFrame, pd.DataFrame], logistic_model: Any
) -> ValidationResult:
    _, holdout = frames
    return validate_model(
        logistic_model.predict_proba,  # 2-D output: the last column is the default
        holdout,
        target=TARGET,
        features=FEATURES,
        model_name="credit-risk",
        version="8",
        model_for_importance=logistic_model,
        max_rows_for_importance=1000,
    )


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)
