"""The OpenAPI document: generic routes from FastAPI, model routes from each signature.

Every served endpoint gets its own ``POST /v1/models/<name>/predict``
operation whose request schema is the version's input contract (field names,
JSON types; an enum only where values unseen in training are rejected, null
allowed where nulls are scored) and whose response schema names the classes
and the ``warnings`` format. The schema is exactly what the server accepts: a request valid
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


_WARNINGS = {
    "type": "array",
    "description": "Values outside the training domain that were scored anyway.",
    "items": {
        "type": "object",
        "required": ["column", "kind", "value", "rows", "count"],
        "properties": {
            "column": {"type": "string"},
            "kind": {"enum": ["unseen_category", "out_of_range", "null"]},
            "value": {},
            "rows": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "count": {"type": "integer", "minimum": 1},
        },
    },
}


def _value_schema(spec: Any, contract: Any = None) -> dict[str, Any]:
    schema = contract.json_schema(spec) if contract is not None else spec.json_schema()
    kind = spec.type
    if kind == "integer":
        schema.update({"minimum": -INT_LIMIT, "maximum": INT_LIMIT})
    elif kind == "float":
        schema.update({"minimum": -FLOAT_BOUND, "maximum": FLOAT_BOUND})
    elif kind == "datetime":
        schema["format"] = "date-time"
    return schema


def _contract(endpoint: Endpoint, served: ServedVersion) -> Any:
    primary = endpoint.primary()
    return served.contract_for(primary.policy, primary.policy_key)


def _record_schema(endpoint: Endpoint, served: ServedVersion) -> dict[str, Any]:
    assert served.signature is not None
    inputs = served.signature.inputs
    contract = _contract(endpoint, served)
    return {
        "type": "object",
        "title": f"{served.name} record",
        "properties": {s.name: _value_schema(s, contract) for s in inputs},
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
    contract = _contract(endpoint, served)
    values = [_value_schema(s, contract) for s in served.signature.inputs]
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
            "warnings": _WARNINGS,
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
                "#/components/schemas/Error", auth, (400, 401, 404, 413, 415, 422, 500, 503)
            ),
        },
    }
    if auth:
        operation["security"] = [{"ApiKeyHeader": []}, {"BearerKey": []}]
    return operation, {key: _record_schema(endpoint, served)}


def _v2_inputs_schema(served: ServedVersion | None) -> dict[str, Any]:
    """One tensor per signature column, in order (what the server reads, written exactly for
    one row a tensor); without a signature, any tensors."""
    if served is None or served.signature is None:
        return {"type": "array", "minItems": 1, "items": _V2_TENSOR}
    tensors = [
        {
            "type": "object",
            "required": ["name", "shape", "datatype", "data"],
            "additionalProperties": False,
            "properties": {
                "name": {"const": spec.name},
                "shape": {"const": [1]},
                "datatype": {"enum": _DATATYPES},
                "data": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": _value_schema(spec, served.contract),
                },
            },
        }
        for spec in served.signature.inputs
    ]
    return {
        "type": "array",
        "prefixItems": tensors,
        "minItems": len(tensors),
        "maxItems": len(tensors),
    }


def _v2_outputs_schema(served: ServedVersion | None) -> dict[str, Any]:
    names = (
        {"type": "string"} if served is None else {"enum": [o["name"] for o in served.v2_outputs()]}
    )
    return {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": names, "parameters": {"type": "object"}},
        },
    }


def _v2_operation(auth: bool, served: ServedVersion | None = None) -> dict[str, Any]:
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
                        "additionalProperties": False,
                        "properties": {
                            "id": {"type": "string"},
                            "parameters": {"type": "object"},
                            "inputs": _v2_inputs_schema(served),
                            "outputs": _v2_outputs_schema(served),
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
                "#/components/schemas/V2Error", auth, (400, 401, 404, 413, 415, 422, 500, 503)
            ),
        },
        **({"security": [{"ApiKeyHeader": []}, {"BearerKey": []}]} if auth else {}),
    }


def _mlflow_body(served: ServedVersion | None, max_rows: int, record_ref: str | None) -> Any:
    """Exactly one of MLflow's four keys (and optionally params), for the default endpoint."""
    if served is None or served.signature is None or record_ref is None:
        return {
            "type": "object",
            "description": "Exactly one of the four keys, and optionally params.",
            "minProperties": 1,
            "properties": {
                "dataframe_split": {"type": "object"},
                "dataframe_records": {"type": "array"},
                "instances": {"type": "array"},
                "inputs": {},
                "params": {"type": "object"},
            },
        }
    names = served.signature.input_names
    records = {"type": "array", "minItems": 1, "maxItems": max_rows, "items": {"$ref": record_ref}}
    split = {
        "type": "object",
        "required": ["data"],
        "additionalProperties": False,
        "properties": {
            "columns": {"const": names, "description": "Default: the signature's columns."},
            "index": {"type": "array", "description": "Ignored (pandas' split format)."},
            "data": {
                "type": "array",
                "minItems": 1,
                "maxItems": max_rows,
                "items": {
                    "type": "array",
                    "prefixItems": [
                        _value_schema(s, served.contract) for s in served.signature.inputs
                    ],
                    "minItems": len(names),
                    "maxItems": len(names),
                },
            },
        },
    }
    variants = []
    for key, schema in (
        ("dataframe_split", split),
        ("dataframe_records", records),
        ("instances", records),
        ("inputs", records),
    ):
        variants.append(
            {
                "type": "object",
                "title": key,
                "required": [key],
                "additionalProperties": False,
                "properties": {key: schema, "params": {"type": "object"}},
            }
        )
    return {"oneOf": variants}


def _mlflow_operation(
    auth: bool,
    served: ServedVersion | None = None,
    max_rows: int = 1,
    record_ref: str | None = None,
) -> dict[str, Any]:
    return {
        "summary": "MLflow scoring format (as `mlflow models serve`)",
        "description": "Also reads text/csv: a header row with the input columns, then rows.",
        "tags": ["mlflow"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _mlflow_body(served, max_rows, record_ref)},
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


def _feedback_operation(auth: bool, endpoints: list[str], max_rows: int) -> dict[str, Any]:
    label = {
        "type": "object",
        "required": ["label"],
        "additionalProperties": False,
        "properties": {
            "request_id": {"type": "string"},
            "row": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1, "default": 0},
            "entity": {"type": "string"},
            "label": {"type": ["string", "integer", "number", "boolean"]},
        },
        "anyOf": [{"required": ["request_id"]}, {"required": ["entity"]}],
        "description": "Give request_id (and row) or entity.",
    }
    endpoint: dict[str, Any] = {"enum": endpoints}
    if len(endpoints) == 1:
        endpoint["description"] = "Optional: one endpoint is served here."
    return {
        "summary": "Attach ground-truth labels to earlier predictions",
        "tags": ["monitoring"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["labels"] if len(endpoints) == 1 else ["labels", "endpoint"],
                        "properties": {
                            "endpoint": endpoint,
                            "labels": {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": max_rows,
                                "items": label,
                            },
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
            **_error_responses(
                "#/components/schemas/Error", auth, (400, 401, 404, 413, 415, 422, 503)
            ),
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
    default: ServedVersion | None = None
    for endpoint in core.endpoints.values():
        served = endpoint.primary().current
        if served is None or served.signature is None:
            continue
        default = default or served
        operation, components = _plain_operation(endpoint, served, core.config.max_rows, auth)
        paths[f"/v1/models/{endpoint.name}/predict"] = {"post": operation}
        schemas.update(components)
    names = sorted(core.endpoints)
    versions = sorted({v for e in core.endpoints.values() for v in e.versions()}, key=int)
    # The V2 and MLflow bodies are written for one model's columns: exact when one endpoint
    # is served (the common case); with several, the V2 tensors stay generic.
    single = default if len(core.endpoints) == 1 else None
    _refine_generic_routes(paths, names, versions)
    for path in (
        "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{model_version}/infer",
    ):
        parameters = [_path_parameter("model_name", names)]
        if "model_version" in path:
            parameters.append(_path_parameter("model_version", versions))
        paths[path] = {"post": {**_v2_operation(auth, single), "parameters": parameters}}
    record_ref = (
        f"#/components/schemas/{core.default_endpoint}.Record"
        if f"{core.default_endpoint}.Record" in schemas
        else None
    )
    first = (
        core.endpoints[core.default_endpoint].primary().current
        if core.default_endpoint in core.endpoints
        else None
    )
    paths["/invocations"] = {
        "post": _mlflow_operation(auth, first, core.config.max_rows, record_ref)
    }
    paths["/v1/feedback"] = {"post": _feedback_operation(auth, names, core.config.max_rows)}
    if auth:
        document["components"]["securitySchemes"] = {
            "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "BearerKey": {"type": "http", "scheme": "bearer"},
        }
    return document


def _path_parameter(name: str, values: list[str]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"enum": values}}


_JSON_OBJECT = {"type": "object"}
_READY = {
    "type": "object",
    "required": ["ready"],
    "properties": {"ready": {"type": "boolean"}, "name": {"type": "string"}},
}


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refine_generic_routes(paths: dict[str, Any], names: list[str], versions: list[str]) -> None:
    """FastAPI's operations, made exact: served names and versions as path enums, 404 for
    others, and the bodies the health and metrics routes really send."""
    for path, operations in paths.items():
        for operation in operations.values():
            parameters = operation.get("parameters", [])
            for parameter in parameters:
                if parameter.get("in") == "path" and parameter["name"] in ("name", "version"):
                    values = names if parameter["name"] == "name" else versions
                    parameter["schema"] = {"enum": values, "title": parameter["name"]}
            if any(p.get("in") == "path" for p in parameters):
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)  # FastAPI's validation error: a string cannot fail it
                ref = "V2Error" if path.startswith("/v2") else "Error"
                responses["404"] = _json_response(
                    "No such endpoint or version is served here.",
                    {"$ref": f"#/components/schemas/{ref}"},
                )
    bodies = {
        "/v2/health/live": {
            "type": "object",
            "required": ["live"],
            "properties": {"live": {"const": True}},
        },
        "/v2/health/ready": _READY,
        "/v2/models/{name}/ready": _READY,
        "/v2/models/{name}/versions/{version}/ready": _READY,
        "/ping": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"const": "ok"}},
        },
        "/health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"const": "ok"}},
        },
        "/version": {
            "type": "object",
            "required": ["modelyard"],
            "properties": {"modelyard": {"type": "string"}},
        },
    }
    for path, schema in bodies.items():
        operation = paths.get(path, {}).get("get")
        if operation is None:
            continue
        operation["responses"]["200"] = _json_response("OK", schema)
        if path.endswith("ready"):
            operation["responses"]["400"] = _json_response("Still loading.", _READY)
    metrics = paths.get("/metrics", {}).get("get")
    if metrics is not None:
        metrics["responses"]["200"] = {
            "description": "Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
