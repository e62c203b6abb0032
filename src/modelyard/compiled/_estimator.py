"""The interface every compiled final estimator has (linear models, boosters, trees)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

__all__ = ["Estimator"]


class Estimator(ABC):
    """A compiled final step. ``rejects_nan``: NaN in the matrix goes the canonical way;
    ``evaluator``: what computes the scores (shown in the compile report)."""

    kind = "compiled"
    evaluator = "numpy"
    tolerance = 0.0
    rejects_nan = False

    @abstractmethod
    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Scores of ``matrix`` (rows x the preprocessed columns)."""
