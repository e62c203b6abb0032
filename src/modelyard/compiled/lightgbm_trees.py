"""A LightGBM model as flat arrays, evaluated by the numba kernel, bit-identical to LightGBM.

:class:`LightGBMTrees` reads the model's text form (``Booster.model_to_string``,
the very text LightGBM's C API loads, so every threshold and leaf value is the
same double), flattens its trees into node arrays and predicts with
:func:`modelyard.compiled._tree_kernel.predict_forest`. Its :meth:`predict` is a
drop-in for :class:`modelyard.compiled._lightgbm_capi.CBooster`'s: the same
(rows,) or (rows, classes) output of ``LGBM_BoosterPredictForMat``.

Why not LightGBM's own predict: it costs about 13 µs a row for the demo model
(200 trees x 31 leaves) on one thread, most of it per-row overhead; this kernel
walks a block of rows through one tree at a time (see the kernel's docstring for
the measured figures and the exactness rules).

Anything the kernel does not reproduce exactly is refused with
:class:`~modelyard.compiled.preprocess.NotCompilable` and a reason (linear trees,
predict-time early stopping, objectives with another output transform), and the
caller keeps the C API booster.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from modelyard.compiled._deferred import deferred, deferring
from modelyard.compiled._flat_forest import FlatForest
from modelyard.compiled.preprocess import NotCompilable

__all__ = ["C_API", "NUMBA", "LightGBMTrees", "load_lightgbm"]

NUMBA = "numba tree kernel"
"""The evaluator name of :class:`LightGBMTrees`, shown in compile reports."""
C_API = "LightGBM C API"
"""The evaluator name of the C API booster, the fallback."""

_IDENTITY_OBJECTIVES = frozenset(
    {"regression", "regression_l1", "huber", "fair", "quantile", "mape", "lambdarank"}
)
_EXP_OBJECTIVES = frozenset({"poisson", "gamma", "tweedie"})
_CATEGORICAL_MASK, _DEFAULT_LEFT_MASK = 1, 2
_MISSING_NONE, _MISSING_ZERO, _MISSING_NAN = 0, 1, 2


class LightGBMTrees:
    """LightGBM's prediction (normal, not raw) for a float64 matrix, in numba.

    Attributes:
        num_class: Outputs per row (1 for binary and regression).
        num_feature: Columns the model reads.
    """

    def __init__(self, model_text: str, *, num_iteration: int = 0) -> None:
        from modelyard.compiled import _tree_kernel as kernel

        self._kernel = kernel
        header, trees = _parse(model_text)
        if any(t.get("is_linear", "0") != "0" for t in trees):
            raise NotCompilable("a LightGBM model with linear trees (linear_tree=true)")
        per_iteration = int(header.get("num_tree_per_iteration", "1"))
        self.num_class = int(header.get("num_class", "1"))
        self.num_feature = int(header["max_feature_idx"]) + 1
        iterations = len(trees) // per_iteration
        if num_iteration > 0:
            iterations = min(iterations, num_iteration)
        trees = trees[: iterations * per_iteration]
        self._transform, self._scale = _objective(header.get("objective", ""), kernel)
        if self._transform == kernel.SOFTMAX and per_iteration != self.num_class:
            raise NotCompilable("a softmax objective with a tree count per iteration unlike its")
        self._divisor = float(iterations) if "average_output" in header else 1.0
        self._n_out = per_iteration
        self._base = np.zeros(per_iteration, dtype=np.float64)  # LightGBM's sums start at 0.0
        self._forest = FlatForest(
            _flatten(trees, per_iteration, self.num_feature, kernel), input_dtype=np.float64
        )

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Predictions for a (rows, features) matrix: (rows,) or (rows, classes)."""
        data = np.ascontiguousarray(matrix, dtype=np.float64)
        if data.ndim != 2 or data.shape[1] != self.num_feature:
            raise NotCompilable(
                f"the matrix has shape {data.shape}, the model reads {self.num_feature} columns"
            )
        out = np.empty((data.shape[0], self._n_out), dtype=np.float64)
        self._forest.evaluate(
            data,
            self._n_out,
            self._divisor,
            self._transform,
            self._scale,
            self._base,
            self._kernel.ZERO,
            out,
        )
        return out[:, 0] if self._n_out == 1 else out


