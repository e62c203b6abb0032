"""The same exact TreeSHAP, one row at a time, compiled with numba (installed with ``shap``).

A port of ``shap``'s C++ ``tree_shap_recursive`` that takes each node's
decision for the row precomputed (``goes_left``) instead of comparing a
threshold, so categorical bitsets and per-node missing directions are the
caller's business. Cost per row is O(leaves x depth^2) scalar operations,
about a thousand times fewer Python-level operations than the vectorised
form (``_treeshap``), which stays the fallback when numba is not installed.
The first call in a process compiles the functions (a few seconds); they are
not cached on disk, because numba's cache of recursive functions is not reliable.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["tree_shap_rows"]


@njit(cache=False)
def _extend(feat, zero, one, w, start, depth, p_zero, p_one, p_feat):  # pragma: no cover
    feat[start + depth] = p_feat
    zero[start + depth] = p_zero
    one[start + depth] = p_one
    w[start + depth] = 1.0 if depth == 0 else 0.0
    for i in range(depth - 1, -1, -1):
        w[start + i + 1] += p_one * w[start + i] * (i + 1) / (depth + 1)
        w[start + i] = p_zero * w[start + i] * (depth - i) / (depth + 1)


@njit(cache=False)
def _unwind(feat, zero, one, w, start, depth, index):  # pragma: no cover
    o, z = one[start + index], zero[start + index]
    nxt = w[start + depth]
    for i in range(depth - 1, -1, -1):
        if o != 0:
            tmp = w[start + i]
            w[start + i] = nxt * (depth + 1) / ((i + 1) * o)
            nxt = tmp - w[start + i] * z * (depth - i) / (depth + 1)
        else:
            w[start + i] = w[start + i] * (depth + 1) / (z * (depth - i))
    for i in range(index, depth):
        feat[start + i] = feat[start + i + 1]
        zero[start + i] = zero[start + i + 1]
        one[start + i] = one[start + i + 1]


@njit(cache=False)
def _unwound_sum(zero, one, w, start, depth, index):  # pragma: no cover
    o, z = one[start + index], zero[start + index]
    nxt = w[start + depth]
    total = 0.0
    for i in range(depth - 1, -1, -1):
        if o != 0:
            tmp = nxt * (depth + 1) / ((i + 1) * o)
            total += tmp
            nxt = w[start + i] - tmp * z * ((depth - i) / (depth + 1))
        elif z != 0:
            total += (w[start + i] / z) / ((depth - i) / (depth + 1))
    return total


@njit(cache=False)
def _recurse(
    left, right, feature, value, cover, goes_left, phi,
    feat, zero, one, w, parent, node, depth, p_zero, p_one, p_feat,
):  # pragma: no cover  # fmt: skip
    start = parent + depth + 1
    for i in range(depth + 1):
        feat[start + i] = feat[parent + i]
        zero[start + i] = zero[parent + i]
        one[start + i] = one[parent + i]
        w[start + i] = w[parent + i]
    _extend(feat, zero, one, w, start, depth, p_zero, p_one, p_feat)
    if left[node] < 0:
        for i in range(1, depth + 1):
            weight = _unwound_sum(zero, one, w, start, depth, i)
            phi[feat[start + i]] += weight * (one[start + i] - zero[start + i]) * value[node]
        return
    split = feature[node]
    if goes_left[node]:
        hot, cold = left[node], right[node]
    else:
        hot, cold = right[node], left[node]
    i_zero, i_one = 1.0, 1.0
    index = -1
    for k in range(depth + 1):
        if feat[start + k] == split:
            index = k
            break
    if index >= 0:
        i_zero, i_one = zero[start + index], one[start + index]
        _unwind(feat, zero, one, w, start, depth, index)
        depth -= 1
    _recurse(left, right, feature, value, cover, goes_left, phi, feat, zero, one, w, start,
             hot, depth + 1, cover[hot] / cover[node] * i_zero, i_one, split)  # fmt: skip
    _recurse(left, right, feature, value, cover, goes_left, phi, feat, zero, one, w, start,
             cold, depth + 1, cover[cold] / cover[node] * i_zero, 0.0, split)  # fmt: skip


@njit(cache=False)
def _rows(left, right, feature, value, cover, goes_left, n_features, max_depth):  # pragma: no cover
    n = goes_left.shape[1]
    phi = np.zeros((n, n_features))
    size = (max_depth + 2) * (max_depth + 3) // 2 + max_depth + 2
    for r in range(n):
        feat = np.full(size, -1, dtype=np.int64)
        zero = np.zeros(size)
        one = np.zeros(size)
        w = np.zeros(size)
        # The root's "parent" path is empty; it starts at offset 0 with depth 0.
        _recurse_root(left, right, feature, value, cover, goes_left[:, r], phi[r],
                      feat, zero, one, w)  # fmt: skip
    return phi


@njit(cache=False)
def _recurse_root(
    left, right, feature, value, cover, goes_left, phi, feat, zero, one, w
):  # pragma: no cover
    _extend(feat, zero, one, w, 0, 0, 1.0, 1.0, -1)
    if left[0] < 0:
        return
    split = feature[0]
    if goes_left[0]:
        hot, cold = left[0], right[0]
    else:
        hot, cold = right[0], left[0]
    _recurse(left, right, feature, value, cover, goes_left, phi, feat, zero, one, w, 0,
             hot, 1, cover[hot] / cover[0], 1.0, split)  # fmt: skip
    _recurse(left, right, feature, value, cover, goes_left, phi, feat, zero, one, w, 0,
             cold, 1, cover[cold] / cover[0], 0.0, split)  # fmt: skip


def tree_shap_rows(tree: object, goes_left: np.ndarray, n_features: int) -> np.ndarray:
    """Contributions (rows, n_features) of one ``_treeshap.Tree``; ``goes_left`` (nodes, rows)."""
    left = np.ascontiguousarray(tree.left, dtype=np.int64)  # type: ignore[attr-defined]
    right = np.ascontiguousarray(tree.right, dtype=np.int64)  # type: ignore[attr-defined]
    depth = _max_depth(left, right)
    return _rows(
        left,
        right,
        np.ascontiguousarray(tree.feature, dtype=np.int64),  # type: ignore[attr-defined]
        np.ascontiguousarray(tree.value, dtype=np.float64),  # type: ignore[attr-defined]
        np.ascontiguousarray(tree.cover, dtype=np.float64),  # type: ignore[attr-defined]
        np.ascontiguousarray(goes_left, dtype=np.bool_),
        n_features,
        depth,
    )


def _max_depth(left: np.ndarray, right: np.ndarray) -> int:
    deepest, stack = 0, [(0, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if left[node] >= 0:
            stack += [(int(left[node]), depth + 1), (int(right[node]), depth + 1)]
    return deepest
