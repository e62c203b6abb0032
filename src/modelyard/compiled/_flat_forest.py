"""A flattened tree ensemble and the numba kernel that evaluates it.

The model readers (:mod:`~modelyard.compiled.lightgbm_trees`,
:mod:`~modelyard.compiled.xgboost_trees`, :mod:`~modelyard.compiled.trees`)
flatten their trees into the arrays of
:func:`modelyard.compiled._tree_kernel.predict_forest`, which handles every node
kind with a branch a node. A forest of numerical splits needs none of that:
:class:`FlatForest` lays it out for :func:`~modelyard.compiled._tree_kernel.walk_forest`
— leaves as nodes looping to themselves, and each missing value replaced, as the
rows are copied, by a value that every split reading it sends where the model
sends a missing value (a column whose splits send missing values both ways gets
two buffer columns, one filled with -inf for the splits sending it left, one with
+inf for the others). The walk then takes one comparison and one load a node,
about twice as fast on the demo model. A split at +inf that sends missing values
right (every value left, missing right: LightGBM's split of a column with nulls)
reads a copy of its column where +inf is capped at the largest finite value, and
moves there. Categorical splits and LightGBM's zero-as-missing keep the general
kernel. Both give the same answers bit for bit:
the walk compares the same values with the same thresholds in the same types, and
each fill value is checked against every split that reads it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FlatForest"]

_NUMERIC = 0  # _tree_kernel.NUMERIC, without importing numba to lay out the arrays


class FlatForest:
    """The kernel's arrays for one model, and :meth:`evaluate`, which runs the right kernel.

    Args:
        arrays: :func:`~modelyard.compiled._tree_kernel.predict_forest`'s node and
            leaf arrays, in its order (``feature`` .. ``leaf_value``).
        input_dtype: The dtype the matrix is given in (float64, or float32 for
            XGBoost and scikit-learn's ``tree_``): fill values are checked in it.

    Attributes:
        kernel: ``"walk"`` (numerical splits, missing values folded) or
            ``"general"``; shown in tests and reports.
    """

    def __init__(self, arrays: tuple[np.ndarray, ...], *, input_dtype: type) -> None:
        from modelyard.compiled import _tree_kernel

        self._kernel = _tree_kernel  # held: evaluate is on the serving path (no import there)
        self._general = arrays
        self._walk = _walk_layout(arrays, np.dtype(input_dtype))
        self.kernel = "walk" if self._walk is not None else "general"

    def evaluate(
        self,
        data: np.ndarray,
        n_out: int,
        divisor: float,
        transform: int,
        scale: float,
        base: np.ndarray,
        zero: float,
        out: np.ndarray,
    ) -> None:
        """Write the transformed sums of ``data``'s rows into ``out`` (rows, n_out)."""
        kernel = self._kernel
        if self._walk is not None:
            kernel.walk_forest(data, *self._walk, n_out, divisor, transform, scale, base, zero, out)
        else:
            kernel.predict_forest(
                data, *self._general, n_out, divisor, transform, scale, base, zero, out
            )


def _walk_layout(
    arrays: tuple[np.ndarray, ...], input_dtype: np.dtype
) -> tuple[object, ...] | None:
    """:func:`walk_forest`'s arguments up to ``leaf_value``, or None if the model needs
    the general kernel (a categorical or zero-as-missing split, a fill that fails)."""
    (feature, threshold, children, kind, missing_right, _, _, roots, tree_output, leaf_value) = (
        arrays
    )
    n_inner, n_leaves = len(feature), len(leaf_value)
    if np.any(kind != _NUMERIC) or n_inner + n_leaves >= 2**31:
        return None
    width = int(feature.max()) + 1 if n_inner else 0
    goes_right = np.asarray(missing_right) != 0
    node_column = np.asarray(feature, dtype=np.int64).copy()
    node_threshold = np.array(threshold, copy=True)
    source, fill, upper = list(range(width)), [0.0] * width, [np.inf] * width
    # The nodes of each column, from one sort (a mask per column would cost nodes x
    # columns: a billion comparisons for a wide model).
    by_column = np.argsort(feature, kind="stable")
    bounds = np.searchsorted(feature[by_column], np.arange(width + 1))
    for column in range(width):
        on_column = by_column[bounds[column] : bounds[column + 1]]
        value = _missing_fill(threshold[on_column], goes_right[on_column], input_dtype)
        if value is not None:
            fill[column] = value
            continue
        # The splits send a missing value both ways: those sending it left read the
        # column with missing as -inf, those sending it right a second buffer column
        # with missing as +inf.
        left, right = on_column[~goes_right[on_column]], on_column[goes_right[on_column]]
        low = _missing_fill(threshold[left], goes_right[left], input_dtype, (-np.inf,))
        if low is None:
            return None
        fill[column] = low
        high = _missing_fill(threshold[right], goes_right[right], input_dtype, (np.inf,))
        cap = np.inf
        if high is None:
            # A split at +inf sending missing values right (every value left, missing
            # right: common where a column has nulls). Nothing lies above +inf, so this
            # copy caps +inf at the largest finite value and those splits move there.
            capped = _capped_splits(threshold[right], input_dtype)
            if capped is None:
                return None
            node_threshold[right] = capped
            high, cap = np.inf, float(np.finfo(input_dtype).max)
        node_column[right] = len(source)
        source.append(column)
        fill.append(high)
        upper.append(cap)
    # Leaf j becomes node n_inner + j, its own two children: its feature and threshold
    # are read but cannot move it.
    inner_children = np.asarray(children, dtype=np.int64).reshape(n_inner, 2)
    inner_children = np.where(inner_children >= 0, inner_children, n_inner + ~inner_children)
    leaf_nodes = n_inner + np.arange(n_leaves, dtype=np.int64)
    flat_children = np.concatenate([inner_children, np.stack([leaf_nodes, leaf_nodes], axis=1)])
    node_roots = np.asarray(roots, dtype=np.int64)
    node_roots = np.where(node_roots >= 0, node_roots, n_inner + ~node_roots)
    return (
        np.concatenate([node_column, np.zeros(n_leaves, dtype=np.int64)]).astype(np.uint32),
        np.ascontiguousarray(
            np.concatenate([node_threshold, np.zeros(n_leaves, dtype=threshold.dtype)])
        ),
        np.ascontiguousarray(flat_children.reshape(-1), dtype=np.uint32),
        np.asarray(source, dtype=np.uint32),
        np.asarray(fill, dtype=input_dtype),
        np.asarray(upper, dtype=input_dtype),
        node_roots.astype(np.uint32),
        np.uint32(n_inner),
        tree_output,
        leaf_value,
    )


def _missing_fill(
    thresholds: np.ndarray,
    goes_right: np.ndarray,
    input_dtype: np.dtype,
    candidates: tuple[float, ...] | None = None,
) -> float | None:
    """A value (in ``input_dtype``) that every split on a column sends the way it sends a
    missing value — ``value > threshold`` exactly where the missing value goes right —
    or None if none of the candidates does (the splits' directions interleave)."""
    if not len(thresholds):
        return 0.0
    if candidates is None:
        left, right = thresholds[~goes_right], thresholds[goes_right]
        candidates = (-np.inf, np.inf, 0.0)
        if len(left):
            candidates += (input_dtype.type(left.min()),)
        if len(right):
            top = input_dtype.type(right.max())
            candidates += (np.nextafter(top, input_dtype.type(np.inf)),)
    for value in candidates:
        as_input = np.full(len(thresholds), value, dtype=input_dtype)
        if np.array_equal(as_input > thresholds, goes_right):
            return float(as_input[0])
    return None


def _capped_splits(thresholds: np.ndarray, input_dtype: np.dtype) -> np.ndarray | None:
    """The thresholds of splits that send missing values right, for a copy of their column
    where +inf reads as the largest finite value and missing as +inf: a split at +inf
    moves to that value (every value still goes left, missing right); None when a split
    sits at that value already (+inf and it would no longer differ)."""
    top = np.finfo(input_dtype).max
    if np.any(thresholds == top):
        return None
    return np.where(np.isposinf(thresholds), thresholds.dtype.type(top), thresholds)
