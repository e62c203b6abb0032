"""Static assets, all served by this process: CSS, a little JavaScript, Plotly's bundle.

Plotly's bundle comes from the installed ``plotly`` package (no CDN), gzipped
once in memory and served with a long cache lifetime under a versioned URL.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from starlette.responses import Response

from modelyard.errors import NotFound

router = APIRouter(include_in_schema=False)

STATIC = Path(__file__).parent / "static"
TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@lru_cache(maxsize=16)
def _asset(name: str) -> tuple[bytes, bytes, str]:
    if name == "plotly.min.js":
        from plotly.offline import get_plotlyjs

        raw = get_plotlyjs().encode()
    else:
        path = STATIC / name
        if not path.is_file() or path.suffix not in TYPES:
            raise NotFound(f"no static file {name!r}")
        raw = path.read_bytes()
    return raw, gzip.compress(raw, 6), hashlib.sha256(raw).hexdigest()[:16]


def asset_version(name: str) -> str:
    return _asset(name)[2]


@router.get("/static/{name}")
def static(
    name: Annotated[str, PathParam(pattern=r"^[a-z0-9._-]{1,64}$")], request: Request
) -> Response:
    raw, packed, etag = _asset(name)
    headers = {
        "Cache-Control": "public, max-age=86400",
        "ETag": f'"{etag}"',
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    media = TYPES.get(Path(name).suffix, "application/octet-stream")
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
        return Response(packed, media_type=media, headers=headers)
    return Response(raw, media_type=media, headers=headers)
