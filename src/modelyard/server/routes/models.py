"""Models, versions, aliases, sign-offs, lineage, validation, cards, compilation, files."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from starlette.responses import StreamingResponse

from modelyard.errors import InvalidInput, NotFound
from modelyard.registry import listing
from modelyard.server.auth import Ctx
from modelyard.server.routes._deps import (
    AliasSet,
    ModelCreate,
    ModelName,
    ModelUpdate,
    Pages,
    PolicyManage,
    Read,
    SignOff,
    VersionArchive,
    VersionNumber,
    VersionRegister,
    VersionUpdate,
    VersionValidate,
)
from modelyard.server.routes.artifacts import blob_response
from modelyard.server.schemas import (
    AliasSet as AliasSetIn,
)
from modelyard.server.schemas import (
    CardPublic,
    CompileIn,
    Decision,
    MissingSignOffs,
    ModelPublic,
    Page,
    ParityPublic,
    PolicyChangeIn,
    PolicyChangePublic,
    PolicyRejectIn,
    PolicySignOffIn,
    ReasonsIn,
    TagsIn,
    ValidateIn,
    ValidationPublic,
    VersionCreate,
    VersionMetricsIn,
    VersionPublic,
    model_public,
    policy_dict,
    version_public,
)
from modelyard.server.schemas import ModelCreate as ModelCreateIn
from modelyard.server.schemas import ModelUpdate as ModelUpdateIn

router = APIRouter(prefix="/models", tags=["models"])

AliasName = Annotated[
    str, PathParam(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$", description="An alias or 'latest'.")
]
FileName = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9._-]{1,255}$")]
MEDIA_TYPES = {".html": "text/html; charset=utf-8", ".md": "text/markdown; charset=utf-8"}
# Reports are self-contained HTML with inline scripts: run them in an opaque origin.
REPORT_CSP = "sandbox allow-scripts allow-popups allow-downloads"


def _ref(name: str, version: int) -> str:
    return f"{name}/{version}"


def _frame(ctx: Ctx, ref: str | None, blob: str | None, what: str) -> Any:
    if ref and blob:
        raise InvalidInput(f"give either {what} or {what}_blob, not both")
    if blob:
        with tempfile.TemporaryDirectory(prefix="modelyard-frame-") as tmp:
            path = ctx.yard.artifacts.get_file(blob, Path(tmp) / "data.parquet")
            return pd.read_parquet(path)
    return ref


@router.get("", response_model=Page[ModelPublic])
def list_models(
    ctx: Read,
    pages: Pages,
    name_like: Annotated[str | None, Query(max_length=128, description="e.g. 'credit*'")] = None,
) -> dict:
    found = listing.models_page(
        ctx.yard.store, ctx.user, name_like=name_like, limit=pages.limit + 1, offset=pages.offset
    )
    return pages.page(found, model_public)


@router.post("", status_code=201, response_model=ModelPublic)
def create(body: ModelCreateIn, ctx: ModelCreate) -> dict:
    return model_public(
        ctx.yard.models.create(
            body.name,
            description=body.description,
            owner=body.owner,
            risk_tier=body.risk_tier,
            policy=policy_dict(body.policy),
        )
    )


@router.get("/{name}", response_model=ModelPublic)
def get_model(name: ModelName, ctx: Read) -> dict:
    return model_public(ctx.yard.models.get_model(name))


@router.patch("/{name}", response_model=ModelPublic)
def update(name: ModelName, body: ModelUpdateIn, ctx: ModelUpdate) -> dict:
    return model_public(ctx.yard.models.update(name, **body.model_dump(exclude_none=True)))


ChangeId = Annotated[int, PathParam(ge=1, le=2_147_483_647, description="A policy change.")]


@router.get("/{name}/policy-changes", response_model=list[PolicyChangePublic])
def policy_changes(
    name: ModelName,
    ctx: Read,
    status: Annotated[str | None, Query(pattern="^(pending|applied|rejected)$")] = None,
) -> list[dict]:
    return [c.to_dict() for c in ctx.yard.models.policy_changes(name, status=status)]


@router.post("/{name}/policy-changes", status_code=201, response_model=PolicyChangePublic)
def request_policy_change(name: ModelName, body: PolicyChangeIn, ctx: PolicyManage) -> dict:
    """Request a relaxing change of the risk tier or policy; a second person signs it off."""
    change = ctx.yard.models.request_policy_change(
        name, risk_tier=body.risk_tier, policy=policy_dict(body.policy), comment=body.comment
    )
    return change.to_dict()


@router.post("/{name}/policy-changes/{change_id}/sign-off", response_model=PolicyChangePublic)
def sign_off_policy_change(
    name: ModelName, change_id: ChangeId, body: PolicySignOffIn, ctx: SignOff
) -> dict:
    change = ctx.yard.models.sign_off_policy_change(
        name,
        change_id,
        comment=body.comment,
        role=body.role,
        detach_unqualified=body.detach_unqualified,
    )
    return change.to_dict()


@router.post("/{name}/policy-changes/{change_id}/reject", response_model=PolicyChangePublic)
def reject_policy_change(
    name: ModelName, change_id: ChangeId, body: PolicyRejectIn, ctx: Read
) -> dict:
    """Close a pending change (its requester, or a holder of a role it needs)."""
    return ctx.yard.models.reject_policy_change(name, change_id, comment=body.comment).to_dict()


@router.get("/{name}/versions", response_model=Page[VersionPublic])
def versions(name: ModelName, ctx: Read, pages: Pages) -> dict:
    found = listing.versions_page(
        ctx.yard.store, ctx.user, name, limit=pages.limit + 1, offset=pages.offset
    )
    return pages.page(found, version_public)


@router.post("/{name}/versions", status_code=201, response_model=VersionPublic)
def register(name: ModelName, body: VersionCreate, ctx: VersionRegister) -> dict:
    """Register an uploaded model directory (saved by ``save_model``) as the next version."""
    info = ctx.yard.models.register_artifact(
        name,
        body.artifact_digest,
        run=body.run_id,
        metrics=body.metrics,
        description=body.description,
        tags=body.tags,
        reasons=body.reasons,
    )
    return version_public(info)


@router.put("/{name}/versions/{version}/reasons", response_model=VersionPublic)
def set_reasons(
    name: ModelName, version: VersionNumber, body: ReasonsIn, ctx: VersionUpdate
) -> dict:
    """Register (or replace, before sign-off) the version's reason table."""
    return version_public(ctx.yard.models.set_reasons(_ref(name, version), body.reasons))


