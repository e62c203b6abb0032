"""The binned path: fast binning is exact, and binned statistics match scipy or stay
within their documented bounds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from modelyard.monitoring import _grid, stats


def _reference_bins(points: np.ndarray, x: np.ndarray) -> np.ndarray:
    i = np.searchsorted(points, x, "left")
    padded = np.append(points, np.inf)
    return 2 * i + (padded[i] == x)


def _binned(points: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = _grid.Grid(points)
    counts, offsets = g.zeros()
    g.accumulate(x, counts, offsets)
    return counts, offsets


def _grid_of(ref: np.ndarray, size: int = 1000) -> np.ndarray:
    s = np.sort(ref)
    u = np.unique(s)
    if u.size > size:
        u = np.unique(s[np.round(np.linspace(0, s.size - 1, size)).astype(int)])
    return np.unique(np.concatenate([u, [s[0], s[-1]]]))


@pytest.mark.parametrize(
    "make",
    [
        lambda r: r.normal(0, 1, 50_000),
        lambda r: np.round(r.lognormal(10, 0.5, 50_000)),  # integers, skewed
        lambda r: np.round(r.beta(2, 9, 50_000), 4),  # decimals with many ties
        lambda r: r.integers(0, 40, 50_000).astype(float),
        lambda r: np.concatenate([r.normal(0, 1, 50_000), [1e12, -1e12]]),  # extreme tails
        lambda r: 1e9 + r.normal(0, 1, 50_000),  # a small spread far from zero
    ],
)
def test_bin_equals_searchsorted(rng: np.random.Generator, make) -> None:
    ref = make(rng)
    points = _grid_of(ref)
    g = _grid.Grid(points)
    cur = np.concatenate(
        [
            make(rng),
            points,
            np.nextafter(points, -np.inf),
            np.nextafter(points, np.inf),
            [-1e300, 1e300],
        ]
    )
    np.testing.assert_array_equal(g.bin(cur), _reference_bins(points, cur))


def test_single_point_grid(rng: np.random.Generator) -> None:
    g = _grid.Grid([3.0])
    x = np.array([1.0, 3.0, 5.0])
    assert g.bin(x).tolist() == [0, 1, 2]


def test_grid_points_must_increase() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        _grid.Grid([1.0, 1.0])


@pytest.mark.parametrize(
    "make",
    [
        lambda r, s: r.integers(18, 80, 20_000 + s).astype(float) + s,  # ages, shifted
        lambda r, s: np.round(r.gamma(1.6, 4.0, 15_000) * (1 + s / 5), 1),
        lambda r, s: r.poisson(0.4 + s, 20_000).astype(float),
    ],
)
def test_exact_grid_gives_scipys_ks_and_wasserstein(rng: np.random.Generator, make) -> None:
    ref, cur = make(rng, 0), make(rng, 1)
    points = np.unique(ref)  # every reference value is a grid point
    assert points.size <= 1000
    rc, ro = _binned(points, ref)
    cc, co = _binned(points, cur)
    assert not rc[0::2].any()  # grid_exact
    assert _grid.binned_ks(rc, cc) == pytest.approx(sps.ks_2samp(ref, cur).statistic, abs=1e-12)
    w = _grid.binned_wasserstein(points, rc, ro, cc, co)
    exact = sps.wasserstein_distance(ref, cur)
    assert w == pytest.approx(exact, rel=1e-9)
    assert _grid.binned_psi(points, rc, cc) == pytest.approx(stats.quantile_psi(ref, cur), rel=1e-9)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3])
def test_quantile_grid_stays_within_documented_bounds(rng: np.random.Generator, shift) -> None:
    ref = rng.lognormal(10.5, 0.5, 40_000)
    cur = rng.lognormal(10.5, 0.5, 30_000) * (1 - shift)
    points = _grid_of(ref, 1000)
    rc, ro = _binned(points, ref)
    cc, co = _binned(points, cur)
    d, exact_d = _grid.binned_ks(rc, cc), sps.ks_2samp(ref, cur).statistic
    assert exact_d - _grid.max_gap_mass(rc) - 1e-12 <= d <= exact_d + 1e-12
    assert _grid.max_gap_mass(rc) <= 1.5 / 1000
    # W1: documented as exact where the CDF difference keeps its sign over a gap;
    # measured here within 2% of scipy at no drift, 0.1% once there is drift.
    w, exact_w = (
        _grid.binned_wasserstein(points, rc, ro, cc, co),
        sps.wasserstein_distance(ref, cur),
    )
    assert w == pytest.approx(exact_w, rel=0.02 if shift == 0 else 1e-3)
    assert _grid.binned_psi(points, rc, cc) == pytest.approx(
        stats.quantile_psi(ref, cur), abs=0.003
    )


def test_values_beyond_the_reference_range_are_integrated_exactly(rng: np.random.Generator) -> None:
    ref = rng.uniform(0, 1, 5000)
    cur = np.concatenate([rng.uniform(-3, -1, 100), rng.uniform(2, 9, 100), ref[:1000]])
    points = np.unique(ref)  # exact grid of continuous values: every value a point
    rc, ro = _binned(points, ref)
    cc, co = _binned(points, cur)
    exact = sps.wasserstein_distance(ref, cur)
    assert _grid.binned_wasserstein(points, rc, ro, cc, co) == pytest.approx(exact, rel=1e-3)


def test_binned_quantile_is_a_point_or_a_gap_mean() -> None:
    points = np.array([1.0, 2.0, 3.0])
    counts, offsets = _binned(points, np.array([1.0, 2.0, 2.0, 3.0, 10.0]))
    assert _grid.binned_quantile(points, counts, offsets, 0.5) == 2.0
    counts, offsets = _binned(points, np.array([0.001, 0.002, 0.003]))
    assert _grid.binned_quantile(points, counts, offsets, 0.5) == pytest.approx(0.002)
    counts, offsets = _binned(points, np.array([1000.0, 3000.0]))
    assert _grid.binned_quantile(points, counts, offsets, 0.5) == pytest.approx(2000.0)
