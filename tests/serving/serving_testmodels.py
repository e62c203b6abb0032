"""Models for the serving tests that must be importable by name (the python flavor pickles
classes by reference)."""

from __future__ import annotations

import numpy as np
import pandas as pd

POISON_INCOME = 666.0


class FaultyScorecard:
    """A scorecard that raises on one income value: a model bug the server must survive."""

    classes_ = np.array([0, 1])

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        income = frame["income"].to_numpy(dtype=float)
        if (income == POISON_INCOME).any():
            raise ValueError("cannot score an income of 666")
        z = -2.0 + 3.0 * frame["debt_to_income"].to_numpy(dtype=float)
        p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(frame).argmax(axis=1)
