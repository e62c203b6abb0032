"""The numba kernel that evaluates a flattened tree ensemble, row block by row block.

Why numba: LightGBM's own predict (``LGBM_BoosterPredictForMat``) builds a
vector of (feature, value) pairs per row, copies it into a buffer and walks
every tree for that row before the next one — about 8-13 µs a row for 200 trees
of 31 leaves on one thread, much of it per-row overhead; XGBoost's
``inplace_predict`` costs about 0.2 ms a call whatever the rows. treelite/tl2cgen
would need a C compiler run per model version (minutes on a loaded host) and a
new dependency; lleaves (LightGBM only) compiles each model version through
LLVM and pins its own llvmlite beside numba's. numba is already a dependency
(llvmlite included): this one kernel, whatever the model, is compiled once per
process (a model is data, not code), runs without the GIL on the caller's
thread, and serves LightGBM, XGBoost (in float32) and scikit-learn's forests
alike. It is not cached on disk: numba reads its cache index and compiled code
back with ``pickle``, and no pickle is loaded in a serving or batch process;
the compilation (2-3 s per input dtype here) is paid when a model is loaded
and warmed, never on a request.

The kernel repeats LightGBM's arithmetic exactly (``tree.h``, ``gbdt.cpp``):

* a value with ``|x| <= 1e-35f`` is read as 0.0 (the C API drops it from the row);
* numerical split: NaN goes as 0.0 for missing type None (so its direction is
  fixed at compile time), to the default side for types Zero and NaN; 0.0 goes
  to the default side for type Zero; otherwise ``x <= threshold`` in float64;
* categorical split: NaN and negative codes go right, others are truncated to
  int and looked up in the node's bitset (absent bits, unseen codes: right);
* per row, each output starts at 0.0 and adds its trees' leaves in tree order
  (float64), is divided by the iteration count for averaged (random forest)
  models, then goes through the objective's transform with libm's ``exp``.

The other libraries map onto the same rules (see ``xgboost_trees`` and ``trees``):
the zero threshold is a parameter (0.0 for them), the input and leaf dtypes are
theirs (float32 comparisons and sums for XGBoost, float32 inputs against float64
thresholds for scikit-learn's ``tree_``), and each output's sum starts at ``base``
(XGBoost's base margin, GradientBoosting's init score, HGB's baseline).

Rows are processed in blocks of :data:`BLOCK` (tree-major within a block): the
block's values are copied once into a small buffer that stays in L1, and each
tree's nodes stay in cache while the block's rows walk it.

Two kernels share these rules: :func:`predict_forest` takes every node kind with
a branch a node; :func:`walk_forest`, for forests of numerical splits (most
models), folds missing values into the copied buffer and walks without a branch
a node. :class:`modelyard.compiled._flat_forest.FlatForest` picks one per model.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "BLOCK",
    "EXP",
    "IDENTITY",
    "MULTI_SIGMOID",
    "SIGMOID",
    "SOFTMAX",
    "XGB_SIGMOID",
    "XGB_SOFTMAX",
    "ZERO",
    "compiled_signatures",
    "predict_forest",
    "walk_forest",
]

BLOCK = 64
"""Rows per block: measured against 32 and 128 on the demo model (200 trees x 31 leaves)."""

GROUP = 8
"""Rows that walk a tree together, their loads and mispredicted branches overlapping:
on the demo model 2 rows took 5.5 µs a row, 4 rows 3.6 µs, 8 rows 3.0 µs, 12 rows 3.3 µs
(a branch-free walk to the tree's full depth, 5.9 µs; LightGBM's C API, 8.2 µs)."""

IDENTITY, SIGMOID, SOFTMAX, MULTI_SIGMOID, EXP, XGB_SIGMOID, XGB_SOFTMAX = 0, 1, 2, 3, 4, 5, 6
"""Output transforms: none; ``1/(1+exp(-s*x))``; LightGBM's softmax; a sigmoid per class;
``exp`` (Poisson, gamma, Tweedie); XGBoost's float32 sigmoid and softmax."""

NUMERIC, ZERO_MISSING, CATEGORICAL = 0, 1, 2
"""Node kinds: a numerical split, one whose missing type is Zero, a categorical split."""

ZERO = float(np.float32(1e-35))
"""LightGBM's ``kZeroThreshold`` (a float literal, widened to double)."""

_INT_LIMIT = 2147483648.0  # static_cast<int> beyond int32 gives INT_MIN on x86: "negative"


