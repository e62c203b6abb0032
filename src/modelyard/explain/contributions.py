"""Per-decision contributions of a model's input columns to its raw score.

:class:`Explainer` takes the native model of a version (a scikit-learn
``Pipeline`` whose last step is the estimator, or a bare estimator), splits
it into preprocessing and estimator, computes the estimator's contributions
on the transformed matrix (``_estimators``) and adds them up per input
column (``columns.column_map``). For every row::

    contributions.values[row].sum() + contributions.base[row] == contributions.raw[row]

to within float rounding, where ``raw`` is the estimator's own raw score
(log-odds for boosted and logistic classifiers). A model shape that cannot
be explained exactly raises ``InvalidInput`` naming the step, when the
explainer is built — before any request depends on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import InvalidInput
from modelyard.explain._estimators import (
    SUPPORTED,
    estimator_contributions,
    estimator_kind,
    estimator_values,
    prepare,
)
from modelyard.explain.columns import column_map

__all__ = ["Contributions", "Explainer", "explainable"]

BACKGROUND_ROWS = 1000


@dataclass(frozen=True)
class Contributions:
    """Per-row contributions of each input column, the base value and the raw score."""

    columns: list[str]
    values: np.ndarray  # (rows, columns)
    base: np.ndarray  # (rows,)
    raw: np.ndarray  # (rows,)
    method: str

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values, columns=self.columns)


def _split(model: Any) -> tuple[list[tuple[str, Any]], Any]:
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        steps = [(n, s) for n, s in model.steps[:-1]]
        return steps, model.steps[-1][1]
    return [], model


def explainable(model: Any) -> str | None:
    """None when ``model`` can be explained, else why not (names the step)."""
    steps, estimator = _split(model)
    if estimator_kind(estimator) is None:
        last = f"step {type(estimator).__name__!r}" if steps else type(estimator).__name__
        return f"cannot explain {last}: per-decision explanations support {SUPPORTED}"
    return None


class Explainer:
    """Contributions of each input column for one fitted model.

    Args:
        model: A fitted Pipeline (preprocessing steps, then the estimator) or estimator.
        columns: The input column names, in the order the model reads them.
        background: Training rows for a linear model's reference point (its
            column means after preprocessing); required for linear models.

    Raises:
        InvalidInput: The model shape is not supported (the step is named).
    """

    def __init__(
        self, model: Any, columns: list[str], background: pd.DataFrame | None = None
    ) -> None:
        why = explainable(model)
        if why is not None:
            raise InvalidInput(why)
        self.columns = list(columns)
        self._steps, self._estimator = _split(model)
        self.kind = estimator_kind(self._estimator) or ""
        self._map = column_map(self._steps, self.columns)
        self._matrix = np.zeros((len(self._map), len(self.columns)))
        self._matrix[np.arange(len(self._map)), self._map] = 1.0
        self._mean: np.ndarray | None = None
        # A tree model's TreeSHAP tables (and the compiled kernels) are built here, once,
        # so that no explained request pays for them.
        prepare(self.kind, self._estimator, len(self._map))
        if self.kind == "linear":
            if background is None or background.empty:
                raise InvalidInput(
                    "explaining a linear model needs background rows (the training example)"
                )
            transformed = self._transform(background[self.columns].head(BACKGROUND_ROWS))
            dense = transformed.toarray() if hasattr(transformed, "toarray") else transformed
            self._mean = np.asarray(dense, dtype=np.float64).mean(axis=0)

    @property
    def method(self) -> str:
        return {
            "lightgbm": "exact TreeSHAP (tabulated) over LightGBM's trees",
            "xgboost": "exact TreeSHAP in float64 over XGBoost's trees (tabulated)",
            "hgb": "exact path-dependent TreeSHAP (tabulated) over HistGradientBoosting's trees",
            "sklearn-tree": "exact path-dependent TreeSHAP (tabulated) over scikit-learn's trees",
            "linear": "coefficient x (value - training mean)",
        }[self.kind]

    def _transform(self, frame: pd.DataFrame) -> Any:
        out: Any = frame
        for _, step in self._steps:
            if step is None or step == "passthrough":
                continue
            out = step.transform(out)
        return out

    def contributions(self, frame: pd.DataFrame) -> Contributions:
        """Contributions of every input column for every row of ``frame``."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InvalidInput(f"cannot explain: the rows lack column(s) {missing}")
        return self.contributions_of_matrix(self._transform(frame[self.columns]))

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        """Contributions (rows, input columns) only, without the estimator's raw score.

        What reasons need: the same numbers as ``contributions(frame).values``, without
        the estimator's own scoring pass that ``contributions`` adds as a check.
        """
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InvalidInput(f"cannot explain: the rows lack column(s) {missing}")
        return self.values_of_matrix(self._transform(frame[self.columns]))

    def values_of_matrix(self, matrix: Any) -> np.ndarray:
        """``values`` for rows already transformed (see ``contributions_of_matrix``)."""
        matrix = self._checked(matrix)
        values = estimator_values(self.kind, self._estimator, matrix, self._mean)
        return np.asarray(values @ self._matrix)

    def _checked(self, matrix: Any) -> Any:
        if self.kind != "linear" and hasattr(matrix, "toarray"):
            matrix = matrix.toarray()
        width = matrix.shape[1]
        if width != len(self._map):
            raise InvalidInput(
                f"cannot explain: the preprocessing gave {width} columns, expected {len(self._map)}"
            )
        return matrix

    def contributions_of_matrix(self, matrix: Any) -> Contributions:
        """Contributions for rows already transformed by the model's preprocessing.

        Serving passes the matrix its compiled path encoded (checked to give
        exactly the native pipeline's answers), which skips pandas and
        scikit-learn's preprocessing.
        """
        matrix = self._checked(matrix)
        values, base, raw = estimator_contributions(self.kind, self._estimator, matrix, self._mean)
        return Contributions(
            columns=list(self.columns),
            values=values @ self._matrix,
            base=base,
            raw=raw,
            method=self.method,
        )
