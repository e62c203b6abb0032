"""Two-sample drift statistics, exact on full samples or computed from category counts.

Each function here is a plain statistic of its arguments, the reference implementation
the binned path (``_grid``) is tested against. The sample versions agree with scipy on
the same data to 1e-9 (tests/monitoring/test_stats.py):

- ``ks_2samp`` = ``scipy.stats.ks_2samp(a, b, method="asymp")``: the statistic is the
  same whatever the method; the p-value is Smirnov's asymptotic one, which scipy's
  default also uses once either sample has more than 10,000 values.
- ``wasserstein_distance`` = ``scipy.stats.wasserstein_distance(a, b)``.
- ``chi2_contingency`` = ``scipy.stats.chi2_contingency(table)`` (Yates' correction
  when there is one degree of freedom, as scipy's default).
- ``jensenshannon`` = ``scipy.spatial.distance.jensenshannon(p, q)``: natural logarithm,
  as scipy's default and Evidently's, so one threshold means the same in both; it lies
  in [0, sqrt(ln 2)] = [0, 0.833] (``base=2`` gives [0, 1]).

``psi`` (population stability index) has no scipy counterpart; its bins and the floor on
empty bins (``PSI_EPS``, as Evidently and most credit-risk practice use) are documented
on the function.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special
from scipy import stats as sps

from modelyard.errors import InvalidInput

__all__ = [
    "PSI_BINS",
    "PSI_EPS",
    "chi2_contingency",
    "chi2_counts",
    "decile_cuts",
    "finite_or_none",
    "jensenshannon",
    "ks_2samp",
    "ks_pvalue",
    "psi",
    "quantile_psi",
    "wasserstein_distance",
]

PSI_EPS = 1e-4
"""Proportions below this are raised to it, so an empty bin costs a finite PSI."""
PSI_BINS = 10
"""Numeric PSI uses the reference's deciles as bin edges."""


def _sample(x: object, name: str) -> np.ndarray:
    """Finite float64 values of a 1-D sample; NaN and inf are dropped."""
    a = np.asarray(x, dtype=np.float64).ravel()
    a = a[np.isfinite(a)]
    if not a.size:
        raise InvalidInput(f"The {name!r} sample has no finite values; it needs at least one.")
    return a


def ks_pvalue(d: float, n1: int, n2: int) -> float:
    """Two-sided p-value of a two-sample KS statistic, Smirnov's asymptotic form.

    The same expression as ``scipy.stats.ks_2samp(..., method="asymp")``.
    """
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(sps.distributions.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def ks_2samp(a: object, b: object) -> tuple[float, float]:
    """Return the two-sample Kolmogorov-Smirnov statistic and its p-value.

    The statistic is ``sup |F_a(x) - F_b(x)|`` of the empirical CDFs.
    """
    a, b = np.sort(_sample(a, "a")), np.sort(_sample(b, "b"))
    pooled = np.concatenate([a, b])
    diff = np.searchsorted(a, pooled, side="right") / a.size
    diff -= np.searchsorted(b, pooled, side="right") / b.size
    d = float(max(diff.max(), np.clip(-diff.min(), 0.0, 1.0)))
    return d, ks_pvalue(d, a.size, b.size)


def wasserstein_distance(a: object, b: object) -> float:
    """Return the first Wasserstein (earth mover's) distance ``integral |F_a - F_b| dx``."""
    a, b = np.sort(_sample(a, "a")), np.sort(_sample(b, "b"))
    pooled = np.concatenate([a, b])
    pooled.sort(kind="mergesort")
    deltas = np.diff(pooled)
    cdf_a = a.searchsorted(pooled[:-1], "right") / a.size
    cdf_b = b.searchsorted(pooled[:-1], "right") / b.size
    return float(np.dot(np.abs(cdf_a - cdf_b), deltas))


def chi2_contingency(table: object) -> tuple[float, float, int]:
    """Pearson's chi-squared test of independence; return (statistic, p-value, dof).

    Raises:
        InvalidInput: ``table`` is not a 2-D table of counts with non-zero margins.
    """
    observed = np.asarray(table, dtype=np.float64)
    if observed.ndim != 2 or observed.size == 0 or np.any(observed < 0):
        raise InvalidInput(
            f"chi2_contingency needs a 2-D table of non-negative counts. Got shape "
            f"{observed.shape} instead."
        )
    rows, cols = observed.sum(axis=1), observed.sum(axis=0)
    total = observed.sum()
    expected = np.multiply.outer(rows, cols) / total if total else observed
    if np.any(expected == 0):
        raise InvalidInput("chi2_contingency needs every row and column to have a count > 0.")
    dof = expected.size - sum(expected.shape) + 1
    if dof == 0:
        return 0.0, 1.0, 0
    if dof == 1:  # Yates' continuity correction, at most the difference (scipy gh-13875)
        diff = expected - observed
        observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    stat = float(np.sum((observed - expected) ** 2 / expected))
    return stat, float(sps.chi2.sf(stat, dof)), dof


def chi2_counts(ref: Sequence[float], cur: Sequence[float]) -> tuple[float, float, int]:
    """Chi-squared test of two count vectors over the same categories (a 2 x k table).

    Categories empty in both are dropped; with fewer than two left the test is trivial
    (statistic 0, p-value 1).
    """
    table = np.vstack([np.asarray(ref, dtype=np.float64), np.asarray(cur, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or np.any(table.sum(axis=1) == 0):
        return 0.0, 1.0, 0
    return chi2_contingency(table)


def jensenshannon(p: Sequence[float], q: Sequence[float], base: float = math.e) -> float:
    """Jensen-Shannon distance between two count or probability vectors (see above)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0
    js = (np.sum(special.rel_entr(p, m)) + np.sum(special.rel_entr(q, m))) / np.log(base)
    return float(np.sqrt(max(js, 0.0) / 2.0))


def psi(ref: Sequence[float], cur: Sequence[float], eps: float = PSI_EPS) -> float:
    """Population stability index of two count vectors over the same bins.

    ``sum((c - r) * ln(c / r))`` over bin proportions ``r`` and ``c``, each at least
    ``eps``. 0.1 is commonly read as a moderate shift and 0.2 as a significant one.
    """
    r = np.asarray(ref, dtype=np.float64)
    c = np.asarray(cur, dtype=np.float64)
    r = np.maximum(r / r.sum(), eps)
    c = np.maximum(c / c.sum(), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def decile_cuts(sorted_ref: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """The reference's quantiles at 1/bins, ..., (bins-1)/bins (observed values), deduplicated.

    Bins are then ``(-inf, c1], (c1, c2], ..., (c_last, inf)``; a value equal to a cut
    goes left, so an atom (a repeated value) never straddles two bins.
    """
    n = sorted_ref.size
    ranks = np.ceil(np.arange(1, bins) * n / bins).astype(np.int64) - 1  # inverted CDF
    return np.unique(sorted_ref[np.clip(ranks, 0, n - 1)])


def quantile_psi(a: object, b: object, bins: int = PSI_BINS) -> float:
    """PSI of sample ``b`` against reference sample ``a`` over ``a``'s quantile bins."""
    a, b = np.sort(_sample(a, "a")), _sample(b, "b")
    cuts = decile_cuts(a, bins)
    ref = np.bincount(np.searchsorted(cuts, a, "left"), minlength=cuts.size + 1)
    cur = np.bincount(np.searchsorted(cuts, b, "left"), minlength=cuts.size + 1)
    return psi(ref, cur)


def finite_or_none(x: float | None) -> float | None:
    """``x`` as a float, or None when it is missing or not finite (reports are strict JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
