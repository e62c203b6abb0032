"""The plain JSON API: ``{"records": [...]}`` or ``{"columns": [...], "data": [[...]]}``.

Request (optional fields: ``entity`` for sticky routing, ``id`` echoed back)::

    {"records": [{"age": 41, "income": 52000.0, "home_ownership": "RENT", ...}]}

Response::

    {"model": "credit-risk", "model_version": 3, "route": "champion",
     "request_id": "9f3c...", "predictions": [
        {"label": 0, "score": 0.083, "probabilities": {"0": 0.917, "1": 0.083}}]}

``score`` (binary classifiers) is the probability of the second class;
``label`` is the most probable class. Regressors answer ``{"value": ...}``.

When a value was outside the training domain but scored, the body also has
``"warnings": [{"column": "channel", "kind": "unseen_category", "value": "app",
"rows": [0], "count": 1}]`` (kinds: ``unseen_category``, ``out_of_range``, ``null``).
With ``"explain": k`` each prediction also carries ``reasons``: its top ``k``
adverse reasons ``[{code, text, column, value, contribution}]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from modelyard.errors import InvalidInput
from modelyard.serving.explanations import explain_count
from modelyard.serving.inputs import Payload

if TYPE_CHECKING:
    from modelyard.serving.service import Answer

__all__ = ["explain_of", "parse", "predictions", "render"]

_FIELDS = frozenset({"records", "columns", "data", "entity", "id", "explain"})


def parse(body: Any) -> tuple[Payload, str | None, str | None]:
    """(payload, entity, client id) from a decoded request body."""
    if type(body) is not dict:
        raise InvalidInput(
            "the body must be a JSON object: "
            '{"records": [...]} or {"columns": [...], "data": [...]}'
        )
    unknown = [k for k in body if k not in _FIELDS]
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {unknown}; the body takes 'records', or 'columns' and 'data', "
            "and optionally 'entity', 'id' and 'explain'",
            details=[{"column": k, "problem": "unknown field", "values": []} for k in unknown],
        )
    entity = _optional_text(body, "entity")
    client_id = _optional_text(body, "id")
    if "records" in body:
        if "columns" in body or "data" in body:
            raise InvalidInput("give either 'records' or 'columns' and 'data', not both")
        return Payload.from_records(body["records"]), entity, client_id
    if "columns" in body and "data" in body:
        return Payload.from_rows(body["columns"], body["data"]), entity, client_id
    raise InvalidInput("the body needs 'records', or 'columns' and 'data'")


def explain_of(body: Any) -> int:
    """How many reasons per row the body asks for (``"explain": k``; 0 when absent)."""
    if type(body) is not dict or "explain" not in body:
        return 0
    return explain_count(body["explain"])


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    if key not in body:
        return None
    value = body[key]
    if type(value) is not str:
        raise InvalidInput(f"{key}: must be a string (leave it out if there is none)")
    return value


def predictions(answer: Answer) -> list[dict[str, Any]]:
    served = answer.served
    outputs = answer.outputs
    if served.task != "classification":
        return [{"value": v} for v in outputs.tolist()]
    labels = served.labels(outputs)
    probs = outputs.tolist()
    keys = served.class_keys
    if served.binary:
        k0, k1 = keys
        return [
            {"label": label, "score": p[1], "probabilities": {k0: p[0], k1: p[1]}}
            for label, p in zip(labels, probs, strict=True)
        ]
    return [
        {"label": label, "probabilities": dict(zip(keys, p, strict=True))}
        for label, p in zip(labels, probs, strict=True)
    ]


def render(answer: Answer, request_id: str) -> bytes:
    served = answer.served
    rows = predictions(answer)
    if answer.reasons is not None:
        for row, reasons in zip(rows, answer.reasons, strict=True):
            row["reasons"] = reasons
    body: dict[str, Any] = {
        "model": served.name,
        "model_version": served.version,
        "route": answer.route,
        "request_id": request_id,
        "predictions": rows,
    }
    if answer.client_id is not None:
        body["id"] = answer.client_id
    if answer.warnings:
        body["warnings"] = list(answer.warnings)
    return orjson.dumps(body)
