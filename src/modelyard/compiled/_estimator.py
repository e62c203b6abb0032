"""The interface every compiled final estimator has (linear models, boosters, trees)."""

from __future__ import annotations

import numpy as np

__all__ = ["Estimator"]


class Estimator:
    """A compiled final step. ``rejects_nan``: NaN in the matrix goes the canonical way."""

    kind = "compiled"
    tolerance = 0.0
    rejects_nan = False

    def predict(self, matrix: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError
