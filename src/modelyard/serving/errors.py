"""Errors of the serving layer and their HTTP form, in one place.

Serving adds the HTTP-only failures to the platform's hierarchy
(:mod:`modelyard.errors`)::

    ModelyardError
    ├── InvalidInput        signature violation, bad tensor, bad field      422
    ├── NotFound            unknown endpoint, route or version               404
    ├── BadRequest          malformed JSON, a body that is not an object     400
    ├── Unauthorized        API key missing or wrong                         401
    ├── PayloadTooLarge     body over the configured limit                   413
    ├── UnsupportedMedia    a content type the protocol does not read       415
    ├── NotReady            the endpoint's models are still loading         503
    └── ModelFailure        the model raised while scoring                  500

Each protocol shapes the body its clients expect: the plain API and MLflow's
``{"error": code, "message": ...}`` (MLflow's ``error_code`` too), the Open
Inference Protocol's ``{"error": message}``; all carry the request id.
"""

from __future__ import annotations

from typing import Any, Literal

from modelyard.errors import ModelyardError

__all__ = [
    "BadRequest",
    "ModelFailure",
    "NotReady",
    "PayloadTooLarge",
    "Unauthorized",
    "UnsupportedMedia",
    "error_body",
    "status_of",
]

Style = Literal["plain", "v2", "mlflow"]


class BadRequest(ModelyardError):
    http_status = 400
    code = "bad_request"


class Unauthorized(ModelyardError):
    http_status = 401
    code = "unauthorized"


class PayloadTooLarge(ModelyardError):
    http_status = 413
    code = "payload_too_large"


class UnsupportedMedia(ModelyardError):
    http_status = 415
    code = "unsupported_media_type"


class NotReady(ModelyardError):
    http_status = 503
    code = "not_ready"


class ModelFailure(ModelyardError):
    """The model raised on an input that passed the signature: a bug to look at, logged."""

    http_status = 500
    code = "model_error"


_MLFLOW_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    413: "BAD_REQUEST",
    415: "BAD_REQUEST",
    422: "INVALID_PARAMETER_VALUE",
    500: "INTERNAL_ERROR",
    503: "TEMPORARILY_UNAVAILABLE",
}


def status_of(exc: BaseException) -> int:
    return exc.http_status if isinstance(exc, ModelyardError) else 500


def error_body(exc: BaseException, request_id: str, style: Style = "plain") -> dict[str, Any]:
    """The JSON body of an error response; unexpected exceptions show no internals."""
    if isinstance(exc, ModelyardError):
        code, message, details = exc.code, exc.message, exc.details
    else:
        code, message, details = "internal_error", "internal error; see the server log", None
    if style == "v2":
        body: dict[str, Any] = {"error": message, "code": code}
    else:
        body = {"error": code, "message": message}
        if style == "mlflow":
            body["error_code"] = _MLFLOW_CODES.get(status_of(exc), "INTERNAL_ERROR")
    if details is not None:
        body["details"] = details
    body["request_id"] = request_id
    return body
