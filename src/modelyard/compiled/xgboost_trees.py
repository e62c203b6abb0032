"""An XGBoost model as flat arrays for the numba tree kernel, bit-identical to ``inplace_predict``.

XGBoost's own predictor is fast on large matrices, but every ``inplace_predict``
call pays a fixed cost (about 0.2 ms on this machine: the data adapter, the
thread pool, the output buffer), which dominates a serving request of one to a
hundred rows. The same kernel as LightGBM's (:mod:`modelyard.compiled._tree_kernel`)
evaluates the trees in float32, as XGBoost does:

* the input is rounded to float32 and NaN is missing (the model's ``missing``
  must be NaN), which goes to the node's default child;
* XGBoost sends ``x < split`` left; for float32 values that is ``x <= t'`` with
  ``t'`` the float32 just below ``split``, the kernel's rule;
* each output starts at the model's base margin (read from XGBoost itself:
  the model with every leaf set to 0.0 predicts exactly its base margin) and
  adds its trees' leaves in tree order, in float32;
* ``binary:logistic`` and ``multi:softprob`` go through XGBoost's float32
  sigmoid and softmax; the squared and absolute error regressions are the sum.

The model is read from its JSON form (``save_raw("json")``), whose numbers are
the float32 values printed to round-trip. Categorical splits, DART and linear
boosters, other objectives and a non-NaN ``missing`` are refused with
:class:`~modelyard.compiled.preprocess.NotCompilable` and a reason; the caller
then keeps ``inplace_predict``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from modelyard.compiled._flat_forest import FlatForest
from modelyard.compiled.preprocess import NotCompilable

__all__ = ["XGBoostTrees"]

_IDENTITY_OBJECTIVES = frozenset({"reg:squarederror", "reg:absoluteerror"})


class XGBoostTrees:
    """XGBoost's prediction (``predict_type="value"``) for a float64 matrix, in numba.

    Args:
        booster: The fitted ``xgboost.Booster``.
        iteration_range: ``(begin, end)`` of the boosting rounds used, as the
            scikit-learn model's ``_get_iteration_range(None)`` gives it.
        width: Columns of the input matrix.
    """

    def __init__(self, booster: Any, iteration_range: tuple[int, int], width: int) -> None:
        from modelyard.compiled import _tree_kernel as kernel

        self._kernel = kernel
        document = json.loads(booster.save_raw(raw_format="json"))
        learner = document["learner"]
        booster_doc = learner["gradient_booster"]
        if booster_doc.get("name") != "gbtree":
            raise NotCompilable(f"an XGBoost {booster_doc.get('name')!r} booster")
        model = booster_doc["model"]
        objective = learner["objective"]["name"]
        n_groups = max(1, int(learner["learner_model_param"].get("num_class", "0")))
        if objective == "binary:logistic":
            self._transform = kernel.XGB_SIGMOID
        elif objective == "multi:softprob":
            self._transform = kernel.XGB_SOFTMAX
        elif objective in _IDENTITY_OBJECTIVES:
            self._transform = kernel.IDENTITY
        else:
            raise NotCompilable(f"the XGBoost objective {objective!r} has no compiled transform")
        if int(learner["learner_model_param"].get("num_target", "1")) != 1:
            raise NotCompilable("a multi-target XGBoost model")
        trees = model["trees"]
        indptr = [int(i) for i in model.get("iteration_indptr") or []]
        begin, end = (int(i) for i in iteration_range)
        if indptr:
            end = len(indptr) - 1 if end <= 0 else min(end, len(indptr) - 1)
            first, last = indptr[begin], indptr[end]
        else:
            first, last = 0, len(trees)
        groups = [int(g) for g in model["tree_info"]][first:last]
        self._forest = FlatForest(
            _flatten(trees[first:last], groups, width), input_dtype=np.float32
        )
        self._n_out = n_groups
        self.num_feature = width
        self._base = _base_margin(booster, width, n_groups)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Predictions as ``inplace_predict`` gives them: float32, (rows,) or (rows, classes)."""
        data = np.ascontiguousarray(matrix, dtype=np.float32)
        if data.ndim != 2 or data.shape[1] != self.num_feature:
            raise NotCompilable(
                f"the matrix has shape {data.shape}, the model reads {self.num_feature} columns"
            )
        out = np.empty((data.shape[0], self._n_out), dtype=np.float32)
        self._forest.evaluate(
            data,
            self._n_out,
            1.0,
            self._transform,
            1.0,
            self._base,
            0.0,  # no value is read as zero: XGBoost compares every float32 as it is
            out,
        )
        return out[:, 0] if self._n_out == 1 else out


