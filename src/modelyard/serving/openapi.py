"""The OpenAPI document: generic routes from FastAPI, model routes from each signature.

Every served endpoint gets its own ``POST /v1/models/<name>/predict``
operation whose request schema is the signature (field names, JSON types,
allowed categories, nullability) and whose response schema names the
classes. The schema is exactly what the server accepts: a request valid
against it is scored, an invalid one gets a 4xx — which is what schemathesis
checks. ``/docs`` renders this document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.openapi.utils import get_openapi

from modelyard.serving.explanations import MAX_REASONS
from modelyard.serving.fastpath import FLOAT_BOUND

if TYPE_CHECKING:
    from modelyard.serving.models import ServedVersion
    from modelyard.serving.routing import Endpoint
    from modelyard.serving.service import ServingCore

__all__ = ["build_openapi"]

# The canonical check refuses integers whose float64 value reaches 2**63.
INT_LIMIT = 2**63 - 513

_ERROR = {
    "type": "object",
    "required": ["error", "message", "request_id"],
    "properties": {
        "error": {"type": "string", "description": "A stable code: invalid_input, not_found..."},
        "message": {"type": "string"},
        "details": {"description": "Structured problems, e.g. one entry per column."},
        "request_id": {"type": "string"},
    },
}
_V2_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "code": {"type": "string"},
        "details": {},
        "request_id": {"type": "string"},
    },
}
_DATATYPES = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
]  # fmt: skip
_V2_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"enum": _DATATYPES},
        "parameters": {"type": "object"},
        "data": {"type": "array"},
    },
}
_HEADERS = {
    "X-Request-Id": {"schema": {"type": "string"}, "description": "The request's id."},
    "X-Model-Version": {"schema": {"type": "string"}, "description": "The version that answered."},
}


def _error_responses(ref: str, auth: bool, codes: tuple[int, ...]) -> dict[str, Any]:
    reasons = {
        400: "Malformed JSON or body.",
        401: "Missing or wrong API key.",
        404: "No such model or version.",
        413: "The body is over the configured size limit.",
        415: "A content type this route does not read.",
        422: "The input breaks the model's signature; details name each column and value.",
        500: "The model failed; quote the request id.",
        503: "The model is still loading.",
    }
    wanted = [c for c in codes if c != 401 or auth]
    return {
        str(code): {
            "description": reasons[code],
            "content": {"application/json": {"schema": {"$ref": ref}}},
            "headers": {"X-Request-Id": _HEADERS["X-Request-Id"]},
        }
        for code in wanted
    }


def _value_schema(spec: Any) -> dict[str, Any]:
    schema = spec.json_schema()
    kind = spec.type
    if kind == "integer":
        schema.update({"minimum": -INT_LIMIT, "maximum": INT_LIMIT})
    elif kind == "float":
        schema.update({"minimum": -FLOAT_BOUND, "maximum": FLOAT_BOUND})
    elif kind == "datetime":
        schema["format"] = "date-time"
    return schema


def _record_schema(served: ServedVersion) -> dict[str, Any]:
    assert served.signature is not None
    inputs = served.signature.inputs
    return {
        "type": "object",
        "title": f"{served.name} record",
        "properties": {s.name: _value_schema(s) for s in inputs},
        "required": [s.name for s in inputs],
        "additionalProperties": False,
    }


_REASONS = {
    "type": "array",
    "description": "The row's top adverse reasons, when the request asked with 'explain'.",
    "items": {
        "type": "object",
        "required": ["code", "text", "column", "value", "contribution"],
        "properties": {
            "code": {"type": "string"},
            "text": {"type": "string"},
            "column": {"type": "string"},
            "value": {},
            "contribution": {"type": "number"},
        },
        "additionalProperties": False,
    },
}


def _prediction_schema(served: ServedVersion) -> dict[str, Any]:
    if served.task != "classification":
        return {
            "type": "object",
            "required": ["value"],
            "properties": {"value": {"type": "number"}, "reasons": _REASONS},
            "additionalProperties": False,
        }
    keys = served.class_keys
    properties: dict[str, Any] = {
        "label": {"enum": list(served.classes or [])},
        "probabilities": {
            "type": "object",
            "properties": {k: {"type": "number", "minimum": 0, "maximum": 1} for k in keys},
            "required": keys,
            "additionalProperties": False,
        },
        "reasons": _REASONS,
    }
    required = ["label", "probabilities"]
    if served.binary:
        properties["score"] = {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": f"Probability of class {keys[1]!r}.",
        }
        required.append("score")
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def _plain_operation(
    endpoint: Endpoint, served: ServedVersion, max_rows: int, auth: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(operation, component schemas) for one endpoint's predict route."""
    assert served.signature is not None
    key = f"{endpoint.name}.Record"
    names = served.signature.input_names
    values = [_value_schema(s) for s in served.signature.inputs]
    optional = {
        "entity": {"type": "string", "description": "Entity key for sticky routing."},
        "id": {"type": "string", "description": "Echoed back as 'id'."},
        "explain": {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_REASONS,
            "description": "Give each row's top N adverse reasons ('reasons').",
        },
    }
    records = {
        "type": "object",
        "title": "records",
        "required": ["records"],
        "additionalProperties": False,
        "properties": {
            "records": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_rows,
                "items": {"$ref": f"#/components/schemas/{key}"},
            },
            **optional,
        },
    }
    columnar = {
        "type": "object",
        "title": "columns and data",
        "required": ["columns", "data"],
        "additionalProperties": False,
        "properties": {
            "columns": {"const": names, "description": "The input columns, in this order."},
            "data": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_rows,
                "items": {
                    "type": "array",
                    "prefixItems": values,
                    "minItems": len(names),
                    "maxItems": len(names),
                },
            },
            **optional,
        },
    }
    response = {
        "type": "object",
        "required": ["model", "model_version", "route", "request_id", "predictions"],
        "properties": {
            "model": {"type": "string"},
            "model_version": {"type": "integer"},
            "route": {"type": "string"},
            "request_id": {"type": "string"},
            "id": {"type": "string"},
            "predictions": {"type": "array", "items": _prediction_schema(served)},
        },
        "additionalProperties": False,
    }
    operation = {
        "summary": f"Score rows with {endpoint.name}",
        "description": (
            f"Serves {served.key} on route {endpoint.primary().name!r} "
            f"({len(endpoint.routes)} route(s)). {endpoint.spec.description}".strip()
        ),
        "operationId": f"predict_{endpoint.name}",
        "tags": ["predict"],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"oneOf": [records, columnar]}}},
        },
        "responses": {
            "200": {
                "description": "One prediction per row, in order.",
                "content": {"application/json": {"schema": response}},
                "headers": _HEADERS,
            },
            **_error_responses(
                "#/components/schemas/Error", auth, (400, 401, 404, 413, 422, 500, 503)
            ),
        },
    }
    if auth:
        operation["security"] = [{"ApiKeyHeader": []}, {"BearerKey": []}]
    return operation, {key: _record_schema(served)}