@njit(cache=False, nogil=True)
def _categorical_child(
    node: int, v: float, children: np.ndarray, cat_bounds: np.ndarray, cat_words: np.ndarray
) -> int:  # pragma: no cover - compiled by numba
    """LightGBM's categorical decision: NaN and negative codes go right, a code in the
    node's bitset (words ``cat_bounds[node, 0]`` on, ``cat_bounds[node, 1]`` of them)
    left, any other code right."""
    if v == v and v < _INT_LIMIT:
        code = int(v)  # truncation, as static_cast<int>
        if code >= 0:
            word = code >> 5
            if word < cat_bounds[node, 1]:
                bits = cat_words[cat_bounds[node, 0] + word]
                if (bits >> (code & 31)) & 1:
                    return children[node, 0]
    return children[node, 1]


@njit(cache=False, nogil=True)
def predict_forest(
    x: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    children: np.ndarray,
    kind: np.ndarray,
    missing_right: np.ndarray,
    cat_bounds: np.ndarray,
    cat_words: np.ndarray,
    roots: np.ndarray,
    tree_output: np.ndarray,
    leaf_value: np.ndarray,
    n_out: int,
    divisor: float,
    transform: int,
    scale: float,
    base: np.ndarray,
    zero: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled by numba
    """Write the transformed sum of every tree's leaf into ``out`` (rows, n_out).

    ``children[node, 0]`` is the left child, ``[node, 1]`` the right one; a child
    ``< 0`` is the leaf ``~child``. A tree whose root is ``< 0`` is a single leaf.
    ``leaf_value`` is (leaves, 1), a leaf adding to output ``tree_output[tree]``, or
    (leaves, n_out), a leaf adding to every output. Sums start at ``base``.
    :data:`GROUP` rows walk a tree together (their loads and mispredicted branches overlap).
    """
    n, width = x.shape
    n_trees = roots.shape[0]
    vector = leaf_value.shape[1] != 1
    buf = np.empty((BLOCK, width), dtype=x.dtype)
    acc = np.empty((BLOCK, n_out), dtype=leaf_value.dtype)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        for r in range(m):
            for j in range(width):
                v = x[start + r, j]
                if v >= -zero and v <= zero:
                    v = 0.0
                buf[r, j] = v
            for k in range(n_out):
                acc[r, k] = base[k]
        for t in range(n_trees):
            root = roots[t]
            k = tree_output[t]
            r = 0
            while r + GROUP <= m:
                a = b = c = d = e = f = g = h = root
                # Until every row of the group is at a leaf (a leaf is negative).
                while (a & b & c & d & e & f & g & h) >= 0:
                    if a >= 0:
                        v = buf[r, feature[a]]
                        nk = kind[a]
                        if nk == CATEGORICAL:
                            a = _categorical_child(a, v, children, cat_bounds, cat_words)
                        elif v != v or (nk == ZERO_MISSING and v == 0.0):
                            a = children[a, missing_right[a]]
                        else:
                            a = children[a, 1 if v > threshold[a] else 0]
                    if b >= 0:
                        v = buf[r + 1, feature[b]]
                        nk = kind[b]
                        if nk == CATEGORICAL:
                            b = _categorical_child(b, v, children, cat_bounds, cat_words)
                        elif v != v or (nk == ZERO_MISSING and v == 0.0):
                            b = children[b, missing_right[b]]
                        else:
                            b = children[b, 1 if v > threshold[b] else 0]
                    if c >= 0:
                        v = buf[r + 2, feature[c]]
                        nk = kind[c]
                        if nk == CATEGORICAL:
                            c = _categorical_child(c, v, children, cat_bounds, cat_words)
                        elif v != v or (nk == ZERO_MISSING and v == 0.0):
                            c = children[c, missing_right[c]]
                        else:
                            c = children[c, 1 if v > threshold[c] else 0]
                    if d >= 0:
                        v = buf[r + 3, feature[d]]
                        nk = kind[d]
                        if nk == CATEGORICAL:
                            d = _categorical_child(d, v, children, cat_bounds, cat_words)
                        elif v != v or (nk == ZERO_MISSING and v == 0.0):
                            d = children[d, missing_right[d]]
                        else:
                            d = children[d, 1 if v > threshold[d] else 0]
                    if e >= 0:
                        v = buf[r + 4, feature[e]]
                        nk = kind[e]
                        if nk == CATEGORICAL:
                            e = _categorical_child(e, v, children, cat_bounds, cat_words)
                        elif v != v or (nk == ZERO_MISSING and v == 0.0):
                            e = children[e, missing_right[e]]
                        else:
                            e = children[e, 1 if v > threshold[e] else 0]
                    if f >= 0:
                        v = buf[r + 5, feature[f]]
                        nk = kind[f]
                        if nk == CATEGORICAL:
                            f = _categorical_child(f, v, children, cat_bounds, cat_words)
                        elif v != v or (nk == ZERO_MISSING and v == 0.0):
                            f = children[f, missing_right[f]]
                        else:
                            f = children[f, 1 if v > threshold[f] else 0]
                    if g >= 0:
                        v = buf[r + 6, feature[g]]
                        nk = kind[g]
                        if nk == CATEGORICAL:
                            g = _categorical_child(g, v, children, cat_bounds, cat_words)
                        elif v != v or (nk == ZERO_MISSING and v == 0.0):
                            g = children[g, missing_right[g]]
                        else:
                            g = children[g, 1 if v > threshold[g] else 0]
                    if h >= 0:
                        v = buf[r + 7, feature[h]]
                        nk = kind[h]
                        if nk == CATEGORICAL:
                            h = _categorical_child(h, v, children, cat_bounds, cat_words)
                        elif v != v or (nk == ZERO_MISSING and v == 0.0):
                            h = children[h, missing_right[h]]
                        else:
                            h = children[h, 1 if v > threshold[h] else 0]
                if vector:  # a leaf holds every output (scikit-learn's forests)
                    for o in range(n_out):
                        acc[r, o] += leaf_value[~a, o]
                        acc[r + 1, o] += leaf_value[~b, o]
                        acc[r + 2, o] += leaf_value[~c, o]
                        acc[r + 3, o] += leaf_value[~d, o]
                        acc[r + 4, o] += leaf_value[~e, o]
                        acc[r + 5, o] += leaf_value[~f, o]
                        acc[r + 6, o] += leaf_value[~g, o]
                        acc[r + 7, o] += leaf_value[~h, o]
                else:
                    acc[r, k] += leaf_value[~a, 0]
                    acc[r + 1, k] += leaf_value[~b, 0]
                    acc[r + 2, k] += leaf_value[~c, 0]
                    acc[r + 3, k] += leaf_value[~d, 0]
                    acc[r + 4, k] += leaf_value[~e, 0]
                    acc[r + 5, k] += leaf_value[~f, 0]
                    acc[r + 6, k] += leaf_value[~g, 0]
                    acc[r + 7, k] += leaf_value[~h, 0]
                r += GROUP
            while r < m:
                a = root
                while a >= 0:
                    v = buf[r, feature[a]]
                    nk = kind[a]
                    if nk == CATEGORICAL:
                        a = _categorical_child(a, v, children, cat_bounds, cat_words)
                    elif v != v or (nk == ZERO_MISSING and v == 0.0):
                        a = children[a, missing_right[a]]
                    else:
                        a = children[a, 1 if v > threshold[a] else 0]
                if vector:
                    for o in range(n_out):
                        acc[r, o] += leaf_value[~a, o]
                else:
                    acc[r, k] += leaf_value[~a, 0]
                r += 1
        _finish(acc, m, start, out, n_out, divisor, transform, scale)


@njit(cache=False, nogil=True)
def walk_forest(
    x: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    children: np.ndarray,
    source: np.ndarray,
    nan_fill: np.ndarray,
    upper: np.ndarray,
    roots: np.ndarray,
    first_leaf: int,
    tree_output: np.ndarray,
    leaf_value: np.ndarray,
    n_out: int,
    divisor: float,
    transform: int,
    scale: float,
    base: np.ndarray,
    zero: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - compiled by numba
    """:func:`predict_forest` for a forest of numerical splits only, without a branch a node.

    The node table holds every inner node, then every leaf from ``first_leaf`` on
    (leaf ``j`` is node ``first_leaf + j``); ``children`` is flat, ``[2 * node]``
    the left child and ``[2 * node + 1]`` the right one, and a leaf is its own
    two children. The block is copied into a buffer whose column ``c`` is the
    input's column ``source[c]`` with a missing value replaced by ``nan_fill[c]``:
    a value that every split reading column ``c`` sends where the model sends a
    missing one, and values above ``upper[c]`` read as ``upper[c]``
    (:mod:`modelyard.compiled._flat_forest` finds these, checks them, and gives an
    input column two buffer columns when its splits send missing values both
    ways). A node is then one comparison and one load, and the :data:`GROUP`
    rows step together until the last reaches its leaf, those at a leaf staying
    there: no per-row branch to mispredict. On the demo model this walk took
    2.4 µs a row where :func:`predict_forest` took 5.2 (in-process, 200,000 rows).
    """
    n = x.shape[0]
    width = source.shape[0]
    n_trees = roots.shape[0]
    vector = leaf_value.shape[1] != 1
    buf = np.empty((BLOCK, max(width, 1)), dtype=x.dtype)
    acc = np.empty((BLOCK, n_out), dtype=leaf_value.dtype)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        for r in range(m):
            for j in range(width):
                v = x[start + r, source[j]]
                if v >= -zero and v <= zero:
                    v = 0.0
                elif v != v:
                    v = nan_fill[j]
                elif v > upper[j]:
                    v = upper[j]
                buf[r, j] = v
            for k in range(n_out):
                acc[r, k] = base[k]
        for t in range(n_trees):
            root = roots[t]
            k = tree_output[t]
            r = 0
            while r + GROUP <= m:
                a = b = c = d = e = f = g = h = root
                while min(min(min(a, b), min(c, d)), min(min(e, f), min(g, h))) < first_leaf:
                    a = children[2 * a + (buf[r, feature[a]] > threshold[a])]
                    b = children[2 * b + (buf[r + 1, feature[b]] > threshold[b])]
                    c = children[2 * c + (buf[r + 2, feature[c]] > threshold[c])]
                    d = children[2 * d + (buf[r + 3, feature[d]] > threshold[d])]
                    e = children[2 * e + (buf[r + 4, feature[e]] > threshold[e])]
                    f = children[2 * f + (buf[r + 5, feature[f]] > threshold[f])]
                    g = children[2 * g + (buf[r + 6, feature[g]] > threshold[g])]
                    h = children[2 * h + (buf[r + 7, feature[h]] > threshold[h])]
                if vector:
                    for o in range(n_out):
                        acc[r, o] += leaf_value[a - first_leaf, o]
                        acc[r + 1, o] += leaf_value[b - first_leaf, o]
                        acc[r + 2, o] += leaf_value[c - first_leaf, o]
                        acc[r + 3, o] += leaf_value[d - first_leaf, o]
                        acc[r + 4, o] += leaf_value[e - first_leaf, o]
                        acc[r + 5, o] += leaf_value[f - first_leaf, o]
                        acc[r + 6, o] += leaf_value[g - first_leaf, o]
                        acc[r + 7, o] += leaf_value[h - first_leaf, o]
                else:
                    acc[r, k] += leaf_value[a - first_leaf, 0]
                    acc[r + 1, k] += leaf_value[b - first_leaf, 0]
                    acc[r + 2, k] += leaf_value[c - first_leaf, 0]
                    acc[r + 3, k] += leaf_value[d - first_leaf, 0]
                    acc[r + 4, k] += leaf_value[e - first_leaf, 0]
                    acc[r + 5, k] += leaf_value[f - first_leaf, 0]
                    acc[r + 6, k] += leaf_value[g - first_leaf, 0]
                    acc[r + 7, k] += leaf_value[h - first_leaf, 0]
                r += GROUP
            while r < m:
                a = root
                while a < first_leaf:
                    a = children[2 * a + (buf[r, feature[a]] > threshold[a])]
                if vector:
                    for o in range(n_out):
                        acc[r, o] += leaf_value[a - first_leaf, o]
                else:
                    acc[r, k] += leaf_value[a - first_leaf, 0]
                r += 1
        _finish(acc, m, start, out, n_out, divisor, transform, scale)


@njit(cache=False, nogil=True)
def _finish(
    acc: np.ndarray,
    m: int,
    start: int,
    out: np.ndarray,
    n_out: int,
    divisor: float,
    transform: int,
    scale: float,
) -> None:  # pragma: no cover - compiled by numba
    """The block's sums ``acc[:m]``, averaged and transformed, into ``out[start:start+m]``."""
    for r in range(m):
        row = start + r
        if divisor != 1.0:
            for k in range(n_out):
                acc[r, k] /= divisor
        if transform in (SIGMOID, MULTI_SIGMOID):
            for k in range(n_out):
                out[row, k] = 1.0 / (1.0 + math.exp(-scale * acc[r, k]))
        elif transform == SOFTMAX:
            top = acc[r, 0]
            for k in range(1, n_out):
                if not acc[r, k] < top:  # std::max(input[i], wmax)
                    top = acc[r, k]
            total = 0.0
            for k in range(n_out):
                e = math.exp(acc[r, k] - top)
                out[row, k] = e
                total += e
            for k in range(n_out):
                out[row, k] /= total
        elif transform == XGB_SIGMOID:
            for k in range(n_out):
                y = min(-acc[r, k], np.float32(88.7))
                denom = math.exp(y) + np.float32(1.0) + np.float32(1e-16)
                out[row, k] = np.float32(1.0) / denom
        elif transform == XGB_SOFTMAX:
            top = acc[r, 0]
            for k in range(1, n_out):
                top = max(acc[r, k], top)  # fmaxf
            total = 0.0  # a double, as in XGBoost's Softmax
            for k in range(n_out):
                e = math.exp(acc[r, k] - top)
                out[row, k] = e
                total += e
            wsum = np.float32(total)
            for k in range(n_out):
                out[row, k] = out[row, k] / wsum
        elif transform == EXP:
            for k in range(n_out):
                out[row, k] = math.exp(acc[r, k])
        else:
            for k in range(n_out):
                out[row, k] = acc[r, k]


def compiled_signatures() -> int:
    """How many (kernel, argument types) pairs this process has compiled: 0 until a
    model's first evaluation by a kernel (numba compiles on first call)."""
    return len(predict_forest.signatures) + len(walk_forest.signatures)
