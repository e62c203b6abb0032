"""Scoring for validation and monitoring: out-of-domain values are scored, never refused.

Serving may refuse a value outside the domain seen in training when a version's policy
says so; validation and monitoring must not. Their whole point is to measure next
month's data, whose categories and nulls training never saw. ``predict_proba`` here
calls the model as serving does and, when the signature refuses only out-of-domain
values (unseen categories, nulls in a column that had none), scores the rows anyway
as the fitted pipeline takes them: an unseen value of a pandas ``Categorical`` column
becomes missing (what ``pd.Categorical`` does with a value outside its categories), an
unseen string goes to the model as it is (the encoder's ``handle_unknown`` decides),
and a null reaches the model as NaN. Wrong types and missing columns still raise, and
so does a value the fitted model itself cannot take (``InvalidInput`` naming it).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from modelyard.errors import InvalidInput

__all__ = ["is_domain_problem", "predict_proba"]

_DOMAIN_WORDS = ("unseen", "null in a non-nullable", "out of domain", "outside the domain")


def is_domain_problem(problem: Any) -> bool:
    """Whether one enforcement problem is about the training domain, not the contract."""
    text = str(problem.get("problem", "")) if isinstance(problem, dict) else ""
    return any(word in text for word in _DOMAIN_WORDS)


def _relaxed(signature: Any, frame: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
    """The signature without categories or nullability, and the frame prepared for it."""
    specs, prepared = [], frame.copy(deep=False)
    for spec in signature.inputs:
        change: dict[str, Any] = {"nullable": True}
        if spec.type == "string":
            change["categories"] = None
        elif spec.type == "category" and spec.name in prepared.columns:
            values = prepared[spec.name]
            known = set(spec.categories or ())
            objects = values.astype(object)
            keep = objects.isna() | objects.isin(known)
            if not keep.all():  # what pd.Categorical does with a value outside its categories
                prepared[spec.name] = objects.where(keep, None)
        elif (
            spec.type == "integer"
            and spec.name in prepared.columns
            and prepared[spec.name].isna().any()
        ):
            change.update(type="float", minimum=None, maximum=None)  # NaN, as models take it
        specs.append(dataclasses.replace(spec, **change))
    return type(signature)(tuple(specs), signature.outputs), prepared


def predict_proba(loaded: Any, frame: pd.DataFrame) -> np.ndarray:
    """``loaded.predict_proba(frame)``, scoring out-of-domain values (see the module).

    Raises:
        InvalidInput: The frame breaks the contract (a wrong type, a missing column),
            or the model is not a classifier.
    """
    try:
        return loaded.predict_proba(frame)
    except InvalidInput as exc:
        problems = exc.details if isinstance(exc.details, list) else None
        if not problems or loaded.signature is None:
            raise
        if not all(is_domain_problem(p) for p in problems):
            raise  # a broken contract: every problem is named, the domain ones too
    signature, prepared = _relaxed(loaded.signature, frame)
    checked = signature.enforce(prepared)
    try:
        return loaded.predict_proba(checked, validate=False)
    except (ValueError, TypeError) as exc:  # e.g. a NaN the fitted model cannot take
        raise InvalidInput(
            f"the model cannot score values outside its training domain: {exc}",
            details=problems,
        ) from exc
