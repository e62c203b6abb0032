"""The API documentation page (Swagger UI at ``/api/docs``), offline.

FastAPI's default page loads Swagger UI from a CDN, so it is blank on a machine
without internet and tells a third party about every visit. The assets come
instead from the ``fastapi-offline`` package (Swagger UI's bundle and CSS) and
are served by this process under ``/static/docs/``; the validator badge (which
calls a public service) is off. ReDoc is not offered: its standalone bundle
fetches its logo from a CDN whatever the options.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.responses import HTMLResponse, Response

from modelyard.errors import NotFound

router = APIRouter(include_in_schema=False)

ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
PREFIX = "/static/docs"


def _assets_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


@lru_cache(maxsize=8)
def _asset(name: str) -> tuple[bytes, bytes, str]:
    if name not in ASSETS:
        raise NotFound(f"no documentation asset {name!r}")
    raw = (_assets_dir() / name).read_bytes()
    return raw, gzip.compress(raw, 6), hashlib.sha256(raw).hexdigest()[:16]


@router.get(PREFIX + "/{name}")
def asset(name: Annotated[str, PathParam(pattern=r"^[a-z0-9._-]{1,64}$")], request: Request):
    raw, packed, etag = _asset(name)
    headers = {"Cache-Control": "public, max-age=86400", "ETag": f'"{etag}"'}
    headers["X-Content-Type-Options"] = "nosniff"
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "") and not name.endswith(".png"):
        headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return Response(packed, media_type=ASSETS[name], headers=headers)
    return Response(raw, media_type=ASSETS[name], headers=headers)


@router.get("/api/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title="Modelyard REST API",
        swagger_js_url=f"{root}{PREFIX}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{PREFIX}/swagger-ui.css",
        swagger_favicon_url=f"{root}{PREFIX}/favicon.png",
        swagger_ui_parameters={"validatorUrl": None},
    )