def _base_margin(booster: Any, width: int, n_groups: int) -> np.ndarray:
    """The base margin per output, exactly: what the model predicts with every leaf at 0.0."""
    import xgboost

    document = json.loads(booster.save_raw(raw_format="json"))
    for tree in document["learner"]["gradient_booster"]["model"]["trees"]:
        left = tree["left_children"]
        tree["split_conditions"] = [
            0.0 if child == -1 else value
            for child, value in zip(left, tree["split_conditions"], strict=True)
        ]
        tree["base_weights"] = [0.0] * len(left)
    zeroed = xgboost.Booster()
    zeroed.load_model(bytearray(json.dumps(document).encode("utf-8")))
    zeroed.set_param({"nthread": 1})
    margin = zeroed.inplace_predict(np.zeros((1, width)), predict_type="margin")
    base = np.asarray(margin, dtype=np.float32).reshape(-1)
    if base.size != n_groups:
        raise NotCompilable(f"the XGBoost base margin has {base.size} values, not {n_groups}")
    return base


def _flatten(trees: list[dict[str, Any]], groups: list[int], width: int) -> tuple[np.ndarray, ...]:
    """The kernel's arrays: internal nodes and leaves renumbered, tree after tree."""
    feature, threshold, children, missing_right, roots, leaves = [], [], [], [], [], []
    node_base = leaf_base = 0
    for tree in trees:
        if any(int(t) != 0 for t in tree.get("split_type", [])):
            raise NotCompilable("an XGBoost model with categorical splits")
        if int(tree.get("tree_param", {}).get("size_leaf_vector", "1")) > 1:
            raise NotCompilable("an XGBoost model with vector leaves")
        left = np.asarray(tree["left_children"], dtype=np.int64)
        right = np.asarray(tree["right_children"], dtype=np.int64)
        values = np.asarray(tree["split_conditions"], dtype=np.float64).astype(np.float32)
        split = np.asarray(tree["split_indices"], dtype=np.int64)
        default_left = np.asarray(tree["default_left"], dtype=np.int64)
        is_leaf = left == -1
        inner, leaf = np.flatnonzero(~is_leaf), np.flatnonzero(is_leaf)
        leaves.append(values[leaf])
        if is_leaf[0]:
            roots.append(~leaf_base)
            leaf_base += len(leaf)
            continue
        if split[inner].min() < 0 or split[inner].max() >= width:
            raise NotCompilable("an XGBoost split on a feature beyond the model's width")
        position = np.zeros(len(left), dtype=np.int64)
        position[inner] = np.arange(len(inner)) + node_base
        position[leaf] = ~(np.arange(len(leaf)) + leaf_base)
        feature.append(split[inner])
        # x < split  <=>  x <= the float32 just below split (x is a float32 too).
        threshold.append(np.nextafter(values[inner], np.float32(-np.inf)))
        children.append(np.stack([position[left[inner]], position[right[inner]]], axis=1))
        missing_right.append(1 - default_left[inner])
        roots.append(node_base)
        node_base += len(inner)
        leaf_base += len(leaf)

    def join(parts: list[np.ndarray], dtype: Any, shape: tuple[int, ...] = (0,)) -> np.ndarray:
        if not parts:
            return np.zeros(shape, dtype=dtype)
        return np.ascontiguousarray(np.concatenate(parts), dtype=dtype)

    n_nodes = max(node_base, 1)
    return (
        join(feature, np.int32),
        join(threshold, np.float32),
        join(children, np.int32, (0, 2)),
        np.zeros(node_base, dtype=np.uint8),  # every node a numerical split
        join(missing_right, np.int32),
        np.zeros((n_nodes, 2), dtype=np.int32),  # no categorical bitsets
        np.zeros(1, dtype=np.uint32),
        np.asarray(roots, dtype=np.int32),
        np.asarray(groups, dtype=np.int32),
        join(leaves, np.float32).reshape(-1, 1),
    )
