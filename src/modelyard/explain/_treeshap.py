"""Exact path-dependent TreeSHAP (Lundberg et al. 2018, Algorithm 2), vectorised over rows.

Used for trees whose splits ``shap``'s compiled explainer cannot express —
HistGradientBoosting's native categorical splits (a bitset of categories goes
left) and its per-node missing-value direction. The recursion visits every
node whatever the row; a row only decides which child is "hot". So the
algorithm runs once per tree with the path's one-fractions and weights held
as vectors over all rows, and the split decisions come precomputed as a
boolean matrix (node, row) from the caller, who knows the split semantics.

The result satisfies local accuracy exactly (up to float rounding): per row,
the contributions plus the cover-weighted mean leaf value equal the tree's
output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Tree", "tree_shap"]


@dataclass(frozen=True)
class Tree:
    """One tree in array form. ``left``/``right`` are -1 at leaves; ``cover`` is the
    training weight reaching each node; ``value`` is the leaf output (unused elsewhere)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    value: np.ndarray
    cover: np.ndarray

    def expected_value(self) -> float:
        """The cover-weighted mean of the leaf values: the base value of the tree."""
        leaves = self.left < 0
        return float(np.sum(self.value[leaves] * self.cover[leaves]) / self.cover[0])


def tree_shap(tree: Tree, goes_left: np.ndarray, n_features: int) -> np.ndarray:
    """Contributions (rows, n_features) of one tree; ``goes_left`` is (nodes, rows) bool."""
    n = goes_left.shape[1]
    phi = np.zeros((n, n_features))
    # The path: feature ids, zero fractions (scalars), one fractions and weights (row vectors).
    _recurse(tree, goes_left, phi, 0, [], [], [], [], 1.0, np.ones(n), -1)
    return phi


def _extend(
    d: list[int], z: list[float], o: list[np.ndarray], w: list[np.ndarray],
    p_z: float, p_o: np.ndarray, p_i: int,
) -> None:  # fmt: skip
    depth = len(d)
    d.append(p_i)
    z.append(p_z)
    o.append(p_o)
    w.append(np.ones_like(p_o) if depth == 0 else np.zeros_like(p_o))
    for i in range(depth - 1, -1, -1):
        w[i + 1] = w[i + 1] + p_o * w[i] * (i + 1) / (depth + 1)
        w[i] = p_z * w[i] * (depth - i) / (depth + 1)


def _unwind(d: list[int], z: list[float], o: list[np.ndarray], w: list[np.ndarray], i: int) -> None:
    depth = len(d) - 1
    one, zero = o[i], z[i]
    hot = one != 0
    safe_one = np.where(hot, one, 1.0)
    nxt = w[depth].copy()
    for j in range(depth - 1, -1, -1):
        from_one = nxt * (depth + 1) / ((j + 1) * safe_one)
        from_zero = w[j] * (depth + 1) / (zero * (depth - j)) if zero != 0 else w[j] * 0.0
        tmp = w[j]
        w[j] = np.where(hot, from_one, from_zero)
        nxt = np.where(hot, tmp - w[j] * zero * (depth - j) / (depth + 1), nxt)
    del d[i], z[i], o[i]
    del w[depth]


def _unwound_sum(z: list[float], o: list[np.ndarray], w: list[np.ndarray], i: int) -> np.ndarray:
    depth = len(z) - 1
    one, zero = o[i], z[i]
    hot = one != 0
    safe_one = np.where(hot, one, 1.0)
    total = np.zeros_like(one)
    nxt = w[depth]
    for j in range(depth - 1, -1, -1):
        tmp = nxt * (depth + 1) / ((j + 1) * safe_one)
        cold = w[j] / (zero * (depth - j) / (depth + 1)) if zero != 0 else 0.0 * w[j]
        total = total + np.where(hot, tmp, cold)
        nxt = np.where(hot, w[j] - tmp * zero * (depth - j) / (depth + 1), nxt)
    return total


def _recurse(
    tree: Tree,
    goes_left: np.ndarray,
    phi: np.ndarray,
    node: int,
    d: list[int],
    z: list[float],
    o: list[np.ndarray],
    w: list[np.ndarray],
    p_z: float,
    p_o: np.ndarray,
    p_i: int,
) -> None:
    d, z, o, w = list(d), list(z), list(o), list(w)
    _extend(d, z, o, w, p_z, p_o, p_i)
    left, right = tree.left[node], tree.right[node]
    if left < 0:
        value = tree.value[node]
        for i in range(1, len(d)):
            weight = _unwound_sum(z, o, w, i)
            phi[:, d[i]] += weight * (o[i] - z[i]) * value
        return
    feature = int(tree.feature[node])
    i_z, i_o = 1.0, np.ones_like(p_o)
    k = next((k for k in range(1, len(d)) if d[k] == feature), None)
    if k is not None:
        i_z, i_o = z[k], o[k]
        _unwind(d, z, o, w, k)
    cover = tree.cover[node]
    to_left = goes_left[node].astype(np.float64)
    _recurse(
        tree, goes_left, phi, left, d, z, o, w,
        i_z * tree.cover[left] / cover, i_o * to_left, feature,
    )  # fmt: skip
    _recurse(
        tree, goes_left, phi, right, d, z, o, w,
        i_z * tree.cover[right] / cover, i_o * (1.0 - to_left), feature,
    )  # fmt: skip
