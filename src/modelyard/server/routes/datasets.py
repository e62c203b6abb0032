"""Datasets and their versions: list, register from an uploaded blob, read, lineage, data."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from starlette.responses import StreamingResponse

from modelyard.errors import Conflict, InvalidInput
from modelyard.server.routes._deps import DatasetName, DatasetWrite, Pages, Read
from modelyard.server.routes.artifacts import blob_response
from modelyard.server.schemas import (
    DIGEST,
    DatasetSummaryPublic,
    DatasetVersionCreate,
    DatasetVersionPublic,
    Page,
    dataset_version_public,
)

router = APIRouter(prefix="/datasets", tags=["datasets"])

VersionOrLatest = Annotated[
    str, PathParam(pattern=r"^(latest|[1-9][0-9]{0,9})$", description="A number or 'latest'.")
]


def _ref(name: str, version: str) -> str:
    return f"{name}@latest" if version == "latest" else f"{name}/{version}"


# What may follow an allowed prefix: folders and a file whose names are plain
# characters, dots only inside a name, so no ``.``/``..`` segment, no empty
# segment, no percent-encoding and no backslash can lead out of the prefix.
_NAME = r"[A-Za-z0-9_=+,@~*-]+(?:\.[A-Za-z0-9_=+,@~*-]+)*"
_BELOW = rf"(?:{_NAME}/)*{_NAME}"


def _folders(prefixes: list[str]) -> list[str]:
    """Each prefix as a folder (``s3://bank-data`` must not admit ``s3://bank-data-hr/``)."""
    return [p if p.endswith("/") else p + "/" for p in prefixes]


def source_pattern(prefixes: list[str]) -> str:
    """The URIs the server reads: a file or folder below one of ``prefixes``."""
    alternatives = "|".join(re.escape(p) for p in _folders(prefixes))
    return rf"^(?:{alternatives}){_BELOW}$"


def check_sources(uris: list[str], prefixes: list[str]) -> None:
    """The server reads only below the configured prefixes: never its own files, nor any host."""
    if not prefixes:
        raise InvalidInput(
            "uris: this server reads no URIs (its dataset_sources setting is empty); "
            "upload the file and give its digest as blob"
        )
    allowed = re.compile(source_pattern(prefixes))
    outside = [u for u in uris if not allowed.match(u)]
    if outside:
        raise InvalidInput(
            f"uris: {outside} are outside the server's dataset_sources {_folders(prefixes)} "
            "(a file or folder below one of them; no '.', '..' or empty segment, "
            "no percent-encoding)"
        )


def document_sources(schema: dict, prefixes: list[str]) -> None:
    """State in the published schema which URIs the server reads (``dataset_sources``)."""
    body = schema.get("components", {}).get("schemas", {}).get("DatasetVersionCreate")
    if body is None:
        return
    if not prefixes:
        body["properties"]["uris"] = {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 0,
            "description": "Not on this server (dataset_sources is empty): upload a blob.",
        }
        body["required"] = ["blob"]
        body["properties"]["blob"] = {
            "type": "string",
            "pattern": DIGEST,
            "description": body["properties"]["blob"].get("description", ""),
        }
        body.pop("oneOf", None)
        return
    body["properties"]["uris"]["items"] = {"type": "string", "pattern": source_pattern(prefixes)}


@router.get("", response_model=Page[DatasetSummaryPublic])
def list_datasets(ctx: Read, pages: Pages) -> dict:
    return pages.slice(ctx.yard.datasets.list(), lambda d: d.to_dict())


@router.post("/{name}/versions", status_code=201, response_model=DatasetVersionPublic)
def register(name: DatasetName, body: DatasetVersionCreate, ctx: DatasetWrite) -> dict:
    """Register a version from an uploaded file (``blob``) or from URIs the server can read."""
    options = {"description": body.description, "parents": body.parents, "run": body.run_id}
    if body.blob and body.uris:
        raise InvalidInput("give either blob or uris, not both")
    if body.blob:
        with tempfile.TemporaryDirectory(prefix="modelyard-upload-") as tmp:
            path = Path(tmp) / f"data.{body.format}"
            ctx.yard.artifacts.get_file(body.blob, path)
            info = ctx.yard.datasets.register(name, str(path), **options)
    elif body.uris:
        check_sources(body.uris, ctx.yard.settings.dataset_sources)
        source = body.uris[0] if len(body.uris) == 1 else body.uris
        info = ctx.yard.datasets.register(name, source, keep_copy=body.keep_copy, **options)
    else:
        raise InvalidInput("give blob (an uploaded file's digest) or uris")
    return dataset_version_public(info)


@router.get("/{name}/versions", response_model=Page[DatasetVersionPublic])
def versions(name: DatasetName, ctx: Read, pages: Pages) -> dict:
    return pages.slice(ctx.yard.datasets.versions(name), dataset_version_public)


@router.get("/{name}/versions/{version}", response_model=DatasetVersionPublic)
def get_version(name: DatasetName, version: VersionOrLatest, ctx: Read) -> dict:
    return dataset_version_public(ctx.yard.datasets.get(_ref(name, version)))


@router.get(
    "/{name}/versions/{version}/data",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
)
def data(name: DatasetName, version: VersionOrLatest, ctx: Read) -> StreamingResponse:
    """The stored Parquet copy, streamed (hash in ``X-Content-SHA256``)."""
    info = ctx.yard.datasets.get(_ref(name, version))
    if info.stored_digest is None:
        raise Conflict(f"{info.ref} keeps no copy in the artifact store; read {list(info.uris)}")
    return blob_response(ctx, info.stored_digest, "application/vnd.apache.parquet")


@router.get("/{name}/versions/{version}/children", response_model=Page[DatasetVersionPublic])
def children(name: DatasetName, version: VersionOrLatest, ctx: Read, pages: Pages) -> dict:
    return pages.slice(ctx.yard.datasets.children(_ref(name, version)), dataset_version_public)


@router.get("/{name}/versions/{version}/runs", response_model=Page[str])
def consuming_runs(name: DatasetName, version: VersionOrLatest, ctx: Read, pages: Pages) -> dict:
    return pages.slice(ctx.yard.datasets.consuming_runs(_ref(name, version)), str)


@router.get("/{name}/versions/{version}/lineage", response_model=dict)
def forward_lineage(name: DatasetName, version: VersionOrLatest, ctx: Read) -> dict:
    """Datasets derived from this version and model versions trained on any of them."""
    return ctx.yard.models.trained_on(_ref(name, version))
