"""Deployments, batch jobs and monitoring: answered when the Yard has those services (else 503)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query
from fastapi import Path as PathParam

from modelyard.errors import BackendUnavailable
from modelyard.server import monitors
from modelyard.server.auth import Ctx
from modelyard.server.routes._deps import NAME, DeploymentManage, Pages, Read
from modelyard.server.schemas import (
    REF,
    BatchJobPublic,
    DeploymentApplied,
    DeploymentIn,
    DeploymentPublic,
    Page,
)

router = APIRouter(tags=["operations"])

EndpointName = Annotated[str, PathParam(pattern=NAME)]
JobId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{6,32}$")]


def _service(ctx: Ctx, name: str) -> Any:
    found = getattr(ctx.yard, name, None)
    if found is None:
        raise BackendUnavailable(f"this Modelyard has no {name} service")
    return found


@router.get("/deployments", response_model=Page[DeploymentPublic], tags=["deployments"])
def list_deployments(ctx: Read, pages: Pages) -> dict:
    return pages.slice(_service(ctx, "deployments").list(), lambda d: d.to_dict())


@router.get("/deployments/{name}", response_model=DeploymentPublic, tags=["deployments"])
def get_deployment(name: EndpointName, ctx: Read) -> dict:
    return _service(ctx, "deployments").get(name).to_dict()


@router.put("/deployments/{name}", response_model=DeploymentApplied, tags=["deployments"])
def apply_deployment(
    name: EndpointName,
    ctx: DeploymentManage,
    spec: Annotated[
        DeploymentIn,
        Body(description="The deployment spec (routes with weights, shadows, sticky key)."),
    ],
) -> dict:
    """Create or update an endpoint; the name in the path wins over one in the body."""
    body = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    record, outcome = _service(ctx, "deployments").apply({**body, "name": name})
    return {"deployment": record.to_dict(), "outcome": outcome}


@router.delete("/deployments/{name}", status_code=204, tags=["deployments"])
def delete_deployment(name: EndpointName, ctx: DeploymentManage) -> None:
    _service(ctx, "deployments").delete(name)


@router.get("/batch/jobs", response_model=Page[BatchJobPublic], tags=["batch"])
def list_jobs(
    ctx: Read,
    pages: Pages,
    model: Annotated[str | None, Query(pattern=NAME)] = None,
) -> dict:
    jobs = _service(ctx, "batch").list(model=model, limit=pages.offset + pages.limit + 1)
    return pages.page(jobs[pages.offset :], lambda j: j.to_dict())


@router.get("/batch/jobs/{job_id}", response_model=BatchJobPublic, tags=["batch"])
def get_job(job_id: JobId, ctx: Read) -> dict:
    return _service(ctx, "batch").status(job_id).to_dict()


@router.get("/monitors/results", response_model=Page[dict[str, Any]], tags=["monitoring"])
def monitor_results(
    ctx: Read,
    pages: Pages,
    model: Annotated[str | None, Query(pattern=NAME)] = None,
    ref: Annotated[str | None, Query(pattern=REF, description="e.g. credit-risk@champion")] = None,
    kind: Literal["drift", "quality", "performance", "estimated"] | None = None,
) -> dict:
    """Monitoring results (drift, quality, performance per window), newest window first."""
    service = _service(ctx, "monitors")
    filters = {k: v for k, v in {"model": model, "ref": ref, "kind": kind}.items() if v}
    found = monitors.call(service, monitors.RESULT_CALLS, **filters)
    if found is None:
        raise BackendUnavailable("this Modelyard's monitoring service lists no results")
    found.sort(key=lambda r: r.get("window_start") or 0, reverse=True)
    return pages.slice(found, dict)


@router.get("/monitors/alerts", response_model=Page[dict[str, Any]], tags=["monitoring"])
def monitor_alerts(
    ctx: Read,
    pages: Pages,
    model: Annotated[str | None, Query(pattern=NAME)] = None,
    ref: Annotated[str | None, Query(pattern=REF)] = None,
    status: Annotated[str | None, Query(pattern=r"^[a-z]{1,32}$")] = None,
) -> dict:
    """Alerts raised by monitoring rules, most recently seen first."""
    service = _service(ctx, "monitors")
    filters = {k: v for k, v in {"model": model, "ref": ref, "status": status}.items() if v}
    found = monitors.page(service, monitors.ALERT_CALLS, pages, **filters)
    if found is None:
        raise BackendUnavailable("this Modelyard's monitoring service lists no alerts")
    return found
