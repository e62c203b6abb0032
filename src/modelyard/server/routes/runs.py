"""Runs: create, log, end, search, compare, metric history, artifacts."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import Field
from starlette.responses import StreamingResponse

from modelyard.errors import InvalidInput
from modelyard.server.routes._deps import Pages, Read, RunWrite
from modelyard.server.routes.artifacts import blob_response, content_disposition
from modelyard.server.schemas import (
    Count,
    InputsIn,
    MetricPointPublic,
    MetricsIn,
    Page,
    ParamsIn,
    RunArtifactFile,
    RunArtifactIn,
    RunArtifactPublic,
    RunComparison,
    RunCreate,
    RunCreated,
    RunEnd,
    RunPublic,
    TagsIn,
    Written,
)
from modelyard.tracking import artifact_files
from modelyard.tracking.search import FILTER_PATTERN, ORDER_PATTERN, parse_filter, parse_order

router = APIRouter(prefix="/runs", tags=["runs"])

RunId = Annotated[
    str, PathParam(pattern=r"^[0-9a-f]{6,32}$", description="A run id or a unique prefix (6+).")
]
Filter = Annotated[
    str | None,
    Query(
        max_length=4000,
        # Published, and checked in _check_filter after the parser had its say (its message
        # names the position; pydantic's would quote the whole expression).
        json_schema_extra={"pattern": FILTER_PATTERN},
        description="e.g. metrics.auc > 0.8 and params.model = 'lgbm' and status = 'FINISHED'",
    ),
]
OrderItem = Annotated[str, Field(max_length=300, json_schema_extra={"pattern": ORDER_PATTERN})]


def _check_filter(text: str | None, order_by: list[str] | None = None) -> None:
    """Refuse what the published patterns do not admit, so the schema states the whole rule."""
    parse_filter(text)
    if text is not None and not re.fullmatch(FILTER_PATTERN, text):
        raise InvalidInput(
            "filter: write clauses as NAME OP VALUE joined by ' and ', with spaces around "
            "'and', 'like' and 'in', lowercase prefixes (metrics., params., tags.) and "
            "numbers of at most 15 digits; see the pattern in the API schema",
            details={"filter": text},
        )
    parse_order(order_by)
    for item in order_by or []:
        if not re.fullmatch(ORDER_PATTERN, item):
            raise InvalidInput(
                f"order_by: {item!r} is not 'NAME [asc|desc]' with a lowercase prefix",
                details={"order_by": item},
            )


def _refs(ids: list[int]) -> list[SimpleNamespace]:
    return [SimpleNamespace(id=i) for i in ids]


@router.post("", status_code=201, response_model=RunCreated)
def create(body: RunCreate, ctx: RunWrite) -> dict:
    run_id = ctx.yard.runs.create(
        experiment=body.experiment,
        name=body.name,
        tags=body.tags,
        inputs=_refs(body.inputs),
        parent_run_id=body.parent_run_id,
        capture_environment=False,
    )
    return {"id": run_id}


@router.get("", response_model=Page[RunPublic])
def search(
    ctx: Read,
    pages: Pages,
    filter: Filter = None,
    order_by: Annotated[
        list[OrderItem] | None, Query(max_length=10, description="e.g. 'metrics.auc desc'")
    ] = None,
    experiment: Annotated[str | None, Query(max_length=255)] = None,
) -> dict:
    """Runs matching ``filter``, newest first unless ``order_by`` says otherwise."""
    _check_filter(filter, order_by)
    found = ctx.yard.runs.search(
        filter,
        order_by=order_by,
        experiment=experiment,
        max_results=pages.limit + 1,
        offset=pages.offset,
    )
    return pages.page(found, lambda r: r.to_dict())


@router.get("/count", response_model=Count)
def count(ctx: Read, filter: Filter = None) -> dict:
    _check_filter(filter)
    return {"count": ctx.yard.runs.count(filter)}


@router.get("/compare", response_model=RunComparison)
def compare(
    ctx: Read,
    ids: Annotated[
        list[Annotated[str, Field(pattern=r"^[0-9a-f]{6,32}$")]],
        Query(min_length=1, max_length=50, description="Run ids (or unique prefixes, 6+)."),
    ],
) -> dict:
    return ctx.yard.runs.compare(ids)


@router.get("/{run_id}", response_model=RunPublic)
def get(run_id: RunId, ctx: Read) -> dict:
    return ctx.yard.runs.get(run_id).to_dict()


@router.post("/{run_id}/end", response_model=RunPublic)
def end(run_id: RunId, body: RunEnd, ctx: RunWrite) -> dict:
    full = ctx.yard.runs.resolve_id(run_id)
    ctx.yard.runs.end(full, body.status, error=body.error)
    return ctx.yard.runs.get(full).to_dict()


@router.post("/{run_id}/params", status_code=204)
def log_params(run_id: RunId, body: ParamsIn, ctx: RunWrite) -> None:
    ctx.yard.runs.log_params(ctx.yard.runs.resolve_id(run_id), body.params)


@router.post("/{run_id}/metrics", response_model=Written)
def log_metrics(run_id: RunId, body: MetricsIn, ctx: RunWrite) -> dict:
    points = [(p.key, p.value, p.step, p.timestamp) for p in body.points]
    return {"written": ctx.yard.runs.log_metrics(ctx.yard.runs.resolve_id(run_id), points)}


@router.post("/{run_id}/tags", status_code=204)
def set_tags(run_id: RunId, body: TagsIn, ctx: RunWrite) -> None:
    ctx.yard.runs.set_tags(ctx.yard.runs.resolve_id(run_id), body.tags)


@router.post("/{run_id}/inputs", status_code=204)
def log_inputs(run_id: RunId, body: InputsIn, ctx: RunWrite) -> None:
    ctx.yard.runs.log_inputs(ctx.yard.runs.resolve_id(run_id), _refs(body.inputs), body.role)


@router.post("/{run_id}/artifacts", status_code=201, response_model=RunArtifactPublic)
def log_artifact(run_id: RunId, body: RunArtifactIn, ctx: RunWrite) -> dict:
    """Record an uploaded blob (or directory manifest) as an artifact of the run."""
    full = ctx.yard.runs.resolve_id(run_id)
    store = ctx.yard.artifacts
    with tempfile.TemporaryDirectory(prefix="modelyard-artifact-") as tmp:
        target = Path(tmp) / "artifact"
        if body.is_dir:
            store.get_dir(body.digest, target)
        else:
            store.get_file(body.digest, target)
        info = ctx.yard.runs.log_artifact(full, target, body.name)
    return {"path": info.path, "digest": info.digest, "size": info.size, "is_dir": info.is_dir}


@router.get("/{run_id}/metrics/{key}/history", response_model=Page[MetricPointPublic])
def metric_history(
    run_id: RunId,
    key: Annotated[str, PathParam(min_length=1, max_length=255)],
    ctx: Read,
    pages: Pages,
) -> dict:
    points = ctx.yard.runs.metric_history(run_id, key)
    return pages.slice(
        points,
        lambda p: {"key": p.key, "value": p.value, "step": p.step, "timestamp": p.timestamp},
    )


@router.get("/{run_id}/artifacts", response_model=list[RunArtifactFile])
def list_artifact_files(run_id: RunId, ctx: Read) -> list[dict]:
    """Every file of the run's artifacts (directories are listed file by file)."""
    run = ctx.yard.runs.get(run_id)
    return [
        {"path": f.path, "digest": f.digest, "size": f.size, "kind": f.kind}
        for f in artifact_files.list_files(ctx.yard.artifacts, run)
    ]


@router.get(
    "/{run_id}/artifacts/{path:path}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def read_artifact_file(
    run_id: RunId,
    path: Annotated[str, PathParam(min_length=1, max_length=1024)],
    ctx: Read,
) -> StreamingResponse:
    """Download one artifact file by its path in the run (``..`` and absolute paths: 422).

    The bytes stream from the artifact store, which hashes them as they go: a corrupt
    blob aborts the response. ``X-Content-SHA256`` carries the expected digest.
    """
    item = artifact_files.find(ctx.yard.artifacts, ctx.yard.runs.get(run_id), path)
    return blob_response(
        ctx,
        item.digest,
        "application/octet-stream",
        **{"Content-Disposition": content_disposition("attachment", path)},
    )
