"""The exact statistics agree with scipy's reference implementations to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial import distance

from modelyard.errors import InvalidInput
from modelyard.monitoring import stats

TOL = {"rel": 1e-9, "abs": 1e-12}


def _samples(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    return [
        (rng.normal(0, 1, 3000), rng.normal(0.1, 1.2, 2000)),
        (rng.lognormal(10, 0.5, 20_000), 0.8 * rng.lognormal(10, 0.5, 15_000)),
        (rng.integers(0, 12, 5000).astype(float), rng.integers(0, 13, 7000).astype(float)),
        (rng.poisson(0.3, 50), rng.poisson(0.5, 40)),
        (np.round(rng.beta(2, 9, 12_000), 3), np.round(rng.beta(2, 8, 11_000), 3)),
        (np.zeros(100), np.ones(100)),
    ]


def test_ks_matches_scipy_statistic_and_asymptotic_p_value(rng: np.random.Generator) -> None:
    for a, b in _samples(rng):
        d, p = stats.ks_2samp(a, b)
        ref = sps.ks_2samp(a, b, method="asymp")
        assert d == pytest.approx(ref.statistic, **TOL)
        assert p == pytest.approx(ref.pvalue, **TOL)
        # the statistic does not depend on scipy's method
        assert d == pytest.approx(sps.ks_2samp(a, b).statistic, **TOL)


def test_ks_p_value_equals_scipy_default_above_ten_thousand(rng: np.random.Generator) -> None:
    a, b = rng.normal(0, 1, 12_000), rng.normal(0.02, 1, 11_000)
    assert stats.ks_2samp(a, b)[1] == pytest.approx(sps.ks_2samp(a, b).pvalue, **TOL)


def test_wasserstein_matches_scipy(rng: np.random.Generator) -> None:
    for a, b in _samples(rng):
        assert stats.wasserstein_distance(a, b) == pytest.approx(
            sps.wasserstein_distance(a, b), **TOL
        )


def test_chi2_contingency_matches_scipy_with_and_without_yates(rng: np.random.Generator) -> None:
    tables = [
        np.array([[120, 80, 30, 5], [100, 95, 20, 12]]),
        np.array([[30, 10], [20, 25]]),  # one degree of freedom: Yates' correction
        np.array([[5, 5], [5, 5]]),
        rng.integers(1, 500, size=(3, 6)),
    ]
    for t in tables:
        stat, p, dof = stats.chi2_contingency(t)
        ref = sps.chi2_contingency(t)
        assert stat == pytest.approx(ref.statistic, **TOL)
        assert p == pytest.approx(ref.pvalue, **TOL)
        assert dof == ref.dof


def test_chi2_counts_drops_empty_categories() -> None:
    stat, p, dof = stats.chi2_counts([50, 0, 30, 20], [40, 0, 35, 25])
    ref = sps.chi2_contingency(np.array([[50, 30, 20], [40, 35, 25]]))
    assert (stat, p, dof) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue), 2)
    assert stats.chi2_counts([10, 0], [5, 0]) == (0.0, 1.0, 0)


def test_chi2_contingency_rejects_bad_tables() -> None:
    with pytest.raises(InvalidInput, match="2-D table"):
        stats.chi2_contingency([1, 2, 3])
    with pytest.raises(InvalidInput, match="count > 0"):
        stats.chi2_contingency([[1, 0], [2, 0]])


def test_jensenshannon_matches_scipy(rng: np.random.Generator) -> None:
    for _ in range(5):
        p, q = rng.integers(0, 100, 7), rng.integers(1, 100, 7)
        assert stats.jensenshannon(p, q) == pytest.approx(distance.jensenshannon(p, q), **TOL)
        assert stats.jensenshannon(p, q, base=2) == pytest.approx(
            distance.jensenshannon(p, q, base=2), **TOL
        )
    assert stats.jensenshannon([1, 0], [0, 1]) == pytest.approx(np.sqrt(np.log(2)))
    assert stats.jensenshannon([3, 4], [3, 4]) == 0.0


def test_psi_floors_empty_bins_and_is_zero_for_equal_shares() -> None:
    assert stats.psi([10, 20, 30], [20, 40, 60]) == pytest.approx(0.0, abs=1e-15)
    r, c = np.array([0.5, 0.5, 0.0]), np.array([0.4, 0.4, 0.2])
    rr, cc = np.maximum(r, stats.PSI_EPS), c
    assert stats.psi(r, c) == pytest.approx(float(np.sum((cc - rr) * np.log(cc / rr))))


def test_quantile_psi_uses_reference_deciles(rng: np.random.Generator) -> None:
    a = rng.normal(0, 1, 10_000)
    assert stats.quantile_psi(a, a) == pytest.approx(0.0, abs=1e-12)
    # a one-sd shift of a normal: PSI over deciles is close to the analytic ~0.9
    assert 0.7 < stats.quantile_psi(a, rng.normal(1, 1, 10_000)) < 1.1
    cuts = stats.decile_cuts(np.sort(np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 2.0])))
    assert cuts.tolist() == [0.0, 1.0]  # an atom never straddles two bins


def test_samples_without_finite_values_are_refused() -> None:
    with pytest.raises(InvalidInput, match="no finite values"):
        stats.ks_2samp([np.nan, np.inf], [1.0])
