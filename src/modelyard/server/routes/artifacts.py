"""Blobs through the server, streamed both ways: clients need no bucket credentials.

``PUT /artifacts/blobs`` streams the request body into the artifact store
while hashing (memory stays bounded whatever the size); a client that sends
``X-Content-SHA256`` gets 422 when the bytes that arrived hash differently.
``GET /artifacts/blobs/{digest}`` streams the blob in 1 MiB chunks with its
length and hash in the headers; the store verifies the hash as it reads, and a
corrupt blob aborts the response so the client's own check fails too.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import AsyncIterator, Iterator
from typing import Annotated
from urllib.parse import quote

import anyio
import anyio.from_thread
import anyio.to_thread
from fastapi import APIRouter, Header, Request
from fastapi import Path as PathParam
from starlette.responses import StreamingResponse

from modelyard.errors import InvalidInput
from modelyard.server.auth import Ctx
from modelyard.server.media import check_raw_media
from modelyard.server.routes._deps import ArtifactWrite, Read
from modelyard.server.schemas import BlobExists, BlobPublic

router = APIRouter(prefix="/artifacts", tags=["artifacts"])

CHUNK = 1 << 20
Digest = Annotated[
    str, PathParam(pattern=r"^sha256:[0-9a-f]{64}$", description="'sha256:' and 64 hex digits.")
]


class _BodyReader(io.RawIOBase):
    """A blocking file-like over the request's async body, for a worker thread."""

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while not self._buffer and not self._done:
            try:
                self._buffer = anyio.from_thread.run(self._chunks.__anext__)
            except StopAsyncIteration:
                self._done = True
        if size is None or size < 0 or size >= len(self._buffer):
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out


@router.put(
    "/blobs",
    status_code=201,
    response_model=BlobPublic,
    openapi_extra={
        "requestBody": {
            "required": False,  # an empty file is a blob too
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def upload(
    request: Request,
    ctx: ArtifactWrite,
    x_content_sha256: Annotated[
        str | None,
        # Not in the schema: a value must equal the body's hash, which a schema cannot say.
        Header(
            pattern=r"^(sha256:)?[0-9a-f]{64}$",
            description="The client's hash of the body.",
            include_in_schema=False,
        ),
    ] = None,
) -> dict:
    """Store the request body as a blob; returns its digest and size."""
    check_raw_media(request.headers.get("content-type"), ("application/octet-stream",))
    reader = _BodyReader(request.stream().__aiter__())
    store = ctx.yard.artifacts
    digest = await anyio.to_thread.run_sync(store.put_stream, reader)
    if x_content_sha256 is not None:
        claimed = x_content_sha256.removeprefix("sha256:")
        if claimed != digest.removeprefix("sha256:"):
            raise InvalidInput(
                f"upload corrupted in transit: the body hashes to {digest}, "
                f"the client sent sha256:{claimed}",
                details={"received": digest, "claimed": f"sha256:{claimed}"},
            )
    size = await anyio.to_thread.run_sync(store.size, digest)
    return {"digest": digest, "size": size}


@router.get("/blobs/{digest}/exists", response_model=BlobExists)
def exists(digest: Digest, ctx: Read) -> dict:
    """Whether a blob is stored (clients skip uploading what the server has)."""
    found = ctx.yard.artifacts.exists(digest)
    return {
        "digest": digest,
        "exists": found,
        "size": ctx.yard.artifacts.size(digest) if found else None,
    }


def content_disposition(kind: str, path: str) -> str:
    """``Content-Disposition`` for a file named by the last part of ``path``.

    Artifact names are anyone's text: control characters are dropped (a CR/LF
    would split the header) and a name that is not plain ASCII goes in
    ``filename*`` (RFC 6266/5987), since HTTP headers carry Latin-1 only.
    """
    name = path.rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").replace('"', "")
    name = name or "download"
    if name.isascii():
        return f'{kind}; filename="{name}"'
    encoded = quote(name, safe="")
    fallback = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def blob_response(
    ctx: Ctx, digest: str, media_type: str = "application/octet-stream", **headers: str
) -> StreamingResponse:
    store = ctx.yard.artifacts
    size = store.size(digest)  # NotFound before any byte is sent

    def chunks() -> Iterator[bytes]:
        with store.open(digest) as stream:
            while chunk := stream.read(CHUNK):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type=media_type,
        headers={
            "Content-Length": str(size),
            "X-Content-SHA256": digest,
            "ETag": f'"{digest}"',
            "Cache-Control": "private, max-age=31536000, immutable",
            **headers,
        },
    )


@router.get(
    "/blobs/{digest}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download(digest: Digest, ctx: Read) -> StreamingResponse:
    """Stream a blob; verify ``X-Content-SHA256`` on the bytes received."""
    return blob_response(ctx, digest)
