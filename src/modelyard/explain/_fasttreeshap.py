"""Exact path-dependent TreeSHAP at O(leaves x depth) a row, with per-leaf tables built once.

The idea of Fast TreeSHAP v2 (Yang 2021), in the form used here. Along the path
from the root to a leaf ``l`` with value ``v`` let ``F`` be the ``k`` distinct
features split on, ``z_j`` the product of the cover ratios of the splits on
feature ``j`` (the path-dependent "zero fraction") and, for a row, ``A`` the
features of ``F`` whose every split on the path the row follows (``o_j = 1``;
the others have ``o_j = 0``). The leaf's path-dependent game is
``f(S) = v * prod_{j in S} o_j * prod_{j in F \\ S} z_j``, whose Shapley values are::

    i in A:      phi_i = v * (1 - z_i) * Z(F \\ A) * G(A \\ {i})
    i in F \\ A: phi_i = -v * Z(F \\ A) * G(A)

with ``Z(B) = prod_{j in B} z_j`` and
``G(B) = sum_{S subset of B} |S|! (k - |S| - 1)! / k! * Z(B \\ S)``, which depends
on the row only through the subset ``B``. So ``v * G`` is tabulated once per
leaf for all ``2**k`` subsets (from the elementary symmetric polynomials of the
``z_j``, O(k 2**k)), and a row costs, per leaf, the bit mask ``A`` (carried down
the tree from the root, one decision per node) and O(k) table reads — against
O(k**2) per leaf for the recursive algorithm (Lundberg et al. 2018, Algorithm 2)
that LightGBM's ``pred_contrib`` and ``shap`` run. Where the budget allows,
each leaf's terms themselves are tabulated (``k * 2**k`` entries: ``k``
additions a row), and a small subtree shares one table indexed by the
followed set at its root and the row's direction at each of its inner nodes
(one lookup for all its leaves: the sums of their terms are tabulated). Rows
are processed tree by tree, all rows of a request together, so a tree's
tables stay in cache across them.

Bounded memory: a tree any of whose leaves has more than ``MAX_PATH_FEATURES``
distinct features on its path, and every tree once the model's tables reach
``TABLE_BUDGET`` entries, is explained by the recursive algorithm
(``_treeshap_jit``) instead, on the same split decisions; ``fallback_trees``
says how many.

Split semantics are data, not code: every node carries its comparison
(``<=`` or ``<``), its missing-value rule and default direction, or a
categorical table, so that LightGBM, XGBoost and scikit-learn trees are
decided exactly as their own predictors decide (see the readers in
``_lightgbm_trees``, ``_xgboost_trees`` and ``_estimators``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

__all__ = [
    "CAT",
    "CAT_DEFAULT",
    "CAT_LEFT",
    "CAT_RIGHT",
    "LE",
    "LT",
    "MISSING_DEFAULT",
    "MISSING_NONE",
    "MISSING_ZERO",
    "FastTreeShap",
    "NodeTrees",
]

# Node kinds: numeric "value <= threshold" (LightGBM, scikit-learn) or "value < threshold"
# (XGBoost) goes left; a categorical node looks the integer code up in its table row.
LE, LT, CAT = 0, 1, 2
# Missing values (NaN) of a numeric node: to the default child (XGBoost, scikit-learn,
# LightGBM's missing_type NaN); as 0.0 (LightGBM's None); 0.0 and NaN both to the default
# child (LightGBM's Zero).
MISSING_DEFAULT, MISSING_NONE, MISSING_ZERO = 0, 1, 2
# A categorical table's entries, and where NaN or a code outside the table goes.
CAT_RIGHT, CAT_LEFT, CAT_DEFAULT = 0, 1, 2
# LightGBM's kZeroThreshold (1e-35f as a double).
_ZERO = 1.0000000180025095e-35

MAX_PATH_FEATURES = 16  # < 32: the kernel's followed-set masks are int32
_FEW_ROWS = 8  # below this many rows, a leaf's terms are added row by row
TABLE_BUDGET = 1 << 23  # float64 entries over all tables of a model: 64 MiB
# Leaves with at most this many path features get every term tabulated (k * 2**k
# entries: k additions a row instead of O(k) multiplications), while the model's tables
# stay under VECTOR_BUDGET entries.
VECTOR_PATH_FEATURES = 10
VECTOR_BUDGET = 1 << 22
# A subtree is tabulated as one unit when the followed-set bits at its root plus its
# inner nodes (one direction bit each) come to at most this many index bits: the most
# of these for which the model's tables stay within the budgets. Fewer, larger units
# mean fewer table rows fetched a row; a served request finds the tables out of cache
# (the request's own work evicts them), so each fetched row costs a memory access:
# 11 bits against 9, 1.18x faster at 100 rows with the cache flushed between calls
# (200 trees of 31 leaves, 31 against 14 MiB of tables).
SUBTREE_INDEX_BITS = (11, 10, 9)


@dataclass
class NodeTrees:
    """Trees flattened into one node table; each tree's nodes in pre-order (parent first).

    ``left``/``right`` are global node indices, -1 at leaves. ``cat_row`` indexes
    ``cat_table`` (rows of CAT_* entries per category code) for categorical nodes.
    ``cat_negative_fraction``: codes in (-1, 0) truncate to category 0, as a C cast does
    (LightGBM); otherwise a negative value is outside the table (scikit-learn).
    ``float32``: the row's values are rounded to float32 before comparing (XGBoost).
    """

    start: np.ndarray  # (trees + 1,) first node of each tree
    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    kind: np.ndarray
    missing: np.ndarray
    default_left: np.ndarray
    value: np.ndarray
    cover: np.ndarray
    cat_row: np.ndarray
    cat_table: np.ndarray = field(default_factory=lambda: np.zeros((1, 1), dtype=np.int8))
    cat_other: np.ndarray | None = None  # per node: where NaN / an unknown code goes
    cat_negative_fraction: bool = False
    float32: bool = False

    @classmethod
    def from_trees(cls, trees: list[dict[str, np.ndarray]], **options: object) -> NodeTrees:
        """Concatenate per-tree arrays (local child indices, -1 at leaves), re-ordered to
        pre-order; categorical tables (``cat_table`` rows per node, ``cat_node``) optional."""
        parts: dict[str, list[np.ndarray]] = {}
        starts = [0]
        tables: list[np.ndarray] = []
        n_tables = 0
        width = max(
            [t["cat_table"].shape[1] for t in trees if t.get("cat_table") is not None] + [1]
        )
        for tree in trees:
            order = _preorder(tree["left"], tree["right"])
            position = np.empty(len(order), dtype=np.int64)
            position[order] = np.arange(len(order))
            base = starts[-1]
            left, right = tree["left"][order], tree["right"][order]
            inner = left >= 0
            parts.setdefault("left", []).append(
                np.where(inner, position[np.where(inner, left, 0)] + base, -1)
            )
            parts.setdefault("right", []).append(
                np.where(inner, position[np.where(inner, right, 0)] + base, -1)
            )
            for name, dtype in (
                ("feature", np.int64),
                ("threshold", np.float64),
                ("kind", np.int8),
                ("missing", np.int8),
                ("default_left", np.bool_),
                ("value", np.float64),
                ("cover", np.float64),
                ("cat_other", np.int8),
            ):
                source = tree.get(name)
                if source is None:
                    source = np.zeros(len(order), dtype=dtype)
                parts.setdefault(name, []).append(np.asarray(source, dtype=dtype)[order])
            rows = np.full(len(order), -1, dtype=np.int64)
            table = tree.get("cat_table")
            if table is not None:
                where = np.flatnonzero(tree["cat_node"][order] & inner)
                rows[where] = np.arange(len(where)) + n_tables
                padded = np.full((len(where), width), CAT_RIGHT, dtype=np.int8)
                sub = np.asarray(table, dtype=np.int8)[order][where]
                padded[:, : sub.shape[1]] = sub
                tables.append(padded)
                n_tables += len(where)
            parts.setdefault("cat_row", []).append(rows)
            starts.append(base + len(order))
        arrays = {name: np.ascontiguousarray(np.concatenate(v)) for name, v in parts.items()}
        cat_table = (
            np.ascontiguousarray(np.concatenate(tables))
            if n_tables
            else np.zeros((1, 1), dtype=np.int8)
        )
        return cls(
            start=np.asarray(starts, dtype=np.int64),
            cat_table=cat_table,
            **arrays,
            **options,  # type: ignore[arg-type]
        )

    @property
    def n_trees(self) -> int:
        return len(self.start) - 1

    def expected_values(self) -> np.ndarray:
        """Per tree, the cover-weighted mean leaf value (its term of the base value)."""
        out = np.zeros(self.n_trees)
        for t in range(self.n_trees):
            a, b = self.start[t], self.start[t + 1]
            leaf = self.left[a:b] < 0
            out[t] = np.sum(self.value[a:b][leaf] * self.cover[a:b][leaf]) / self.cover[a]
        return out


def _preorder(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    order, stack = [], [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if left[node] >= 0:
            stack += [int(right[node]), int(left[node])]
    return np.asarray(order, dtype=np.int64)


@njit(nogil=True, cache=False)
def _tree_decisions(
    xt, first, last, left, feature, kind, threshold, missing, default_left, cat_row, cat_table,
    cat_other, negative_fraction, float32, out,
):  # pragma: no cover  # fmt: skip
    """``out[n - first, r] = 1`` when row ``r`` goes left at inner node ``n``, else 0.

    One call per tree for all its nodes and rows, each node's rule read once outside
    the loop over rows: a call per node and row costs more than the comparison.
    ``xt`` is the rows transposed, (features, rows): a node reads one contiguous
    run of values, which the compiler vectorises; read across rows of ``x`` the
    strided loads cost as much as the rest of the explanation.
    """
    n_rows = xt.shape[1]
    width = cat_table.shape[1]
    low = -1.0 if negative_fraction else 0.0
    for n in range(first, last):
        if left[n] < 0:
            continue
        values = xt[feature[n]]
        dl = np.int64(1) if default_left[n] else np.int64(0)
        i = n - first
        if kind[n] == CAT:
            row = cat_row[n]
            other = cat_other[n]
            for r in range(n_rows):
                v = values[r]
                if v != v or v < low or (negative_fraction and v == -1.0) or v >= width:
                    d = other
                else:
                    d = cat_table[row, int(v)]
                if d == CAT_DEFAULT:
                    out[i, r] = dl
                else:
                    out[i, r] = np.int64(1) if d == CAT_LEFT else np.int64(0)
            continue
        t = threshold[n]
        rule = missing[n]
        strict = kind[n] == LT
        if rule == MISSING_DEFAULT and not strict and not float32:
            # The common rule (LightGBM's NaN type, scikit-learn), as a select the
            # compiler can vectorise: no branch on the row's value.
            for r in range(n_rows):
                v = values[r]
                out[i, r] = dl if v != v else np.int64(v <= t)
            continue
        if rule == MISSING_DEFAULT and strict and float32:
            for r in range(n_rows):  # XGBoost
                v = np.float64(np.float32(values[r]))
                out[i, r] = dl if v != v else np.int64(v < t)
            continue
        if rule == MISSING_NONE and not strict and not float32:
            zero_left = np.int64(t >= 0.0)  # LightGBM's None type: NaN reads as 0.0
            for r in range(n_rows):
                v = values[r]
                out[i, r] = zero_left if v != v else np.int64(v <= t)
            continue
        for r in range(n_rows):
            v = values[r]
            if float32:
                v = np.float64(np.float32(v))
            nan = v != v
            if nan and rule != MISSING_DEFAULT:
                v = 0.0
            to_default = (nan and rule == MISSING_DEFAULT) or (
                rule == MISSING_ZERO and -_ZERO <= v <= _ZERO
            )
            below = v < t if strict else v <= t
            out[i, r] = dl if to_default else (np.int64(1) if below else np.int64(0))


@njit(nogil=True, cache=False)
def _decisions(
    xt, first, last, feature, kind, threshold, missing, default_left, left, cat_row, cat_table,
    cat_other, negative_fraction, float32,
):  # pragma: no cover  # fmt: skip
    """(nodes, rows) whether each row goes left at each node of [first, last)."""
    g = np.zeros((last - first, xt.shape[1]), dtype=np.int64)
    _tree_decisions(
        xt, first, last, left, feature, kind, threshold, missing, default_left, cat_row,
        cat_table, cat_other, negative_fraction, float32, g,
    )  # fmt: skip
    return g == 1


@njit(nogil=True, cache=False)
def _shap(
    xt, fast_trees, start, left, right, feature, kind, threshold, missing, default_left, cat_row,
    cat_table, cat_other, negative_fraction, float32, slot, unit_start, unit_node, unit_k,
    unit_bits, unit_d, unit_inner_at, unit_inner, unit_vectors, unit_feature_at, path_feature,
    path_zero, unit_table_at, table, phi,
):  # pragma: no cover  # fmt: skip
    """Adds the contributions of the tabulated trees to ``phi`` (features, rows).

    A unit is a leaf, or a small subtree tabulated as one: its table row is picked by
    the followed-set bits at ``unit_node`` (``unit_bits`` of them) and the row's
    direction at each of the subtree's ``unit_d`` inner nodes, one more bit each.
    ``xt`` holds the rows transposed, (features, rows).
    """
    n_rows = xt.shape[1]
    width = 1
    for t in fast_trees:
        width = max(width, start[t + 1] - start[t])
    # 32-bit followed-set masks and decisions (MAX_PATH_FEATURES < 32 slots): half the
    # memory traffic of int64 across a tree's nodes and rows.
    mask = np.zeros((width, n_rows), dtype=np.int32)
    g = np.zeros((width, n_rows), dtype=np.int32)
    at = np.zeros(n_rows, dtype=np.int64)
    for t in fast_trees:
        a, b = start[t], start[t + 1]
        _tree_decisions(
            xt, a, b, left, feature, kind, threshold, missing, default_left, cat_row, cat_table,
            cat_other, negative_fraction, float32, g,
        )  # fmt: skip
        for r in range(n_rows):
            mask[0, r] = -1  # every feature "followed" at the root
        for n in range(a, b):  # pre-order: a node's mask is set before its children's
            lc = left[n]
            if lc < 0:
                continue
            rc = right[n]
            clear = ~(np.int32(1) << np.int32(slot[n]))
            i = n - a
            # Row views and an int32 clear-mask: one type throughout and no 2-D index
            # arithmetic in the loop, which the compiler then vectorises (1.4x on the
            # whole explanation at 100 rows, measured interleaved).
            parent, went_left = mask[i], g[i]
            to_left, to_right = mask[lc - a], mask[rc - a]
            for r in range(n_rows):
                # Arithmetic, not a branch: the direction is unpredictable from row to row.
                m = parent[r]
                keep = -went_left[r]  # all ones where the row went left
                to_left[r] = m & (keep | clear)
                to_right[r] = m & (~keep | clear)
        for u in range(unit_start[t], unit_start[t + 1]):
            k = unit_k[u]
            if k == 0:
                continue
            node = unit_node[u] - a
            bits = unit_bits[u]
            low = (np.int64(1) << bits) - 1
            p0 = unit_feature_at[u]
            base = unit_table_at[u]
            if unit_vectors[u]:
                # Every term tabulated: k additions a row.
                for r in range(n_rows):
                    at[r] = mask[node, r] & low
                for j in range(unit_d[u]):
                    inner = unit_inner[unit_inner_at[u] + j] - a
                    shift = bits + j
                    for r in range(n_rows):
                        at[r] |= g[inner, r] << shift
                for r in range(n_rows):
                    at[r] = base + at[r] * k
                if n_rows < _FEW_ROWS:
                    for r in range(n_rows):
                        for i in range(k):
                            phi[path_feature[p0 + i], r] += table[at[r] + i]
                    continue
                for i in range(k):
                    f = path_feature[p0 + i]
                    for r in range(n_rows):
                        phi[f, r] += table[at[r] + i]
                continue
            for r in range(n_rows):
                followed = mask[node, r] & low
                z_out = 1.0  # Z(F \ A)
                for i in range(k):
                    z = path_zero[p0 + i]
                    z_out *= 1.0 if (followed >> i) & 1 else z
                missed = -z_out * table[base + followed]
                for i in range(k):
                    hit = (
                        (1.0 - path_zero[p0 + i])
                        * z_out
                        * table[base + (followed ^ (np.int64(1) << i))]
                    )
                    phi[path_feature[p0 + i], r] += hit if (followed >> i) & 1 else missed


@njit(nogil=True, cache=False)
def _subtree_terms(
    bits, d, sub_left, sub_right, sub_slot, sub_bit, sub_leaf, leaf_k, terms_at, terms, pos_at,
    pos, k, out,
):  # pragma: no cover  # fmt: skip
    """A subtree's leaves' terms summed, for every index ``A_root | decisions << bits``.

    ``A_root`` is the followed set at the subtree's root (``bits`` bits); bit ``j`` of
    the decisions says whether the row goes left at the inner node with ``sub_bit`` j.
    Each leaf's followed set is carried down from the root as the kernel carries it
    (slots new to the path start followed; the branch not taken clears its slot) and
    its tabulated terms land at the unit's position of each of its features.
    """
    low = (np.int64(1) << bits) - 1
    n_sub = len(sub_left)
    stack_node = np.zeros(n_sub, dtype=np.int64)
    stack_mask = np.zeros(n_sub, dtype=np.int64)
    for index in range(np.int64(1) << (bits + d)):
        stack_node[0] = 0
        stack_mask[0] = (index & low) | ~low
        top = 1
        while top > 0:
            top -= 1
            n = stack_node[top]
            m = stack_mask[top]
            if sub_left[n] < 0:
                leaf = sub_leaf[n]
                kl = leaf_k[leaf]
                t0 = terms_at[leaf] + (m & ((np.int64(1) << kl) - 1)) * kl
                p0 = pos_at[leaf]
                for i in range(kl):
                    out[index * k + pos[p0 + i]] += terms[t0 + i]
                continue
            bit = np.int64(1) << sub_slot[n]
            goes_left = (index >> (bits + sub_bit[n])) & 1
            stack_node[top] = sub_left[n]
            stack_mask[top] = m if goes_left else m & ~bit
            stack_node[top + 1] = sub_right[n]
            stack_mask[top + 1] = m & ~bit if goes_left else m
            top += 2


@njit(nogil=True, cache=False)
def _leaf_vectors(zero, k, g_table, out):  # pragma: no cover
    """``out[A * k + i]``: the term of path feature ``i`` for the followed set ``A``,
    computed exactly as the kernel computes it from ``g_table`` (``value * G``)."""
    for followed in range(np.int64(1) << k):
        z_out = 1.0
        for i in range(k):
            z = zero[i]
            z_out *= 1.0 if (followed >> i) & 1 else z
        missed = -z_out * g_table[followed]
        for i in range(k):
            hit = (1.0 - zero[i]) * z_out * g_table[followed ^ (np.int64(1) << i)]
            out[followed * k + i] = hit if (followed >> i) & 1 else missed


@njit(nogil=True, cache=False)
def _leaf_table(zero, k, value, out):  # pragma: no cover
    """``out[B] = value * G(B)`` for every subset ``B`` of the ``k`` path features."""
    # w[s] = s! (k - s - 1)! / k!, for s = 0 .. k - 1
    w = np.zeros(k + 1)
    for s in range(k):
        acc = 1.0 / k
        # 1/k * 1/C(k-1, s)
        c = 1.0
        for j in range(s):
            c = c * (k - 1 - j) / (j + 1)
        w[s] = acc / c
    size = np.int64(1) << k
    e = np.zeros((size, k + 1))  # elementary symmetric polynomials of z over B
    e[0, 0] = 1.0
    count = np.zeros(size, dtype=np.int64)
    for b in range(1, size):
        low = b & -b
        j = 0
        while (np.int64(1) << j) != low:
            j += 1
        prev = b ^ low
        count[b] = count[prev] + 1
        e[b, 0] = 1.0
        for m in range(1, count[b] + 1):
            e[b, m] = e[prev, m] + zero[j] * e[prev, m - 1]
    for b in range(size):
        total = 0.0
        c = count[b]
        for m in range(c + 1):  # |S| = c - m elements kept, m zero-fraction factors
            s = c - m
            if s < k:
                total += w[s] * e[b, m]
        out[b] = value * total


class FastTreeShap:
    """Exact path-dependent TreeSHAP for one model's trees, tables built once.

    ``contributions(x)`` returns ``(rows, n_features)`` contributions whose row sums
    plus ``base`` are the sum of the leaves each row reaches — to float rounding,
    and equal to the recursive algorithm's terms to about 1e-12.
    """

    def __init__(self, trees: NodeTrees, n_features: int) -> None:
        self.trees = trees
        self.n_features = n_features
        self.base = float(trees.expected_values().sum())
        for index_bits in SUBTREE_INDEX_BITS:
            self._build(index_bits)
            if not self.over_budget:
                break
        # Compile and check the kernels once, at model load, on one all-missing row.
        self.contributions(np.full((1, n_features), np.nan))

    def _build(self, index_bits: int) -> None:
        """The tables, subtrees of up to ``index_bits`` index bits tabulated as one unit;
        ``over_budget`` says whether a budget left a tree or a leaf on a slower form."""
        t = self.trees
        self.over_budget = False
        self.subtree_index_bits = index_bits
        n_nodes = len(t.left)
        slot = np.zeros(n_nodes, dtype=np.int64)
        depth_k = np.zeros(n_nodes, dtype=np.int64)  # distinct path features above a node
        names = ("node", "k", "bits", "d", "inner_at", "vectors", "feature_at", "table_at")
        units: dict[str, list[Any]] = {name: [] for name in names}
        unit_inner: list[int] = []
        unit_start = [0]
        path_feature: list[int] = []
        path_zero: list[float] = []
        tables: list[np.ndarray] = []
        used = 0
        fast: list[int] = []
        slow: list[int] = []

        def add(node: int, k: int, bits: int, inner: list[int], vectors: bool,
                features: list[int], zeros: list[float], out: np.ndarray) -> None:  # fmt: skip
            nonlocal used
            for name, value in (("node", node), ("k", k), ("bits", bits), ("d", len(inner)),
                                ("inner_at", len(unit_inner)), ("vectors", vectors),
                                ("feature_at", len(path_feature)), ("table_at", used)):  # fmt: skip
                units[name].append(value)
            unit_inner.extend(inner)
            path_feature.extend(features)
            path_zero.extend(zeros)
            tables.append(out)
            used += len(out)

        for tree in range(t.n_trees):
            leaves = self._paths(tree, slot, depth_k)
            need = sum(1 << len(features) for _, features, _ in leaves)
            widest = max((len(features) for _, features, _ in leaves), default=0)
            if widest > MAX_PATH_FEATURES or used + need > TABLE_BUDGET:
                # A path too wide for any table is not the budget's doing.
                self.over_budget |= widest <= MAX_PATH_FEATURES and used + need > TABLE_BUDGET
                slow.append(tree)
                unit_start.append(len(units["node"]))
                continue
            fast.append(tree)
            vectors: dict[int, tuple[list[int], list[float], np.ndarray]] = {}
            for node, features, zeros in leaves:
                k = len(features)
                out = np.zeros(1 << k)
                z = np.asarray(zeros, dtype=np.float64)
                if k:
                    _leaf_table(z, k, t.value[node], out)
                if 0 < k <= VECTOR_PATH_FEATURES and used + (k << k) <= VECTOR_BUDGET:
                    terms = np.zeros(k << k)
                    _leaf_vectors(z, k, out, terms)
                    vectors[node] = (features, zeros, terms)
                else:
                    self.over_budget |= 0 < k <= VECTOR_PATH_FEATURES
                    add(node, k, k, [], False, features, zeros, out)
            # Small subtrees whose leaves all have their terms tabulated: one table for
            # the whole subtree, indexed by the followed set at its root and the row's
            # direction at each of its inner nodes (a leaf alone is the subtree of none).
            stack = [int(t.start[tree])]
            while stack:
                node = stack.pop()
                if t.left[node] < 0:
                    if node in vectors:
                        features, zeros, terms = vectors[node]
                        add(node, len(features), len(features), [], True, features, zeros, terms)
                    continue
                unit = self._subtree_unit(node, depth_k, slot, vectors, used, index_bits)
                if unit is None:
                    stack += [int(t.right[node]), int(t.left[node])]
                    continue
                inner, features, out = unit
                add(node, len(features), int(depth_k[node]), inner, True, features,
                    [0.0] * len(features), out)  # fmt: skip
            unit_start.append(len(units["node"]))
        self._slot = slot
        self._fast = np.asarray(fast, dtype=np.int64)
        self.fallback_trees = slow
        self._unit_start = np.asarray(unit_start, dtype=np.int64)
        self._unit_node = np.asarray(units["node"], dtype=np.int64)
        self._unit_k = np.asarray(units["k"], dtype=np.int64)
        self._unit_bits = np.asarray(units["bits"], dtype=np.int64)
        self._unit_d = np.asarray(units["d"], dtype=np.int64)
        self._unit_inner_at = np.asarray(units["inner_at"], dtype=np.int64)
        self._unit_inner = np.asarray([*unit_inner, 0], dtype=np.int64)
        self._unit_vectors = np.asarray(units["vectors"], dtype=np.bool_)
        self._feature_at = np.asarray(units["feature_at"], dtype=np.int64)
        self._path_feature = np.asarray(path_feature, dtype=np.int64)
        self._path_zero = np.asarray(path_zero, dtype=np.float64)
        self._table_at = np.asarray(units["table_at"], dtype=np.int64)
        self._table = np.concatenate(tables) if tables else np.zeros(1)
        self.table_entries = used

    def _subtree_unit(
        self,
        root: int,
        depth_k: np.ndarray,
        slot: np.ndarray,
        vectors: dict[int, tuple[list[int], list[float], np.ndarray]],
        used: int,
        index_bits: int,
    ) -> tuple[list[int], list[int], np.ndarray] | None:
        """The table of the subtree at ``root`` as one unit, or None when it is too large
        (more than ``index_bits`` index bits, over the budget) or has a leaf
        without tabulated terms. Returns (inner nodes in index-bit order, features, table).
        """
        t = self.trees
        nodes, stack = [], [root]
        while stack:
            node = stack.pop()
            nodes.append(node)
            if t.left[node] >= 0:
                stack += [int(t.right[node]), int(t.left[node])]
        inner = [n for n in nodes if t.left[n] >= 0]
        leaves = [n for n in nodes if t.left[n] < 0]
        bits = int(depth_k[root])
        if bits + len(inner) > index_bits or any(n not in vectors for n in leaves):
            return None
        features = list(vectors[leaves[0]][0][:bits])
        for leaf in leaves:
            features += [f for f in vectors[leaf][0][bits:] if f not in features]
        k = len(features)
        size = (1 << (bits + len(inner))) * k
        if used + size > VECTOR_BUDGET:
            self.over_budget = True
            return None
        local = {n: i for i, n in enumerate(nodes)}
        sub_left = np.array([local.get(int(t.left[n]), -1) for n in nodes], dtype=np.int64)
        sub_right = np.array([local.get(int(t.right[n]), -1) for n in nodes], dtype=np.int64)
        sub_slot = np.array([int(slot[n]) for n in nodes], dtype=np.int64)
        sub_bit = np.zeros(len(nodes), dtype=np.int64)
        sub_bit[[local[n] for n in inner]] = np.arange(len(inner))
        sub_leaf = np.full(len(nodes), -1, dtype=np.int64)
        sub_leaf[[local[n] for n in leaves]] = np.arange(len(leaves))
        leaf_k = np.array([len(vectors[n][0]) for n in leaves], dtype=np.int64)
        terms = [vectors[n][2] for n in leaves]
        terms_at = np.cumsum([0] + [len(x) for x in terms[:-1]]).astype(np.int64)
        positions = [[features.index(f) for f in vectors[n][0]] for n in leaves]
        pos_at = np.cumsum([0] + [len(x) for x in positions[:-1]]).astype(np.int64)
        out = np.zeros(size)
        _subtree_terms(
            bits, len(inner), sub_left, sub_right, sub_slot, sub_bit, sub_leaf, leaf_k,
            terms_at, np.concatenate(terms), pos_at,
            np.asarray([p for ps in positions for p in ps], dtype=np.int64), k, out,
        )  # fmt: skip
        return inner, features, out

    def _paths(
        self, tree: int, slot: np.ndarray, depth_k: np.ndarray
    ) -> list[tuple[int, list[int], list[float]]]:
        """Per leaf: its node, the distinct features on its path (slot order), their z.

        Sets each inner node's ``slot`` (its feature's position among the path's
        distinct features) and ``depth_k`` (how many distinct features lie above it).
        """
        t = self.trees
        out = []
        stack: list[tuple[int, list[int], list[float]]] = [(int(t.start[tree]), [], [])]
        while stack:
            node, features, zeros = stack.pop()
            if t.left[node] < 0:
                out.append((node, features, zeros))
                continue
            f = int(t.feature[node])
            depth_k[node] = len(features)
            if f in features:
                s = features.index(f)
            else:
                s = len(features)
                features = [*features, f]
                zeros = [*zeros, 1.0]
            slot[node] = s
            for child in (int(t.left[node]), int(t.right[node])):
                z = list(zeros)
                z[s] *= t.cover[child] / t.cover[node] if t.cover[node] > 0 else 0.0
                stack.append((child, features, z))
        return out

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """(rows, n_features) contributions of the rows of ``x`` (float64, NaN missing)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        t = self.trees
        cat_other = t.cat_other if t.cat_other is not None else np.zeros(len(t.left), np.int8)
        phi_t = np.zeros((self.n_features, x.shape[0]))  # rows contiguous in the kernel
        common = (
            t.kind, t.threshold, t.missing, t.default_left, t.cat_row, t.cat_table,
            cat_other, t.cat_negative_fraction, t.float32,
        )  # fmt: skip
        if len(self._fast):
            _shap(
                np.ascontiguousarray(x.T), self._fast, t.start, t.left, t.right, t.feature,
                *common, self._slot,
                self._unit_start, self._unit_node, self._unit_k, self._unit_bits,
                self._unit_d, self._unit_inner_at, self._unit_inner, self._unit_vectors,
                self._feature_at,
                self._path_feature, self._path_zero, self._table_at, self._table, phi_t,
            )  # fmt: skip
        phi = np.ascontiguousarray(phi_t.T)
        if self.fallback_trees:
            phi += self.recursive(x, self.fallback_trees)
        return phi

    def recursive(
        self, x: np.ndarray, trees: list[int] | None = None, tree_shap: Any = None
    ) -> np.ndarray:
        """The same contributions by the recursive algorithm (Lundberg et al. 2018,
        Algorithm 2) on the same split decisions, over ``trees`` (default all).

        The fallback for trees whose tables would be too large, and the reference the
        tests hold the tables to. ``tree_shap`` is ``_treeshap_jit.tree_shap_rows``
        (the default) or the vectorised ``_treeshap.tree_shap``.
        """
        from modelyard.explain._treeshap import Tree

        if tree_shap is None:
            from modelyard.explain._treeshap_jit import tree_shap_rows as tree_shap
        x = np.ascontiguousarray(x, dtype=np.float64)
        t = self.trees
        cat_other = t.cat_other if t.cat_other is not None else np.zeros(len(t.left), np.int8)
        phi = np.zeros((x.shape[0], self.n_features))
        xt = np.ascontiguousarray(x.T)
        for tree in range(t.n_trees) if trees is None else trees:
            a, b = int(t.start[tree]), int(t.start[tree + 1])
            goes_left = _decisions(
                xt, a, b, t.feature, t.kind, t.threshold, t.missing, t.default_left, t.left,
                t.cat_row, t.cat_table, cat_other, t.cat_negative_fraction, t.float32,
            )  # fmt: skip
            local = Tree(
                left=np.where(t.left[a:b] >= 0, t.left[a:b] - a, -1),
                right=np.where(t.right[a:b] >= 0, t.right[a:b] - a, -1),
                feature=t.feature[a:b],
                value=t.value[a:b],
                cover=t.cover[a:b],
            )
            phi += tree_shap(local, goes_left, self.n_features)
        return phi

    def leaf_sum(self, x: np.ndarray) -> np.ndarray:
        """The sum over trees of the leaf each row reaches (independent of the tables)."""
        x = np.ascontiguousarray(x, dtype=np.float64)
        t = self.trees
        cat_other = t.cat_other if t.cat_other is not None else np.zeros(len(t.left), np.int8)
        return _leaf_sum(
            np.ascontiguousarray(x.T), t.start, t.left, t.right, t.feature, t.value, t.kind,
            t.threshold, t.missing, t.default_left, t.cat_row, t.cat_table, cat_other,
            t.cat_negative_fraction,
            t.float32,
        )  # fmt: skip


@njit(nogil=True, cache=False)
def _leaf_sum(
    xt, start, left, right, feature, value, kind, threshold, missing, default_left, cat_row,
    cat_table, cat_other, negative_fraction, float32,
):  # pragma: no cover  # fmt: skip
    out = np.zeros(xt.shape[1])
    for t in range(len(start) - 1):
        a, b = start[t], start[t + 1]
        goes_left = _decisions(
            xt, a, b, feature, kind, threshold, missing, default_left, left, cat_row, cat_table,
            cat_other, negative_fraction, float32,
        )  # fmt: skip
        for r in range(xt.shape[1]):
            n = a
            while left[n] >= 0:
                n = left[n] if goes_left[n - a, r] else right[n]
            out[r] += value[n]
    return out