@router.get("/{name}/versions/{version}", response_model=VersionPublic)
def get_version(name: ModelName, version: VersionNumber, ctx: Read) -> dict:
    return version_public(ctx.yard.models.get(_ref(name, version)))


@router.get("/{name}/aliases/{alias}", response_model=VersionPublic)
def resolve_alias(name: ModelName, alias: AliasName, ctx: Read) -> dict:
    return version_public(ctx.yard.models.get(f"{name}@{alias}"))


@router.put("/{name}/aliases/{alias}", response_model=VersionPublic)
def set_alias(name: ModelName, alias: AliasName, body: AliasSetIn, ctx: AliasSet) -> dict:
    return version_public(ctx.yard.models.set_alias(name, alias, body.version))


@router.delete("/{name}/aliases/{alias}", status_code=204)
def delete_alias(name: ModelName, alias: AliasName, ctx: AliasSet) -> None:
    ctx.yard.models.delete_alias(name, alias)


@router.post("/{name}/versions/{version}/approve", response_model=VersionPublic)
def approve(name: ModelName, version: VersionNumber, body: Decision, ctx: SignOff) -> dict:
    info = ctx.yard.models.approve(_ref(name, version), comment=body.comment, role=body.role)
    return version_public(info)


@router.post("/{name}/versions/{version}/reject", response_model=VersionPublic)
def reject(name: ModelName, version: VersionNumber, body: Decision, ctx: SignOff) -> dict:
    info = ctx.yard.models.reject(_ref(name, version), comment=body.comment, role=body.role)
    return version_public(info)


@router.post("/{name}/versions/{version}/archive", response_model=VersionPublic)
def archive(name: ModelName, version: VersionNumber, ctx: VersionArchive) -> dict:
    return version_public(ctx.yard.models.archive(_ref(name, version)))


