"""The HTTP transport of the remote client: one keep-alive connection pool, errors mapped back.

A JSON error body ``{"error": code, "message": ...}`` becomes the same
``ModelyardError`` subclass the local services raise, so code that catches
``NotFound`` or ``PermissionDenied`` works the same against a server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson

from modelyard.errors import (
    BackendUnavailable,
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelyardError,
    NotFound,
    PermissionDenied,
)
from modelyard.registry.tokens import Unauthenticated

API = "/api/v1"
ERRORS: dict[str, type[ModelyardError]] = {
    "not_found": NotFound,
    "conflict": Conflict,
    "invalid_input": InvalidInput,
    "permission_denied": PermissionDenied,
    "integrity_error": IntegrityError,
    "backend_unavailable": BackendUnavailable,
    "unauthenticated": Unauthenticated,
}
STATUS_ERRORS: dict[int, type[ModelyardError]] = {
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: InvalidInput,
    503: BackendUnavailable,
}


def raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = orjson.loads(response.read())
    except (orjson.JSONDecodeError, httpx.HTTPError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    cls = ERRORS.get(body.get("error", ""), STATUS_ERRORS.get(response.status_code, ModelyardError))
    message = body.get("message") or f"HTTP {response.status_code} from {response.request.url}"
    raise cls(message, details=body.get("details"))


class Transport:
    """Authenticated requests to one Modelyard server."""

    def __init__(self, url: str, token: str | None, *, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": "modelyard-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.client = httpx.Client(
            base_url=self.url + API,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise BackendUnavailable(
                f"cannot reach the Modelyard server at {self.url}: {exc}"
            ) from exc
        raise_for(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return orjson.loads(response.content)

    def get(self, path: str, **params: Any) -> Any:
        return self.json("GET", path, params=_params(params))

    def post(self, path: str, body: Any = None) -> Any:
        return self.json("POST", path, content=_dumps(body), headers=_JSON)

    def put(self, path: str, body: Any = None) -> Any:
        return self.json("PUT", path, content=_dumps(body), headers=_JSON)

    def patch(self, path: str, body: Any = None) -> Any:
        return self.json("PATCH", path, content=_dumps(body), headers=_JSON)

    def delete(self, path: str) -> Any:
        return self.json("DELETE", path)

    def pages(self, path: str, *, limit: int | None = None, **params: Any) -> Iterator[Any]:
        """Every item of a paginated list (at most ``limit``), following ``next_cursor``."""
        cursor = None
        seen = 0
        while True:
            size = 500 if limit is None else max(1, min(500, limit - seen))
            page = self.get(path, limit=size, cursor=cursor, **params)
            for item in page["items"]:
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def close(self) -> None:
        self.client.close()


_JSON = {"Content-Type": "application/json"}


def _dumps(body: Any) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=str)


def _params(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}
