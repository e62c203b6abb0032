"""XGBoost contributions in float64, from the trees the model stores as JSON.

XGBoost adds its leaves and its TreeSHAP terms in float32, so its own
``pred_contribs`` miss its own margin by a few float32 rounding steps (about
2e-6 on the realistic XGBoost pipeline, more than the 1e-6 the explanations
promise). Here the same trees — read from the booster's JSON model, whose
split thresholds and leaf values are the float32 numbers XGBoost decides
with — are explained with the exact tabulated TreeSHAP of ``_fasttreeshap`` in
float64, and the raw score is the float64 sum of the leaves each row reaches,
found by walking the trees (independently of the TreeSHAP tables, so that
``contributions + base == raw`` stays a check). Against XGBoost's own float32
margin that raw score differs only by XGBoost's float32 rounding (the tests
bound it at 1e-5, the float32 accumulation over the trees).

Split semantics, as XGBoost's predictor: the row's value cast to float32
goes left when ``value < split_condition``; a missing value (NaN) follows
``default_left``. Only plain numeric splits of a single-target ``gbtree``
with one tree per round and a known link are read; anything else (categorical
splits, dart, multi-class, ...) returns None and the caller uses XGBoost's own
float32 contributions.
"""

from __future__ import annotations

import json
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.explain._fasttreeshap import LT, MISSING_DEFAULT, FastTreeShap, NodeTrees

__all__ = ["xgboost_float64"]

_LOGIT = frozenset({"binary:logistic", "reg:logistic"})
_IDENTITY = frozenset(
    {"binary:logitraw", "reg:squarederror", "reg:absoluteerror", "reg:pseudohubererror"}
)


@dataclass(frozen=True)
class _Parsed:
    shap: FastTreeShap  # the trees, tabulated for TreeSHAP
    margin: float  # the margin before any tree (the link of base_score)
    base: float  # that margin plus every tree's expected value


_CACHE: weakref.WeakKeyDictionary[Any, _Parsed | None] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _base_margin(learner: dict[str, Any]) -> float | None:
    objective = learner["objective"]["name"]
    score = float(str(learner["learner_model_param"]["base_score"]).strip("[]"))
    if objective in _LOGIT:
        return float(np.log(score / (1.0 - score))) if 0.0 < score < 1.0 else None
    if objective in _IDENTITY:
        return score
    return None


def _parse(booster: Any) -> _Parsed | None:
    model = json.loads(bytes(booster.save_raw("json")))
    learner = model["learner"]
    gbm = learner["gradient_booster"]
    params = learner["learner_model_param"]
    if gbm.get("name") != "gbtree" or int(params.get("num_class", "0")) > 1:
        return None
    if int(params.get("num_target", "1")) != 1:
        return None
    margin = _base_margin(learner)
    if margin is None:
        return None
    trees_json = gbm["model"]["trees"]
    if any(int(t) != 0 for t in gbm["model"].get("tree_info", [])):
        return None
    best = booster.attr("best_iteration")
    if best is not None:  # early stopping: the wrapper predicts with the best rounds only
        trees_json = trees_json[: int(best) + 1]
    trees = []
    for t in trees_json:
        if any(int(s) != 0 for s in t.get("split_type", [])):
            return None  # categorical splits: not read here
        left = np.asarray(t["left_children"], dtype=np.int64)
        right = np.asarray(t["right_children"], dtype=np.int64)
        leaf = left < 0
        # Leaves keep their output in split_conditions; thresholds are float32 numbers.
        condition = np.asarray(t["split_conditions"], dtype=np.float32).astype(np.float64)
        trees.append(
            {
                "left": left,
                "right": right,
                "feature": np.where(leaf, 0, np.asarray(t["split_indices"], dtype=np.int64)),
                "threshold": np.where(leaf, 0.0, condition),
                "kind": np.full(len(left), LT, dtype=np.int8),
                "missing": np.full(len(left), MISSING_DEFAULT, dtype=np.int8),
                "default_left": np.asarray(t["default_left"], dtype=bool),
                "value": np.where(leaf, condition, 0.0),
                "cover": np.asarray(t["sum_hessian"], dtype=np.float64),
            }
        )
    if not trees:
        return None
    shap = FastTreeShap(NodeTrees.from_trees(trees, float32=True), int(booster.num_features()))
    return _Parsed(shap, margin, margin + shap.base)


def _parsed(estimator: Any) -> _Parsed | None:
    with _LOCK:
        if estimator in _CACHE:
            return _CACHE[estimator]
    parsed = _parse(estimator.get_booster())
    with _LOCK:
        _CACHE[estimator] = parsed
    return parsed


def xgboost_float64(
    estimator: Any, matrix: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(contributions, base, raw) in float64, or None when the model is not read here."""
    parsed = _parsed(estimator)
    if parsed is None:
        return None
    x = np.asarray(matrix, dtype=np.float64)  # rounded to float32 at each split, as XGBoost
    values = parsed.shap.contributions(x)
    raw = parsed.margin + parsed.shap.leaf_sum(x)
    return values, np.full(len(x), parsed.base), raw
