"""LightGBM's trees as node arrays, read from the booster's own model text.

The text model (``model_to_string``) holds, per tree, the split features,
thresholds (printed with 17 significant digits, so they read back as the
doubles LightGBM compares with), decision types, children, leaf values and the
data counts LightGBM's own TreeSHAP uses as covers. Split semantics, as
LightGBM's ``Tree::NumericalDecision`` and ``CategoricalDecision``:

- numeric: with missing type None a NaN counts as 0.0; with Zero, 0.0 and NaN go
  to the default child; with NaN, NaN goes to the default child; otherwise
  ``value <= threshold`` goes left;
- categorical: NaN or a negative value goes right; otherwise the value cast to
  int goes left when its bit is set in the split's bitset.

Models this reader does not cover — linear trees, ``average_output`` (random
forest mode), several trees per iteration — return None, and the caller uses
LightGBM's ``pred_contrib``.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from modelyard.explain._fasttreeshap import (
    CAT,
    CAT_LEFT,
    CAT_RIGHT,
    LE,
    MISSING_DEFAULT,
    MISSING_NONE,
    MISSING_ZERO,
    FastTreeShap,
    NodeTrees,
)

__all__ = ["lightgbm_fast"]

_CACHE: weakref.WeakKeyDictionary[Any, FastTreeShap | None] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_MISSING = {0: MISSING_NONE, 1: MISSING_ZERO, 2: MISSING_DEFAULT}


def _numbers(text: str, dtype: Any) -> np.ndarray:
    return np.asarray(text.split(), dtype=dtype) if text.strip() else np.zeros(0, dtype=dtype)


def _tree(block: dict[str, str]) -> dict[str, np.ndarray] | None:
    n_leaves = int(block["num_leaves"])
    leaf_value = _numbers(block["leaf_value"], np.float64)
    if n_leaves == 1:
        return {
            "left": np.array([-1]),
            "right": np.array([-1]),
            "value": leaf_value[:1],
            "cover": np.ones(1),
        }
    if int(block.get("is_linear", "0")) != 0:
        return None
    n_inner = n_leaves - 1
    size = n_inner + n_leaves

    def node(child: np.ndarray) -> np.ndarray:
        return np.where(child >= 0, child, n_inner + ~child)

    left = np.full(size, -1, dtype=np.int64)
    right = np.full(size, -1, dtype=np.int64)
    left[:n_inner] = node(_numbers(block["left_child"], np.int64))
    right[:n_inner] = node(_numbers(block["right_child"], np.int64))
    feature = np.zeros(size, dtype=np.int64)
    feature[:n_inner] = _numbers(block["split_feature"], np.int64)
    threshold = np.zeros(size)
    threshold[:n_inner] = _numbers(block["threshold"], np.float64)
    decision = _numbers(block["decision_type"], np.int64)
    kind = np.full(size, LE, dtype=np.int8)
    categorical = (decision & 1).astype(bool)
    kind[:n_inner][categorical] = CAT
    default_left = np.zeros(size, dtype=bool)
    default_left[:n_inner] = (decision & 2).astype(bool)
    missing = np.zeros(size, dtype=np.int8)
    missing[:n_inner] = [_MISSING[int(m)] for m in (decision >> 2) & 3]
    value = np.zeros(size)
    value[n_inner:] = leaf_value
    cover = np.zeros(size)
    cover[:n_inner] = _numbers(block["internal_count"], np.float64)
    cover[n_inner:] = _numbers(block["leaf_count"], np.float64)
    out = {
        "left": left,
        "right": right,
        "feature": feature,
        "threshold": threshold,
        "kind": kind,
        "missing": missing,
        "default_left": default_left,
        "value": value,
        "cover": cover,
        "cat_other": np.full(size, CAT_RIGHT, dtype=np.int8),
    }
    if categorical.any():
        bounds = _numbers(block["cat_boundaries"], np.int64)
        words = _numbers(block["cat_threshold"], np.uint64)
        width = 32 * int(np.max(np.diff(bounds)))
        table = np.full((size, width), CAT_RIGHT, dtype=np.int8)
        for n in np.flatnonzero(categorical):
            index = int(threshold[n])
            bits = words[bounds[index] : bounds[index + 1]]
            codes = np.arange(32 * len(bits))
            set_ = (bits[codes // 32] >> (codes % 32).astype(np.uint64)) & np.uint64(1)
            table[n, : len(codes)] = np.where(set_ == 1, CAT_LEFT, CAT_RIGHT)
        out["cat_table"] = table
        out["cat_node"] = np.concatenate([categorical, np.zeros(n_leaves, dtype=bool)])
    return out


def _read(booster: Any, n_features: int) -> FastTreeShap | None:
    text = booster.model_to_string()
    header, _, body = text.partition("\nTree=")
    head = dict(line.split("=", 1) for line in header.splitlines() if "=" in line)
    if int(head.get("num_tree_per_iteration", "1")) != 1 or "average_output" in header.split():
        return None
    body = body.split("\nend of trees")[0]
    trees = []
    for chunk in ("Tree=" + body).split("\nTree=")[0:]:
        block = dict(line.split("=", 1) for line in chunk.splitlines() if "=" in line)
        tree = _tree(block)
        if tree is None:
            return None
        trees.append(tree)
    if not trees:
        return None
    nodes = NodeTrees.from_trees(trees, cat_negative_fraction=True)
    return FastTreeShap(nodes, n_features)


def lightgbm_fast(booster: Any, n_features: int) -> FastTreeShap | None:
    """The tabulated TreeSHAP of a LightGBM booster (built once per booster), or None."""
    with _LOCK:
        if booster in _CACHE:
            return _CACHE[booster]
    fast = _read(booster, n_features)
    with _LOCK:
        _CACHE[booster] = fast
    return fast
