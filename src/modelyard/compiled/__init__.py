"""The compiler for the pipelines banks register: preprocessing + final estimator.

:func:`compile_pipeline` turns a fitted scikit-learn ``Pipeline`` (an optional
``ColumnTransformer`` of passthrough/drop, scalers, imputers, one-hot and ordinal
encoders, nested pipelines; then a linear model, LightGBM, XGBoost or a
scikit-learn tree ensemble) into a :class:`CompiledScorer`, or explains why not.

It sits below serving and batch (beside the flavors) and imports neither:
serving (:func:`modelyard.serving.fastpath.compile_fast_scorer`) and the batch
engine (:mod:`modelyard.batch.scoring`) both score with the same compiled form,
and each checks it against the native model where the version is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelyard.compiled._deferred import BATCH_KERNEL_AFTER_ROWS, is_deferred, kernel_after_rows
from modelyard.compiled.estimators import LINEAR_TOLERANCE, compile_estimator
from modelyard.compiled.preprocess import NotCompilable, compile_preprocessor
from modelyard.compiled.scorer import CompiledScorer

if TYPE_CHECKING:
    from modelyard.flavors.signature import Signature

__all__ = [
    "BATCH_KERNEL_AFTER_ROWS",
    "LINEAR_TOLERANCE",
    "CompiledScorer",
    "NotCompilable",
    "compile_pipeline",
    "is_deferred",
    "kernel_after_rows",
]

_SUPPORTED_TYPES = frozenset({"float", "integer", "string", "category"})


def compile_pipeline(
    native: Any,
    signature: Signature | None,
    task: str,
    classes: list[Any] | None = None,
    *,
    rules: Mapping[str, Any] | None = None,
) -> tuple[CompiledScorer | None, str]:
    """(scorer, "compiled") for a supported fitted pipeline, else (None, the reason).

    ``rules`` (the version's ``InputContract.rules``) make the scorer refuse any
    value outside the training domain, so serving flags it on the canonical path.
    """
    from sklearn.pipeline import Pipeline

    if signature is None:
        return None, "the version has no signature"
    if task not in ("classification", "regression"):
        return None, f"task {task!r} has no compiled form"
    for spec in signature.inputs:
        if spec.type not in _SUPPORTED_TYPES:
            return None, f"signature column {spec.name!r} of type {spec.type} has no compiled form"
    if isinstance(native, Pipeline):
        steps = [s for _, s in native.steps if s is not None and s != "passthrough"]
    else:
        steps = [native]
    if not steps:
        return None, "an empty pipeline"
    *pre, final = steps
    model_classes = getattr(final, "classes_", None)
    if (
        task == "classification"
        and classes is not None
        and (model_classes is None or len(model_classes) != len(classes))
    ):
        return None, "the classes of the version and of the model differ"
    if len(pre) > 1:
        return None, "more than one transformer before the model"
    types = {s.name: s.type for s in signature.inputs}
    # A HistGradientBoosting model with native categorical features, fitted directly on
    # a frame, holds its own ColumnTransformer: compiled into the decoder like any other.
    hgb = type(final).__name__.startswith("HistGradientBoosting")
    own = getattr(final, "_preprocessor", None) if hgb and not pre else None
    try:
        names = getattr(final, "feature_names_in_", None)
        pre_names = [str(n) for n in names] if names is not None and not pre else None
        if not pre and pre_names is None:
            pre_names = list(signature.input_names)
        transformer = pre[0] if pre else own
        preprocessor = compile_preprocessor(transformer, types, pre_names)
        estimator = compile_estimator(
            final, preprocessor.width, sparse=preprocessor.sparse, encoded=own is not None
        )
    except NotCompilable as exc:
        return None, str(exc)
    report = {
        "scorer": estimator.kind,
        "evaluator": estimator.evaluator,
        "estimator": type(final).__name__,
        "preprocessing": [
            {
                "columns": b.columns,
                "steps": [type(s).__name__.lstrip("_") for s in b.steps],
                "out": [b.start, b.stop],
            }
            for b in preprocessor.branches
        ],
        "width": preprocessor.width,
        "native_input": "sparse" if preprocessor.sparse else "dense",
        "tolerance": estimator.tolerance,
    }
    return CompiledScorer(signature, preprocessor, estimator, report, rules), "compiled"
