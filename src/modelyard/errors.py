"""Modelyard's exceptions.

Every error the platform raises on purpose is a ``ModelyardError``; entry points
(CLI, REST API, serving) map the subclasses to exit codes and HTTP statuses in
one place each. Errors of dependencies (SQLAlchemy, fsspec, botocore) are
translated at the boundary with ``raise ... from exc``.

    ModelyardError
    ├── NotFound            the named thing does not exist            (HTTP 404)
    ├── Conflict            it exists already / a concurrent change   (HTTP 409)
    ├── InvalidInput        bad argument, file, filter or model input (HTTP 422)
    ├── Unauthenticated     no valid proof of who is acting (a token)  (HTTP 401)
    ├── PermissionDenied    the acting user lacks a role or approval  (HTTP 403)
    ├── IntegrityError      stored bytes or records fail their hash   (HTTP 500)
    └── BackendUnavailable  a store, server or extra cannot be reached (HTTP 503)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackendUnavailable",
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "ModelyardError",
    "NotFound",
    "PermissionDenied",
    "Unauthenticated",
]


class ModelyardError(Exception):
    """Base class: a message meant for a person, plus optional structured details."""

    http_status = 500
    code = "error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class NotFound(ModelyardError):
    http_status = 404
    code = "not_found"


class Conflict(ModelyardError):
    http_status = 409
    code = "conflict"


class InvalidInput(ModelyardError):
    http_status = 422
    code = "invalid_input"


class Unauthenticated(ModelyardError):
    """No credentials, or credentials that are unknown, expired, revoked or disabled."""

    http_status = 401
    code = "unauthenticated"


class PermissionDenied(ModelyardError):
    http_status = 403
    code = "permission_denied"


class IntegrityError(ModelyardError):
    http_status = 500
    code = "integrity_error"


class BackendUnavailable(ModelyardError):
    http_status = 503
    code = "backend_unavailable"
