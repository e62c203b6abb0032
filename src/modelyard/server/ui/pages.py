"""The UI's pages: thin handlers that call one or two services and render a template.

Pages authenticate with the session cookie (``ui_context``); forms that change
anything POST with the session's CSRF token, and the services check roles
again, so a hidden button is never the only guard.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from starlette.responses import RedirectResponse, Response

from modelyard.errors import InvalidInput, ModelyardError
from modelyard.registry import listing
from modelyard.registry.trusted_code import format_facts
from modelyard.server.auth import SESSION_COOKIE, Ctx, check_csrf, platform, ui_context
from modelyard.server.routes.artifacts import blob_response, content_disposition
from modelyard.server.routes.models import attached_file
from modelyard.server.ui import charts, monitoring
from modelyard.server.ui.render import render
from modelyard.tracking import artifact_files

router = APIRouter(include_in_schema=False)

UI = Annotated[Ctx, Depends(ui_context)]
NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
Name = Annotated[str, PathParam(pattern=NAME)]
Number = Annotated[int, PathParam(ge=1, le=2_147_483_647)]
PAGE = 25
LOWER_IS_BETTER = ("loss", "brier", "error", "rmse", "mae", "mse", "psi")
STATE_ORDER = ("registered", "validated", "approved", "deployed", "archived")


async def form_data(request: Request) -> dict[str, str]:
    """An urlencoded form body as a flat dict (the last value wins)."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


Form = Annotated[dict[str, str], Depends(form_data)]


def _offset(cursor: int | None) -> int:
    return max(0, cursor or 0)


def _safe_next(target: str | None) -> str:
    if not target:
        return "/models"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/models"
    return target


# -- sign in --------------------------------------------------------------------------


@router.get("/login")
def login_page(
    request: Request, next: str | None = None, signed_out: str | None = None
) -> Response:
    return render(
        request, "login.html", None, next=_safe_next(next), error=None, signed_out=signed_out
    )


def _sign_out_target(request: Request) -> str:
    from modelyard.server.sso import sign_out_target

    return sign_out_target(request)


@router.post("/login")
def login(request: Request, form: Form) -> Response:
    user, token = form.get("user", "").strip(), form.get("token", "").strip()
    target = _safe_next(form.get("next"))
    holder = platform(request)
    try:
        secret, _ = holder.tokens.login(user, token, hours=holder.session_hours)
    except ModelyardError as exc:
        return render(request, "login.html", None, next=target, error=exc.message, status=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=holder.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=holder.secure_cookies,
        path="/",
    )
    return response


