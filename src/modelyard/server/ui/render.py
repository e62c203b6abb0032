"""Jinja2 rendering for the UI pages, with the filters the templates share."""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

from modelyard._util.clock import ms_to_iso

TEMPLATES = Path(__file__).parent / "templates"

# Pages load only what this server serves; inline scripts are Plotly's figure calls.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

NAV = (
    ("models", "Models", "/models"),
    ("runs", "Runs", "/runs"),
    ("datasets", "Datasets", "/datasets"),
    ("deployments", "Deployments", "/deployments"),
    ("monitoring", "Monitoring", "/monitoring"),
    ("audit", "Audit log", "/audit"),
)


def when(ms: int | None) -> str:
    text = ms_to_iso(ms)
    return text[:16].replace("T", " ") if text else "—"


def num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".") if "." in f"{value}" else str(value)
    return str(value)


def short(digest: str | None, n: int = 12) -> str:
    return (digest or "").removeprefix("sha256:")[:n] or "—"


def size(n: int | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def brief(payload: Any) -> list[tuple[str, str]]:
    """An audit payload as a few short ``key=value`` pairs (the full JSON stays one click away)."""
    if not isinstance(payload, dict):
        return [("value", str(payload)[:60])]
    pairs = []
    for key, value in payload.items():
        if isinstance(value, dict):
            text = (
                f"{{{len(value)} fields}}"
                if len(value) > 3
                else ", ".join(f"{k}: {str(v)[:20]}" for k, v in value.items())
            )
        elif isinstance(value, str) and value.startswith("sha256:"):
            text = value[7:19]
        elif key.endswith("_at") and isinstance(value, int):
            text = when(value)
        else:
            text = str(value)
        pairs.append((key, text if len(text) <= 60 else text[:59] + "…"))
    return pairs


AUC_NAMES = {
    "training": ("auc", "train_auc", "training_auc", "train.auc", "auc_train"),
    "validation": ("auc", "validation_auc", "val_auc", "holdout_auc", "test_auc", "auc_holdout"),
}


def auc(metrics: dict[str, dict[str, float]] | None, source: str) -> float | None:
    """A version's AUC from one source, whatever name the training code logged it under.

    Runs log ``auc``, ``train_auc``, ``val_auc``...; a model list column that reads only
    ``auc`` stays empty for most of them. Validation falls back to evaluation metrics.
    """
    metrics = metrics or {}
    sources = (source, "evaluation") if source == "validation" else (source,)
    for name in sources:
        values = metrics.get(name) or {}
        for key in AUC_NAMES[source]:
            if isinstance(values.get(key), int | float):
                return float(values[key])
    return None


def pretty(payload: Any) -> str:
    import orjson

    return orjson.dumps(
        payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS, default=str
    ).decode()


def query(request: Request, **changes: Any) -> str:
    """The current query string with some parameters changed (None removes one)."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    for key, value in changes.items():
        if isinstance(value, list | tuple):
            params.extend((key, str(v)) for v in value)
        elif value is not None:
            params.append((key, str(value)))
    return "?" + urlencode(params) if params else "?"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        auc=auc,
        when=when,
        num=num,
        short=short,
        size=size,
        duration=duration,
        brief=brief,
        pretty=pretty,
    )
    env.globals.update(nav=NAV, query=query)
    return env


def render(
    request: Request,
    template: str,
    ctx: Any = None,
    *,
    section: str = "",
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    html = (
        environment()
        .get_template(template)
        .render(request=request, me=ctx, section=section, **values)
    )
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def render_error(request: Request, status: int, body: dict[str, Any]) -> HTMLResponse:
    titles = {403: "Not allowed", 404: "Not found", 409: "Conflict", 422: "Invalid input"}
    return render(
        request,
        "error.html",
        None,
        status=status,
        title=titles.get(status, "Something went wrong"),
        message=body.get("message", ""),
        details=body.get("details"),
        code=status,
    )
