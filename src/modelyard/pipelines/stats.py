"""DeLong's test of the difference of two AUCs, as a one-sided non-inferiority test.

DeLong, DeLong and Clarke-Pearson (1988), computed with midranks (Sun and
Xu, 2014) in O(n log n). Two arms scored on different requests (a canary
split) are independent: the variances add. Two models scored on the same
requests (a shadow) are paired: their covariance is subtracted, which makes
the test far more sensitive for the same traffic.

The decision: promote when ``auc_challenger - auc_champion > -margin`` at
level ``alpha`` (one-sided), i.e. when the lower confidence bound of the
difference is above ``-margin``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm, rankdata

from modelyard.errors import InvalidInput

__all__ = ["AucComparison", "compare_aucs", "delong_components"]


def _labels(y: ArrayLike, what: str) -> np.ndarray:
    truth = np.asarray(y)
    if truth.ndim != 1:
        raise InvalidInput(f"{what}: labels must be 1-D")
    values = {int(v) for v in np.unique(truth).tolist() if isinstance(v, int | float)}
    if len(values) != len(np.unique(truth)) or not values <= {0, 1}:
        raise InvalidInput(f"{what}: labels must be 0/1; got values {sorted(map(str, values))[:5]}")
    return truth.astype(bool)


def delong_components(y: ArrayLike, score: ArrayLike) -> tuple[float, np.ndarray, np.ndarray]:
    """(AUC, V10 over positives, V01 over negatives) of one scorer."""
    truth = _labels(y, "delong")
    s = np.asarray(score, dtype=float)
    pos, neg = s[truth], s[~truth]
    m, n = len(pos), len(neg)
    if m < 2 or n < 2:
        raise InvalidInput("DeLong's test needs at least two positives and two negatives per arm")
    tx, ty = rankdata(pos), rankdata(neg)
    tz = rankdata(np.concatenate([pos, neg]))
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    return float(auc), v10, v01


def _variance(v10: np.ndarray, v01: np.ndarray) -> float:
    return float(np.var(v10, ddof=1) / len(v10) + np.var(v01, ddof=1) / len(v01))


@dataclass(frozen=True)
class AucComparison:
    method: str
    auc_champion: float
    auc_challenger: float
    difference: float
    std_error: float
    z: float
    p_value: float
    lower_bound: float
    margin: float
    alpha: float
    n_champion: int
    n_challenger: int
    not_worse: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare_aucs(
    y_champion: ArrayLike,
    s_champion: ArrayLike,
    y_challenger: ArrayLike,
    s_challenger: ArrayLike,
    *,
    paired: bool = False,
    margin: float = 0.0,
    alpha: float = 0.05,
) -> AucComparison:
    """Non-inferiority of the challenger's AUC to the champion's (see the module docstring).

    With ``paired=True`` both arms must be the same rows (same labels, same order).
    """
    if not 0 < alpha < 0.5:
        raise InvalidInput(f"alpha must be between 0 and 0.5; got {alpha!r}")
    if margin < 0:
        raise InvalidInput(f"margin must be >= 0; got {margin!r}")
    auc_a, v10_a, v01_a = delong_components(y_champion, s_champion)
    auc_b, v10_b, v01_b = delong_components(y_challenger, s_challenger)
    if paired:
        if not np.array_equal(_labels(y_champion, "champion"), _labels(y_challenger, "challenger")):
            raise InvalidInput("a paired comparison needs the same labelled rows in both arms")
        s10 = np.cov(np.vstack([v10_a, v10_b]), ddof=1) / len(v10_a)
        s01 = np.cov(np.vstack([v01_a, v01_b]), ddof=1) / len(v01_a)
        s = s10 + s01
        var = float(s[0, 0] + s[1, 1] - 2 * s[0, 1])
    else:
        var = _variance(v10_a, v01_a) + _variance(v10_b, v01_b)
    se = max(var, 1e-24) ** 0.5
    diff = auc_b - auc_a
    z = (diff + margin) / se
    p_value = float(norm.sf(z))
    lower = diff - float(norm.ppf(1 - alpha)) * se
    return AucComparison(
        method="delong-paired" if paired else "delong-unpaired",
        auc_champion=auc_a,
        auc_challenger=auc_b,
        difference=diff,
        std_error=se,
        z=float(z),
        p_value=p_value,
        lower_bound=lower,
        margin=float(margin),
        alpha=float(alpha),
        n_champion=int(len(v10_a) + len(v01_a)),
        n_challenger=int(len(v10_b) + len(v01_b)),
        not_worse=bool(p_value < alpha),
    )
