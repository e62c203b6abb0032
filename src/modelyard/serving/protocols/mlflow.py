"""MLflow's scoring format on ``POST /invocations``, as ``mlflow models serve`` accepts it.

JSON bodies with exactly one of:

* ``dataframe_split``: ``{"columns": [...], "data": [[...]], "index": [...]}``;
* ``dataframe_records``: ``[{"col": value, ...}, ...]``;
* ``instances``: a list of records, or of rows in the signature's column order;
* ``inputs``: columns (``{"col": [values]}``), records, or rows;

plus an optional ``params`` object (accepted and ignored, as MLflow ignores
params a model does not declare). ``text/csv`` bodies are read as a table
with a header row. The answer is ``{"predictions": [...]}`` — probability
rows by default (what a model logged with ``pyfunc_predict_fn="predict_proba"``
returns), labels with the deployment's ``mlflow_output: labels`` — plus
``model_version`` and, when values were out of the training domain but
scored, ``warnings`` (as in the plain API), which MLflow clients ignore.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.errors import InvalidInput
from modelyard.serving.errors import BadRequest
from modelyard.serving.inputs import Payload

if TYPE_CHECKING:
    from modelyard.flavors.signature import Signature
    from modelyard.serving.service import Answer

__all__ = ["parse_csv", "parse_json", "render"]

_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def parse_json(body: Any, signature: Signature | None) -> Payload:
    if type(body) is not dict:
        raise InvalidInput(f"the body must be a JSON object with one of the keys {list(_FORMATS)}")
    found = [key for key in _FORMATS if key in body]
    unknown = [key for key in body if key not in _FORMATS and key != "params"]
    if len(found) != 1 or unknown:
        raise InvalidInput(
            f"the body must have exactly one of the keys {list(_FORMATS)} (and optionally "
            f"'params'); got {sorted(body)}"
        )
    if "params" in body and type(body["params"]) is not dict:
        raise InvalidInput("params: must be an object")
    key = found[0]
    value = body[key]
    if key == "dataframe_split":
        if type(value) is not dict or "data" not in value:
            raise InvalidInput("dataframe_split: must be an object with 'columns' and 'data'")
        extra = sorted(set(value) - {"columns", "data", "index"})
        if extra:
            raise InvalidInput(f"dataframe_split: unknown field(s) {extra}")
        if "index" in value and not isinstance(value["index"], list):
            raise InvalidInput("dataframe_split.index: must be a list")
        columns = value["columns"] if "columns" in value else _names(signature)
        return Payload.from_rows(columns, value["data"], "dataframe_split.data")
    if key == "dataframe_records":
        return Payload.from_records(value, key)
    if type(value) is dict:
        if key == "instances":
            raise InvalidInput("instances: must be a list of records or rows")
        return Payload.from_columns(value, key)
    if isinstance(value, list) and value and all(type(v) is list for v in value):
        return Payload.from_rows(_names(signature), value, key)
    return Payload.from_records(value, key)


def _names(signature: Signature | None) -> list[str]:
    if signature is None:
        raise InvalidInput("this model has no signature: name the columns (dataframe_split)")
    return signature.input_names


def parse_csv(body: bytes) -> Payload:
    import pandas as pd

    try:
        frame = pd.read_csv(io.BytesIO(body))
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
        raise BadRequest(f"the body is not CSV with a header row: {exc}") from exc
    columns = {
        str(c): [None if v != v else v for v in frame[c].tolist()]  # NaN -> null
        for c in frame.columns
    }
    return Payload.from_columns(columns, "csv")


def render(answer: Answer, labels: bool) -> bytes:
    served = answer.served
    outputs = answer.outputs
    if served.task != "classification":
        predictions: list[Any] = outputs.tolist()
    elif labels:
        predictions = served.labels(outputs)
    else:
        predictions = outputs.tolist()
    body: dict[str, Any] = {"predictions": predictions, "model_version": served.version}
    if answer.warnings:
        body["warnings"] = list(answer.warnings)  # MLflow clients ignore unknown keys
    return orjson.dumps(body)
