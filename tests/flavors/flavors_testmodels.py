"""A hand-written model for the python flavor, importable by a child process.

Lives in its own module (not a test file) because pickle stores the class by
module and name; the round-trip test puts this directory on the child's path.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class ScorecardModel:
    """A points-based scorecard: the kind of model the python flavor exists for."""

    classes_ = np.array([0, 1])

    def __init__(self, cutoff: float = 0.5) -> None:
        self.cutoff = cutoff

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        z = (
            -2.2
            + 2.5 * frame["debt_to_income"].to_numpy(dtype=float)
            + 1.5 * frame["utilisation"].to_numpy(dtype=float)
            + 0.4 * frame["delinquencies_2y"].to_numpy(dtype=float)
            - 0.02 * frame["credit_history_years"].to_numpy(dtype=float)
        )
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame)[:, 1] >= self.cutoff).astype(np.int64)


class MeanRegressor:
    """Predicts a constant: a python-flavor regressor (no predict_proba)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame), self.value)