def _v2_operation(auth: bool) -> dict[str, Any]:
    return {
        "summary": "Open Inference Protocol (KServe V2) inference",
        "tags": ["v2"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["inputs"],
                        "properties": {
                            "id": {"type": "string"},
                            "parameters": {"type": "object"},
                            "inputs": {"type": "array", "items": _V2_TENSOR},
                            "outputs": {"type": "array", "items": {"type": "object"}},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "The output tensors.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["model_name", "outputs"],
                            "properties": {
                                "model_name": {"type": "string"},
                                "model_version": {"type": "string"},
                                "id": {"type": "string"},
                                "parameters": {"type": "object"},
                                "outputs": {"type": "array", "items": _V2_TENSOR},
                            },
                        }
                    }
                },
                "headers": _HEADERS,
            },
            **_error_responses(
                "#/components/schemas/V2Error", auth, (400, 401, 404, 413, 422, 500, 503)
            ),
        },
        **({"security": [{"ApiKeyHeader": []}, {"BearerKey": []}]} if auth else {}),
    }


def _mlflow_operation(auth: bool) -> dict[str, Any]:
    return {
        "summary": "MLflow scoring format (as `mlflow models serve`)",
        "tags": ["mlflow"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "Exactly one of the four keys, and optionally params.",
                        "properties": {
                            "dataframe_split": {"type": "object"},
                            "dataframe_records": {"type": "array"},
                            "instances": {"type": "array"},
                            "inputs": {},
                            "params": {"type": "object"},
                        },
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        "responses": {
            "200": {
                "description": "MLflow's response body.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["predictions"],
                            "properties": {
                                "predictions": {"type": "array"},
                                "model_version": {"type": "integer"},
                            },
                        }
                    }
                },
                "headers": _HEADERS,
            },
            **_error_responses(
                "#/components/schemas/Error", auth, (400, 401, 404, 413, 415, 422, 500, 503)
            ),
        },
        **({"security": [{"ApiKeyHeader": []}, {"BearerKey": []}]} if auth else {}),
    }


