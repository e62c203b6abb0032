"""Errors to HTTP responses, in one place for the whole server.

``ModelyardError`` subclasses carry their status (``http_status``) and JSON
body (``to_dict()``). Request validation errors become the same shape
(``invalid_input``, 422) with every offending field named. Under ``/api`` the
body is JSON; on UI pages a readable HTML page (401 redirects to sign-in).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelyard.errors import ModelyardError

log = logging.getLogger("modelyard.server")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=str),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


def error_response(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    if _is_api(request):
        if status == 401:
            headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
        return json_response(body, status, headers)
    if status == 401:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    from modelyard.server.ui.render import render_error

    return render_error(request, status, body)


async def _modelyard_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelyardError)
    if exc.http_status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc.message)
    return error_response(request, exc.http_status, exc.to_dict())


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": _field(err.get("loc", ())), "problem": str(err.get("msg", "invalid"))}
        for err in exc.errors()
    ]
    message = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    body = {"error": "invalid_input", "message": message, "details": problems}
    return error_response(request, 422, body)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        400: "bad_request",
        415: "unsupported_media_type",
    }
    body = {"error": codes.get(exc.status_code, "error"), "message": str(exc.detail)}
    if exc.status_code == 404:
        body["message"] = f"no route {request.method} {request.url.path}"
    headers = dict(exc.headers or {}) or None
    if exc.status_code == 405:
        # RFC 9110: a 405 lists what the resource allows. Starlette names only the first
        # route that matched the path; a path has one route per method here.
        allowed = _allowed_methods(request)
        headers = {"Allow": ", ".join(sorted(allowed))} if allowed else headers
    return error_response(request, exc.status_code, body, headers)


def _allowed_methods(request: Request) -> set[str]:
    from starlette.routing import compile_path

    from modelyard.server.app import api_routes

    path = request.url.path
    allowed: set[str] = set()
    for template, methods, _ in api_routes(request.app):
        if compile_path(template)[0].match(path):
            allowed |= methods
    return allowed


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    body = {"error": "internal_error", "message": "internal server error; see the server log"}
    return error_response(request, 500, body)


class UnexpectedErrors:
    """Answer an unexpected exception with the 500 body and end the request normally.

    Starlette's own handler for ``Exception`` (in ``ServerErrorMiddleware``) sends
    that response and then re-raises so that the server logs it; uvicorn then
    closes the connection under the response, and a client that reuses it (every
    pooled client does) gets a reset on its next, unrelated request. Caught here,
    inside that middleware, the error is logged once and the connection stays
    usable. A response already started cannot be mended: it is re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:
                raise
            response = await _unexpected(Request(scope), exc)
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the error handlers (the app adds :class:`UnexpectedErrors` last,
    as the outermost of its own middleware, so that it also catches what they raise)."""
    app.add_exception_handler(ModelyardError, _modelyard_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


# Documented on every API route so that clients (and schemathesis) know the error shape.
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "details": {},
    },
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {"application/json": {"schema": ERROR_SCHEMA}},
    }
    for status, description in (
        (400, "Malformed request"),
        (401, "No valid API token"),
        (403, "The user lacks a role or a sign-off; the missing permission is named"),
        (404, "Not found"),
        (409, "Conflict with stored state"),
        (415, "A body in a media type the route does not read (or with none)"),
        (422, "Invalid input; each offending field is named"),
    )
}