def _parse(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """(header key -> value, one dict per tree) from LightGBM's model text."""
    header: dict[str, str] = {}
    trees: list[dict[str, str]] = []
    current = header
    for line in text.splitlines():
        if line.startswith("end of trees"):
            break
        if line.startswith("Tree="):
            current = {}
            trees.append(current)
            continue
        if not line:
            continue
        key, _, value = line.partition("=")
        current[key] = value
    if "max_feature_idx" not in header:
        raise NotCompilable("the LightGBM model text has no max_feature_idx")
    return header, trees


def _objective(objective: str, kernel: Any) -> tuple[int, float]:
    """(transform, sigmoid scale) of LightGBM's ``ConvertOutput`` for the objective line."""
    name, *options = objective.split()
    params = dict(o.partition(":")[::2] for o in options)
    if "sqrt" in options:
        raise NotCompilable(f"the LightGBM objective {name!r} with reg_sqrt")
    if name == "binary":
        return kernel.SIGMOID, float(params.get("sigmoid", "1"))
    if name in ("multiclass", "softmax"):
        return kernel.SOFTMAX, 1.0
    if name in ("multiclassova", "multiclass_ova", "ova", "ovr"):
        return kernel.MULTI_SIGMOID, float(params.get("sigmoid", "1"))
    if name in ("cross_entropy", "xentropy"):
        return kernel.SIGMOID, 1.0
    if name in _EXP_OBJECTIVES:
        return kernel.EXP, 1.0
    if name in _IDENTITY_OBJECTIVES or name in ("regression_l2", "l2", "mse", "rank_xendcg"):
        return kernel.IDENTITY, 1.0
    raise NotCompilable(f"the LightGBM objective {objective!r} has no compiled output transform")


def _numbers(tree: dict[str, str], key: str, dtype: Any) -> np.ndarray:
    text = tree.get(key, "").strip()
    if not text:
        return np.empty(0, dtype=dtype)
    if dtype is np.float64:
        return np.array([float(v) for v in text.split()], dtype=np.float64)
    return np.array([int(v) for v in text.split()], dtype=dtype)


def _flatten(
    trees: list[dict[str, str]], per_iteration: int, width: int, kernel: Any
) -> tuple[np.ndarray, ...]:
    """The kernel's arrays, every tree's nodes and leaves concatenated in tree order."""
    feature, threshold, children, kind, missing_right = [], [], [], [], []
    cat_start, cat_len, words = [], [], []
    roots, leaves = [], []
    node_base = leaf_base = word_base = 0
    for tree in trees:
        values = _numbers(tree, "leaf_value", np.float64)
        n_leaves = int(tree.get("num_leaves", len(values)))
        if len(values) != n_leaves or n_leaves < 1:
            raise NotCompilable("a LightGBM tree without its leaf values")
        leaves.append(values)
        if n_leaves == 1:
            roots.append(~leaf_base)
            leaf_base += 1
            continue
        split = _numbers(tree, "split_feature", np.int64)
        thresholds = _numbers(tree, "threshold", np.float64)
        decision = _numbers(tree, "decision_type", np.int64)
        left = _numbers(tree, "left_child", np.int64)
        right = _numbers(tree, "right_child", np.int64)
        inner = n_leaves - 1
        if not all(len(a) == inner for a in (split, thresholds, decision, left, right)):
            raise NotCompilable("a LightGBM tree whose node arrays disagree in length")
        if split.size and (split.min() < 0 or split.max() >= width):
            raise NotCompilable("a LightGBM split on a feature beyond the model's width")
        bounds = _numbers(tree, "cat_boundaries", np.int64)
        cat_bits = _numbers(tree, "cat_threshold", np.int64).astype(np.uint32)
        node_kind = np.zeros(inner, dtype=np.uint8)
        go_right = np.zeros(inner, dtype=np.uint8)
        starts = np.zeros(inner, dtype=np.int64)
        lengths = np.zeros(inner, dtype=np.int64)
        for i in range(inner):
            flags = int(decision[i])
            missing = (flags >> 2) & 3
            default_left = bool(flags & _DEFAULT_LEFT_MASK)
            if flags & _CATEGORICAL_MASK:
                index = int(thresholds[i])
                node_kind[i] = kernel.CATEGORICAL
                starts[i] = word_base + bounds[index]
                lengths[i] = bounds[index + 1] - bounds[index]
                go_right[i] = 1
            elif missing == _MISSING_NONE:
                go_right[i] = 0 if thresholds[i] >= 0.0 else 1  # NaN is read as 0.0
            elif missing == _MISSING_ZERO:
                node_kind[i] = kernel.ZERO_MISSING
                go_right[i] = 0 if default_left else 1
            elif missing == _MISSING_NAN:
                go_right[i] = 0 if default_left else 1
            else:
                raise NotCompilable(f"a LightGBM split with missing type {missing}")

        # Internal nodes move by node_base; leaf ~j becomes leaf ~(leaf_base + j).
        pair = np.stack([left, right], axis=1)
        feature.append(split)
        threshold.append(thresholds)
        children.append(np.where(pair >= 0, pair + node_base, ~(~pair + leaf_base)))
        kind.append(node_kind)
        missing_right.append(go_right)
        cat_start.append(starts)
        cat_len.append(lengths)
        words.append(cat_bits)
        roots.append(node_base)
        node_base += inner
        leaf_base += n_leaves
        word_base += len(cat_bits)

    def join(parts: list[np.ndarray], dtype: Any, shape: tuple[int, ...] = (0,)) -> np.ndarray:
        if not parts:
            return np.zeros(shape, dtype=dtype)
        return np.ascontiguousarray(np.concatenate(parts), dtype=dtype)

    return (
        join(feature, np.int32),
        join(threshold, np.float64),
        join(children, np.int32, (0, 2)),
        join(kind, np.uint8),
        join(missing_right, np.int32),
        np.ascontiguousarray(
            np.stack([join(cat_start, np.int32), join(cat_len, np.int32)], axis=1)
        ),
        join(words, np.uint32),
        np.asarray(roots, dtype=np.int32),
        np.arange(len(trees), dtype=np.int32) % per_iteration,
        join(leaves, np.float64).reshape(-1, 1),
    )


def load_lightgbm(
    model_text: str, *, num_iteration: int = 0, parameters: str = ""
) -> tuple[Any, str]:
    """(predictor, evaluator): the numba kernel for a model it reproduces, else the C API.

    Both predictors have the same ``predict(matrix)``, ``num_class`` and
    ``num_feature``. ``evaluator`` names the one chosen and, for the C API, why
    (``"LightGBM C API (a LightGBM model with linear trees ...)"``).

    Args:
        parameters: LightGBM predict parameters (``"num_threads=1 pred_early_stop=true"``);
            any besides ``num_threads`` keeps LightGBM's own predict, which applies them.
    """
    from modelyard.compiled._lightgbm_capi import CBooster

    extra = sorted(
        p.partition("=")[0] for p in parameters.split() if not p.startswith("num_threads=")
    )
    reason = None
    if extra:
        reason = f"predict parameters {', '.join(extra)} are applied by LightGBM itself"
    else:
        try:
            trees = LightGBMTrees(model_text, num_iteration=num_iteration)
        except NotCompilable as exc:
            reason = str(exc)
        except ImportError as exc:  # numba missing or broken: LightGBM's own predict
            reason = f"numba is unavailable ({exc})"
        else:
            if not deferring():
                return trees, NUMBA
            booster = CBooster(model_text, num_iteration=num_iteration, parameters=parameters)
            predict, evaluator = deferred(trees.predict, booster.predict, C_API)
            return _Deferred(predict, trees.num_class, trees.num_feature), evaluator
    booster = CBooster(model_text, num_iteration=num_iteration, parameters=parameters)
    return booster, f"{C_API} ({reason})"


class _Deferred:
    """The kernel behind :func:`modelyard.compiled._deferred.deferred`, shaped as a booster."""

    def __init__(self, predict: Any, num_class: int, num_feature: int) -> None:
        self.predict, self.num_class, self.num_feature = predict, num_class, num_feature
