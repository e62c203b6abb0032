"""415 for an API body in a media type its route does not read (or with none).

FastAPI would parse such a body as JSON on a guess, or fail later with a
confusing 422. A route with a JSON body model reads ``application/json``
only; this middleware answers anything else with 415. A route that reads raw
bytes (the artifact upload) checks its media type itself, after
authentication (:func:`check_raw_media`): absent, a body is octet-stream
(RFC 9110). A request without a body is not checked.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.routing import compile_path

__all__ = ["MediaTypeCheck", "accepted_media", "check_raw_media", "refusal"]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def accepted_media(route: Any) -> tuple[str, ...] | None:
    """The media types ``route`` reads, or None when it takes no body."""
    extra = (getattr(route, "openapi_extra", None) or {}).get("requestBody", {})
    if extra.get("content"):
        return tuple(extra["content"])
    if getattr(route, "body_field", None) is not None:
        return ("application/json",)
    return None


class MediaTypeCheck:
    """ASGI middleware: the check above, for paths under ``prefix``."""

    def __init__(self, app: Any, *, fastapi: FastAPI, prefix: str) -> None:
        self.app = app
        self._fastapi = fastapi
        self._prefix = prefix
        self._table: list[tuple[re.Pattern[str], frozenset[str], tuple[str, ...]]] | None = None

    def _routes(self) -> list[tuple[re.Pattern[str], frozenset[str], tuple[str, ...]]]:
        if self._table is None:
            from modelyard.server.app import api_routes

            table = []
            for path, methods, route in api_routes(self._fastapi):
                media = accepted_media(route)
                if media == ("application/json",) and path.startswith(self._prefix):
                    table.append((compile_path(path)[0], frozenset(methods), media))
            self._table = table
        return self._table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in _BODY_METHODS
            and scope["path"].startswith(self._prefix)
        ):
            headers = dict(scope["headers"])
            has_body = b"transfer-encoding" in headers or headers.get(
                b"content-length", b"0"
            ) not in (
                b"0",
                b"",
            )
            if has_body:
                media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
                given = media.decode("latin-1")
                for pattern, methods, accepted in self._routes():
                    if scope["method"] in methods and pattern.match(scope["path"]):
                        if given not in accepted:
                            await _refuse(send, accepted, given)
                            return
                        break
        await self.app(scope, receive, send)


def refusal(accepted: tuple[str, ...], given: str) -> str:
    return (
        f"Content-Type: this route reads {' or '.join(accepted)}; got {given or 'no Content-Type'}"
    )


def check_raw_media(content_type: str | None, accepted: tuple[str, ...]) -> None:
    """For a route that reads its body as bytes: raise a 415 unless the type is accepted."""
    from starlette.exceptions import HTTPException

    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media and media not in accepted:
        raise HTTPException(415, refusal(accepted, media))


async def _refuse(send: Send, accepted: tuple[str, ...], given: str) -> None:
    body = orjson.dumps({"error": "unsupported_media_type", "message": refusal(accepted, given)})
    await send(
        {
            "type": "http.response.start",
            "status": 415,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
