"""The branch-free walk gives the general kernel's answers, bit for bit, or is not used.

:class:`FlatForest` folds each column's missing value into one fill value that
every split on the column sends the way the model sends a missing value. These
tests build forests at random — thresholds in the inputs' range, missing values
sent left or right at random — and score matrices with nulls, zeros, values equal
to thresholds and infinities, in float64 and in float32 (XGBoost and
scikit-learn's ``tree_``), against the general kernel, with each column's
missing values sent one way or both ways.
"""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.compiled import _tree_kernel as kernel
from modelyard.compiled._flat_forest import FlatForest, _missing_fill


def _random_forest(
    rng: np.random.Generator, width: int, trees: int, threshold_dtype: type, nan_right: float
) -> tuple[np.ndarray, ...]:
    """A forest in the general kernel's arrays: random shapes, splits and directions."""
    feature, threshold, children, missing_right, roots, leaves = [], [], [], [], [], []
    node_base = leaf_base = 0
    for _ in range(trees):
        n_leaves = int(rng.integers(1, 16))
        if n_leaves == 1:
            roots.append(~leaf_base)
            leaves.append(rng.normal(size=1))
            leaf_base += 1
            continue
        # Grow by splitting a random leaf: inner node i has children that are inner
        # nodes (>= 0, local) or leaves (< 0, ~local leaf).
        slots = [(None, 0)]  # (parent inner node, side) of each current leaf
        kids: list[list[int]] = []
        for i in range(n_leaves - 1):
            parent, side = slots.pop(int(rng.integers(len(slots))))
            if parent is not None:
                kids[parent][side] = i
            kids.append([0, 0])
            slots += [(i, 0), (i, 1)]
        for j, (parent, side) in enumerate(slots):
            kids[parent][side] = ~j
        inner = n_leaves - 1
        pair = np.asarray(kids, dtype=np.int64)
        feature.append(rng.integers(0, width, size=inner))
        threshold.append(np.round(rng.normal(size=inner), 1).astype(threshold_dtype))
        children.append(np.where(pair >= 0, pair + node_base, ~(~pair + leaf_base)))
        missing_right.append((rng.random(inner) < nan_right).astype(np.int32))
        roots.append(node_base)
        leaves.append(rng.normal(size=n_leaves))
        node_base += inner
        leaf_base += n_leaves
    return (
        np.concatenate(feature).astype(np.int32),
        np.concatenate(threshold),
        np.concatenate(children).astype(np.int32),
        np.zeros(node_base, dtype=np.uint8),
        np.concatenate(missing_right),
        np.zeros((node_base, 2), dtype=np.int32),
        np.zeros(1, dtype=np.uint32),
        np.asarray(roots, dtype=np.int32),
        np.zeros(trees, dtype=np.int32),
        np.concatenate(leaves).reshape(-1, 1),
    )


def _matrix(rng: np.random.Generator, rows: int, width: int, dtype: type) -> np.ndarray:
    x = np.round(rng.normal(size=(rows, width)), 1)  # many values equal to a threshold
    cells = rng.random(x.shape)
    x[cells < 0.1] = np.nan
    x[(cells >= 0.1) & (cells < 0.15)] = 0.0
    x[(cells >= 0.15) & (cells < 0.17)] = np.inf
    x[(cells >= 0.17) & (cells < 0.19)] = -np.inf
    return np.ascontiguousarray(x, dtype=dtype)


def _scores(forest: FlatForest, x: np.ndarray) -> np.ndarray:
    out = np.empty((len(x), 1), dtype=np.float64)
    forest.evaluate(x, 1, 1.0, kernel.SIGMOID, 1.0, np.zeros(1), 0.0, out)
    return out


@pytest.mark.parametrize("input_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threshold_dtype", [np.float64, np.float32])
def test_the_walk_equals_the_general_kernel_where_missing_values_fold(
    input_dtype: type, threshold_dtype: type
) -> None:
    rng = np.random.default_rng(7)
    for seed_forest in range(6):
        # Per column, every split sends a missing value the same way (as LightGBM and
        # XGBoost models trained without missing values in a column do).
        arrays = _random_forest(
            rng, width=6, trees=40, threshold_dtype=threshold_dtype, nan_right=0
        )
        feature, missing_right = arrays[0], arrays[4]
        right_columns = rng.random(6) < 0.5
        missing_right[:] = right_columns[feature]
        forest = FlatForest(arrays, input_dtype=input_dtype)
        assert forest.kernel == "walk", seed_forest
        x = _matrix(rng, 1_000, 6, input_dtype)
        walked = _scores(forest, x)
        forest._walk = None
        assert np.array_equal(walked, _scores(forest, x)), seed_forest