@router.post("/{name}/versions/{version}/tags", response_model=VersionPublic)
def set_tags(name: ModelName, version: VersionNumber, body: TagsIn, ctx: VersionUpdate) -> dict:
    return version_public(ctx.yard.models.set_tags(_ref(name, version), body.tags))


@router.post("/{name}/versions/{version}/metrics", status_code=204)
def log_metrics(
    name: ModelName, version: VersionNumber, body: VersionMetricsIn, ctx: VersionUpdate
) -> None:
    ctx.yard.models.log_metrics(_ref(name, version), body.metrics, source=body.source)


@router.get("/{name}/versions/{version}/lineage", response_model=dict)
def lineage(name: ModelName, version: VersionNumber, ctx: Read) -> dict:
    """Backward lineage: the version's run, its input datasets and their parents."""
    return ctx.yard.models.lineage(_ref(name, version))


@router.get("/{name}/versions/{version}/missing-sign-offs", response_model=MissingSignOffs)
def missing_sign_offs(
    name: ModelName,
    version: VersionNumber,
    ctx: Read,
    alias: Annotated[str, Query(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")] = "champion",
) -> dict:
    ref = _ref(name, version)
    return {"ref": ref, "alias": alias, "missing": ctx.yard.models.missing_sign_offs(ref, alias)}


@router.post("/{name}/versions/{version}/validate", response_model=ValidationPublic)
def validate(
    name: ModelName, version: VersionNumber, body: ValidateIn, ctx: VersionValidate
) -> dict:
    """Validate on labelled data (a dataset ref or an uploaded Parquet); stores the report."""
    data = _frame(ctx, body.dataset, body.data_blob, "dataset")
    if data is None:
        raise InvalidInput("give dataset (a dataset reference) or data_blob")
    outcome = ctx.yard.models.validate(
        _ref(name, version),
        data,
        target=body.target,
        reference=_frame(ctx, body.reference, body.reference_blob, "reference"),
        segment_by=body.segment_by,
        fairness_attribute=body.fairness_attribute,
        threshold=body.threshold,
    )
    return {"ref": outcome.ref, "metrics": outcome.metrics, "report_digest": outcome.report_digest}


@router.post("/{name}/versions/{version}/card", response_model=CardPublic)
def card(name: ModelName, version: VersionNumber, ctx: VersionUpdate) -> dict:
    """Render and attach the model card (Markdown and HTML)."""
    ref = _ref(name, version)
    ctx.yard.models.card(ref)
    info = ctx.yard.models.get(ref)
    md, html = info.artifact("model_card.md"), info.artifact("model_card.html")
    assert md is not None and html is not None  # just attached
    return {"ref": ref, "markdown_digest": md.digest, "html_digest": html.digest}


@router.post("/{name}/versions/{version}/compile", response_model=ParityPublic)
def compile_version(
    name: ModelName, version: VersionNumber, body: CompileIn, ctx: VersionUpdate
) -> dict:
    """Compile to ONNX and check parity (on an uploaded sample or the stored example)."""
    data = _frame(ctx, None, body.data_blob, "data")
    parity = ctx.yard.models.compile(
        _ref(name, version), body.target, data=data, tolerance=body.tolerance
    )
    return parity.to_dict()


@router.get(
    "/{name}/versions/{version}/files/{file}",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/html": {}, "text/markdown": {}}}},
)
def version_file(
    name: ModelName, version: VersionNumber, file: FileName, ctx: Read
) -> StreamingResponse:
    """A file attached to the version (validation report, model card), with its content type."""
    info = ctx.yard.models.get(_ref(name, version))
    return attached_file(ctx, info, file)


def attached_file(ctx: Ctx, info: Any, file: str) -> StreamingResponse:
    record = info.artifact(file)
    if record is None or record.kind == "compiled":
        names = [a.name for a in info.artifacts if a.kind != "compiled"]
        raise NotFound(f"{info.ref} has no attached file {file!r} (files: {names or 'none'})")
    media = MEDIA_TYPES.get(Path(file).suffix, "application/octet-stream")
    return blob_response(
        ctx,
        record.digest,
        media,
        **{"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"},
    )