def _feedback_operation(auth: bool) -> dict[str, Any]:
    label = {
        "type": "object",
        "required": ["label"],
        "properties": {
            "request_id": {"type": "string"},
            "row": {"type": "integer", "minimum": 0, "default": 0},
            "entity": {"type": "string"},
            "label": {"type": ["string", "integer", "number", "boolean"]},
        },
        "description": "Give request_id (and row) or entity.",
    }
    return {
        "summary": "Attach ground-truth labels to earlier predictions",
        "tags": ["monitoring"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["labels"],
                        "properties": {
                            "endpoint": {"type": "string"},
                            "labels": {"type": "array", "minItems": 1, "items": label},
                        },
                        "additionalProperties": False,
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "Labels accepted.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["accepted", "endpoint", "request_id"],
                            "properties": {
                                "accepted": {"type": "integer"},
                                "endpoint": {"type": "string"},
                                "request_id": {"type": "string"},
                            },
                        }
                    }
                },
            },
            **_error_responses("#/components/schemas/Error", auth, (400, 401, 404, 413, 422, 503)),
        },
        **({"security": [{"ApiKeyHeader": []}, {"BearerKey": []}]} if auth else {}),
    }


def build_openapi(
    app: Any, core: ServingCore, *, title: str, version: str, auth: bool
) -> dict[str, Any]:
    """The whole document for ``app`` as it serves now."""
    document = get_openapi(
        title=title,
        version=version,
        description=(
            "Real-time scoring of registered model versions: a plain JSON API generated "
            "from each model's signature, the Open Inference Protocol (KServe V2) and "
            "MLflow's scoring format."
        ),
        routes=app.routes,
    )
    paths = document.setdefault("paths", {})
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = _ERROR
    schemas["V2Error"] = _V2_ERROR
    for endpoint in core.endpoints.values():
        served = endpoint.primary().current
        if served is None or served.signature is None:
            continue
        operation, components = _plain_operation(endpoint, served, core.config.max_rows, auth)
        paths[f"/v1/models/{endpoint.name}/predict"] = {"post": operation}
        schemas.update(components)
    for path in (
        "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{model_version}/infer",
    ):
        parameters = [
            {"name": "model_name", "in": "path", "required": True, "schema": {"type": "string"}}
        ]
        if "model_version" in path:
            parameters.append(
                {
                    "name": "model_version",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                }
            )
        paths[path] = {"post": {**_v2_operation(auth), "parameters": parameters}}
    paths["/invocations"] = {"post": _mlflow_operation(auth)}
    paths["/v1/feedback"] = {"post": _feedback_operation(auth)}
    if auth:
        document["components"]["securitySchemes"] = {
            "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "BearerKey": {"type": "http", "scheme": "bearer"},
        }
    return document