def test_a_column_whose_splits_send_missing_values_both_ways_is_walked_from_two_copies() -> None:
    """Trained with missing values, LightGBM and XGBoost pick each split's direction."""
    rng = np.random.default_rng(11)
    for input_dtype in (np.float64, np.float32):
        arrays = _random_forest(rng, width=3, trees=60, threshold_dtype=np.float64, nan_right=0.5)
        forest = FlatForest(arrays, input_dtype=input_dtype)
        assert forest.kernel == "walk"
        source = forest._walk[3]
        assert len(source) > 3 and set(source.tolist()) == {0, 1, 2}  # second copies
        x = _matrix(rng, 1_000, 3, input_dtype)
        walked = _scores(forest, x)
        forest._walk = None
        assert np.array_equal(walked, _scores(forest, x))


@pytest.mark.parametrize("input_dtype", [np.float64, np.float32])
def test_splits_at_infinity_sending_missing_values_right_are_walked(input_dtype: type) -> None:
    """LightGBM splits a column with nulls into "every value left, missing right" with a
    threshold of +inf; the walk caps +inf at the largest finite value in that column's
    copy and moves those splits there."""
    rng = np.random.default_rng(17)
    for seed_forest in range(4):
        arrays = _random_forest(rng, width=4, trees=50, threshold_dtype=np.float64, nan_right=0.5)
        threshold, missing_right = arrays[1], arrays[4]
        at_infinity = rng.random(len(threshold)) < 0.15
        threshold[at_infinity] = np.inf
        missing_right[at_infinity] = 1
        forest = FlatForest(arrays, input_dtype=input_dtype)
        assert forest.kernel == "walk", seed_forest
        x = _matrix(rng, 1_000, 4, input_dtype)
        x[rng.random(x.shape) < 0.05] = np.finfo(input_dtype).max
        walked = _scores(forest, x)
        forest._walk = None
        assert np.array_equal(walked, _scores(forest, x)), seed_forest


def test_a_split_at_the_largest_finite_value_keeps_the_general_kernel() -> None:
    """Capping +inf there would send +inf left of it: no fill works."""
    rng = np.random.default_rng(19)
    arrays = _random_forest(rng, width=2, trees=30, threshold_dtype=np.float64, nan_right=0.5)
    threshold, missing_right = arrays[1], arrays[4]
    threshold[:2] = [np.inf, np.finfo(np.float64).max]
    missing_right[:2] = 1
    assert FlatForest(arrays, input_dtype=np.float64).kernel == "general"


def test_the_fill_value_is_checked_against_every_split_on_its_column() -> None:
    f64 = np.dtype(np.float64)
    left = np.array([False, False])
    assert _missing_fill(np.array([0.5, -2.0]), left, f64) == -np.inf
    assert _missing_fill(np.array([0.5, -2.0]), ~left, f64) == np.inf
    # LightGBM's missing type None reads NaN as 0.0: right below 0, left above.
    assert _missing_fill(np.array([-1.0, 2.0]), np.array([True, False]), f64) == 0.0
    # Right of 3.0 and left of 5.0: some value between them.
    fill = _missing_fill(np.array([3.0, 5.0]), np.array([True, False]), f64)
    assert fill is not None and 3.0 < fill <= 5.0
    # Right of 5.0 but left of 3.0: no value does both.
    assert _missing_fill(np.array([5.0, 3.0]), np.array([True, False]), f64) is None
    # In float32, 0.1 (float64 threshold) rounds up: the fill must still go left of it.
    f32 = np.dtype(np.float32)
    fill = _missing_fill(np.array([0.0, 0.1]), np.array([True, False]), f32)
    assert fill is not None
    assert np.float32(fill) > 0.0 and not np.float32(fill) > 0.1
    # A split at +inf sending missing values right: no value is above +inf.
    assert _missing_fill(np.array([np.inf]), np.array([True]), f64) is None
    # No split on the column: any value (never compared).
    assert _missing_fill(np.array([]), np.array([], dtype=bool), f64) == 0.0


def test_categorical_and_zero_missing_nodes_keep_the_general_kernel() -> None:
    rng = np.random.default_rng(3)
    arrays = list(_random_forest(rng, width=4, trees=5, threshold_dtype=np.float64, nan_right=0))
    kind = arrays[3].copy()
    kind[0] = kernel.ZERO_MISSING
    assert FlatForest((*arrays[:3], kind, *arrays[4:]), input_dtype=np.float64).kernel == "general"
    kind[0] = kernel.CATEGORICAL
    assert FlatForest((*arrays[:3], kind, *arrays[4:]), input_dtype=np.float64).kernel == "general"


def test_a_matrix_wider_than_the_columns_split_on_is_walked() -> None:
    rng = np.random.default_rng(5)
    arrays = _random_forest(rng, width=3, trees=20, threshold_dtype=np.float64, nan_right=0)
    forest = FlatForest(arrays, input_dtype=np.float64)
    x = _matrix(rng, 200, 8, np.float64)  # columns 3..7 read by no split
    walked = _scores(forest, x)
    forest._walk = None
    assert np.array_equal(walked, _scores(forest, x))