@router.post("/logout")
def logout(request: Request, ctx: UI, form: Form) -> Response:
    check_csrf(ctx, form)
    platform(request).tokens.logout(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(_sign_out_target(request), status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie("modelyard_sso", path="/")
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse("/models", status_code=303)


# -- models -------------------------------------------------------------------------


@router.get("/models")
def models_page(
    request: Request,
    ctx: UI,
    q: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    offset = _offset(cursor)
    pattern = f"*{q.strip()}*" if q and q.strip() else None
    found = listing.models_page(
        ctx.yard.store, ctx.user, name_like=pattern, limit=PAGE + 1, offset=offset
    )
    return render(
        request,
        "models.html",
        ctx,
        section="models",
        models=found[:PAGE],
        q=q or "",
        prev=max(0, offset - PAGE) if offset else None,
        next=offset + PAGE if len(found) > PAGE else None,
    )


@router.get("/models/{name}")
def model_page(
    request: Request,
    name: Name,
    ctx: UI,
    cursor: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    offset = _offset(cursor)
    model = ctx.yard.models.get_model(name)
    versions = listing.versions_page(ctx.yard.store, ctx.user, name, limit=PAGE + 1, offset=offset)
    return render(
        request,
        "model.html",
        ctx,
        section="models",
        model=model,
        versions=versions[:PAGE],
        prev=max(0, offset - PAGE) if offset else None,
        next=offset + PAGE if len(versions) > PAGE else None,
        states=STATE_ORDER,
    )


def _deployments_of(ctx: Ctx, info: Any) -> list[dict[str, Any]]:
    service = getattr(ctx.yard, "deployments", None)
    if service is None:
        return []
    found = []
    try:
        records = service.list()
    except ModelyardError:
        return []
    for record in records:
        for route in record.spec.routes:
            model, _, alias = route.model.partition("@")
            hit = (
                (alias and model == info.name and alias in info.aliases)
                or route.model == info.ref
                or (alias == "latest" and model == info.name)
            )
            if hit:
                found.append(
                    {"name": record.name, "route": f"{route.name} · {route.weight or 100:g}%"}
                )
    return found


def _version_view(request: Request, ctx: Ctx, name: str, version: int, **extra: Any) -> Response:
    info = ctx.yard.models.get(f"{name}/{version}")
    model = ctx.yard.models.get_model(name)
    policy = ctx.yard.models.policy(name)
    # The standing sign-offs, as the registry checks them (not a replay of the history).
    gated = policy.protected_aliases[0] if policy.protected_aliases else "champion"
    missing = ctx.yard.models.missing_sign_offs(info.ref, gated)
    deployments = _deployments_of(ctx, info)
    lineage = ctx.yard.models.lineage(info.ref)
    sign_roles = [r for r in ("validator", "approver") if ctx.actor.can(f"approval.{r}")]
    status = extra.pop("status", 200)
    return render(
        request,
        "version.html",
        ctx,
        section="models",
        status=status,
        model=model,
        v=info,
        missing=missing,
        protected=sorted(policy.protected_aliases),
        lineage_svg=charts.lineage_svg(lineage, deployments),
        sign_roles=sign_roles,
        can_alias=ctx.actor.can("alias.set"),
        files=[a for a in info.artifacts if a.kind != "compiled"],
        compiled=info.artifact("onnx"),
        fmt=format_facts(info),
        **extra,
    )


@router.get("/models/{name}/versions/{version}")
def version_page(
    request: Request,
    name: Name,
    version: Number,
    ctx: UI,
    done: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    notices = {
        "approved": "Your sign-off was recorded.",
        "rejected": "Your rejection was recorded.",
        "alias": "The alias now points at this version.",
    }
    return _version_view(request, ctx, name, version, notice=notices.get(done or ""), error=None)


@router.post("/models/{name}/versions/{version}/decision")
def decide(request: Request, name: Name, version: Number, ctx: UI, form: Form) -> Response:
    check_csrf(ctx, form)
    decision = form.get("decision")
    role = form.get("role") or None
    comment = form.get("comment", "")
    ref = f"{name}/{version}"
    try:
        if decision == "approve":
            ctx.yard.models.approve(ref, comment=comment, role=role)
        elif decision == "reject":
            ctx.yard.models.reject(ref, comment=comment, role=role)
        else:
            raise InvalidInput("decision must be 'approve' or 'reject'")
    except ModelyardError as exc:
        return _version_view(
            request, ctx, name, version, notice=None, error=exc.message, status=exc.http_status
        )
    done = "approved" if decision == "approve" else "rejected"
    return RedirectResponse(f"/models/{name}/versions/{version}?done={done}", status_code=303)


@router.post("/models/{name}/versions/{version}/alias")
def set_alias(request: Request, name: Name, version: Number, ctx: UI, form: Form) -> Response:
    check_csrf(ctx, form)
    try:
        ctx.yard.models.set_alias(name, form.get("alias", "").strip(), version)
    except ModelyardError as exc:
        return _version_view(
            request, ctx, name, version, notice=None, error=exc.message, status=exc.http_status
        )
    return RedirectResponse(f"/models/{name}/versions/{version}?done=alias", status_code=303)


@router.get("/models/{name}/versions/{version}/files/{file}")
def version_file(
    name: Name,
    version: Number,
    file: Annotated[str, PathParam(pattern=r"^[A-Za-z0-9._-]{1,255}$")],
    ctx: UI,
) -> Response:
    return attached_file(ctx, ctx.yard.models.get(f"{name}/{version}"), file)


# -- runs ---------------------------------------------------------------------------


RUN_COLUMNS = ("experiment", "status", "user", "started", "duration")
SORT_KEYS = {
    "name": "name",
    "experiment": "experiment",
    "status": "status",
    "user": "user",
    "started": "start_time",
    "duration": "duration",
}


@router.get("/runs")
def runs_page(
    request: Request,
    ctx: UI,
    filter: Annotated[str | None, Query(max_length=4000)] = None,
    order_by: Annotated[str | None, Query(max_length=200)] = None,
    experiment: Annotated[str | None, Query(max_length=255)] = None,
    cursor: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """Top-level runs, a page at a time; pipeline step runs nest under their parent."""
    offset = _offset(cursor)
    error, runs = None, []
    try:
        runs = ctx.yard.runs.search(
            filter or None,
            order_by=[order_by] if order_by else None,
            experiment=experiment or None,
            max_results=PAGE + 1,
            offset=offset,
            top_level=True,
        )
    except InvalidInput as exc:
        error = exc.message
    shown = runs[:PAGE]
    children: dict[str, list[Any]] = {}
    if shown:
        ids = ", ".join(f"'{r.id}'" for r in shown)
        for child in ctx.yard.runs.search(
            f"parent_run_id in ({ids})", order_by=["start_time"], max_results=2000
        ):
            children.setdefault(child.parent_run_id, []).append(child)
    metric_keys = sorted({k for r in shown for k in r.metrics})[:8]
    sort_key, _, direction = (order_by or "").strip().partition(" ")
    return render(
        request,
        "runs.html",
        ctx,
        section="runs",
        runs=shown,
        children=children,
        metric_keys=metric_keys,
        columns=RUN_COLUMNS,
        sort_keys=SORT_KEYS,
        sorted_by=sort_key,
        sorted_desc=direction.lower() == "desc",
        filter=filter or "",
        order_by=order_by or "",
        experiment=experiment or "",
        error=error,
        prev=max(0, offset - PAGE) if offset else None,
        next=offset + PAGE if len(runs) > PAGE else None,
    )


def _numeric_columns(comparison: dict[str, Any]) -> dict[str, list[Any]]:
    """Params that parse as numbers and metrics, one list per column (one value per run)."""
    columns: dict[str, list[Any]] = {}
    for key, values in comparison["params"].items():
        numbers = []
        for v in values:
            try:
                numbers.append(float(v) if v is not None else None)
            except (TypeError, ValueError):
                break
        else:
            if any(n is not None for n in numbers):
                columns[f"param {key}"] = numbers
    for key, values in comparison["metrics"].items():
        if any(isinstance(v, int | float) for v in values):
            columns[f"metric {key}"] = [v if isinstance(v, int | float) else None for v in values]
    return columns


@router.get("/runs/compare")
def compare_page(
    request: Request,
    ctx: UI,
    ids: Annotated[list[str], Query(max_length=50)],
) -> Response:
    comparison = ctx.yard.runs.compare(ids)
    runs = comparison["runs"]
    histories: dict[str, dict[str, list[Any]]] = {}
    for key in comparison["metrics"]:
        lines = {}
        for run in runs:
            points = ctx.yard.runs.metric_history(run["id"], key)
            if len(points) > 1:
                lines[f"{run['name']} ({run['id'][:8]})"] = points
        if lines:
            histories[key] = lines
    best = {}
    for key, values in comparison["metrics"].items():
        numbers = [(v, i) for i, v in enumerate(values) if isinstance(v, int | float)]
        if len(numbers) > 1 and len({v for v, _ in numbers}) > 1:
            pick = min if any(w in key.lower() for w in LOWER_IS_BETTER) else max
            best[key] = pick(numbers)[1]
    columns = _numeric_columns(comparison)
    labels = [f"{r['name']} ({r['id'][:8]})" for r in runs]
    # Default scatter axes: columns that the runs sharing the most columns all have.
    shared = charts.common_runs(columns)
    subset = {n: [vs[i] for i in shared] for n, vs in columns.items()}
    axes = charts.usable_dimensions(subset, limit=len(columns)) or list(columns)
    metric_axes = [c for c in axes if c.startswith("metric ")]
    param_axes = [c for c in axes if c.startswith("param ")]
    scatter = {"labels": labels, "columns": columns}
    return render(
        request,
        "compare.html",
        ctx,
        section="runs",
        comparison=comparison,
        best=best,
        bars=charts.metric_bars(runs, comparison["metrics"]) if comparison["metrics"] else None,
        history=charts.metric_histories(dict(list(histories.items())[:3])) if histories else None,
        parallel=charts.parallel_coordinates(
            labels, columns, metric_axes[0] if metric_axes else None
        ),
        scatter=scatter if len(columns) >= 2 else None,
        scatter_x=(param_axes or metric_axes[1:] or axes or [""])[0],
        scatter_y=(metric_axes or axes[-1:] or [""])[0],
    )


RunIdParam = Annotated[str, PathParam(pattern=r"^[0-9a-f]{6,32}$")]


@router.get("/runs/{run_id}")
def run_page(
    request: Request,
    run_id: RunIdParam,
    ctx: UI,
    artifact: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response:
    """A run: facts, one chart per metric (by step or time), nested step runs, artifacts."""
    run = ctx.yard.runs.get(run_id)
    histories = {}
    for key in sorted(run.metrics)[:24]:
        points = ctx.yard.runs.metric_history(run.id, key)
        if len(points) > 1:
            histories[key] = points
    files = artifact_files.list_files(ctx.yard.artifacts, run)
    selected, shown, status, problem = None, None, 200, None
    if artifact:
        try:
            selected = artifact_files.find(ctx.yard.artifacts, run, artifact)
            shown = artifact_files.preview(ctx.yard.artifacts, selected)
        except ModelyardError as exc:
            problem, status = exc.message, exc.http_status
    steps = ctx.yard.runs.search(
        f"parent_run_id = '{run.id}'", order_by=["start_time"], max_results=500
    )
    return render(
        request,
        "run.html",
        ctx,
        section="runs",
        status=status,
        run=run,
        charts=charts.run_metrics(histories),
        steps=steps,
        files=files,
        selected=selected,
        preview=shown,
        problem=problem,
    )


@router.get("/runs/{run_id}/files/{path:path}")
def run_file(
    run_id: RunIdParam,
    path: Annotated[str, PathParam(min_length=1, max_length=1024)],
    ctx: UI,
    download: bool = False,
) -> Response:
    """One artifact file, hash-checked as it streams; images inline, all else as download."""
    run = ctx.yard.runs.get(run_id)
    item = artifact_files.find(ctx.yard.artifacts, run, path)
    inline = item.kind == "image" and not download
    return blob_response(
        ctx,
        item.digest,
        item.media_type,
        **{
            "Content-Disposition": content_disposition("inline" if inline else "attachment", path),
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- datasets -----------------------------------------------------------------------


@router.get("/datasets")
def datasets_page(request: Request, ctx: UI) -> Response:
    return render(
        request, "datasets.html", ctx, section="datasets", datasets=ctx.yard.datasets.list()
    )


@router.get("/datasets/{name}")
def dataset_page(request: Request, name: Name, ctx: UI) -> Response:
    versions = ctx.yard.datasets.versions(name)
    return render(
        request,
        "dataset.html",
        ctx,
        section="datasets",
        name=name,
        versions=list(reversed(versions)),
    )


@router.get("/datasets/{name}/{version}")
def dataset_version_page(request: Request, name: Name, version: Number, ctx: UI) -> Response:
    info = ctx.yard.datasets.get(f"{name}/{version}")
    columns = []
    for column in (info.profile.get("columns") or {}).values():
        histogram = column.get("histogram") or {}
        top = column.get("top") or []
        count = column.get("count") or info.num_rows
        unique = bool(column.get("distinct")) and column.get("distinct") == count
        columns.append(
            {
                **column,
                "unique": unique,
                "spark": charts.histogram_svg(histogram.get("counts") or []),
                "top_bar": (
                    charts.share_bar([(str(v), c) for v, c in top[:5]], total=count)
                    if top and not unique
                    else None
                ),
            }
        )
    return render(
        request,
        "dataset_version.html",
        ctx,
        section="datasets",
        d=info,
        columns=columns,
        runs=ctx.yard.datasets.consuming_runs(info),
    )


# -- deployments, monitoring, audit ---------------------------------------------------


@router.get("/deployments")
def deployments_page(request: Request, ctx: UI) -> Response:
    service = getattr(ctx.yard, "deployments", None)
    records = service.list() if service is not None else None
    rows = []
    for record in records or ():
        spec = record.spec
        rows.append(
            {
                "record": record,
                "split": charts.share_bar(
                    [
                        (f"{r.name} → {r.model}", w)
                        for r, w in zip(spec.routes, spec.weights(), strict=True)
                    ]
                ),
            }
        )
    return render(
        request,
        "deployments.html",
        ctx,
        section="deployments",
        enabled=service is not None,
        rows=rows,
    )


@router.get("/monitoring")
def monitoring_page(
    request: Request,
    ctx: UI,
    model: Annotated[str | None, Query(pattern=NAME)] = None,
) -> Response:
    board = monitoring.dashboard(ctx.yard, model)
    return render(request, "monitoring.html", ctx, section="monitoring", board=board, model=model)


@router.get("/audit")
def audit_page(
    request: Request,
    ctx: UI,
    subject: Annotated[str | None, Query(max_length=512)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    offset = _offset(cursor)
    limit = 50
    events = ctx.yard.audit.events(
        subject=subject or None, action=action or None, limit=offset + limit + 1
    )
    verified, verified_at = platform(request).verify_audit()
    return render(
        request,
        "audit.html",
        ctx,
        section="audit",
        events=events[offset : offset + limit],
        verified=verified,
        verified_at=verified_at,
        subject=subject or "",
        action=action or "",
        prev=max(0, offset - limit) if offset else None,
        next=offset + limit if len(events) > offset + limit else None,
    )
