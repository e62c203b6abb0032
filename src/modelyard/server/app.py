"""The platform server: the REST API under ``/api/v1`` and the web UI, in one ASGI app.

    app = create_app()                      # the configured store, as `modelyard server` does
    app = create_app(yard=modelyard.connect(...))

The API is documented by its OpenAPI schema (``/openapi.json``, browsable at
``/api/docs`` with locally served assets); every route names the permission it needs
in ``x-permission``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from modelyard import __version__
from modelyard.config import Settings, load_settings
from modelyard.server import docs, errors
from modelyard.server.auth import Platform, route_permissions
from modelyard.server.media import MediaTypeCheck
from modelyard.server.oidc import OidcClient, OidcConfig
from modelyard.server.routes import admin, artifacts, datasets, meta, models, operations, runs
from modelyard.yard import Yard

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"
log = logging.getLogger("modelyard.server")

DESCRIPTION = """\
Every Modelyard service over HTTP: datasets, runs, metrics, artifacts, models,
versions, aliases, sign-offs, deployments, batch jobs and the audit trail.

Authenticate with `Authorization: Bearer myd_...` (create a token with
`modelyard tokens create`) or, when single sign-on is configured, with a JWT
from the OIDC issuer (`Authorization: Bearer eyJ...`). No token: 401. A role
that lacks the permission a route names in `x-permission`: 403 with
`details.missing_permission`.
Lists take `?limit=&cursor=` and return `{"items": [...], "next_cursor": ...}`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    yard: Yard | None = None,
    secure_cookies: bool = False,
    session_hours: int = 12,
    ui: bool = True,
) -> FastAPI:
    """Build the app over ``yard`` (or a Yard opened from ``settings`` / the configuration)."""
    if yard is None:
        yard = Yard(settings or load_settings())
    app = FastAPI(
        title="Modelyard",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by modelyard.server.docs from bundled assets
        redoc_url=None,
        openapi_url="/openapi.json",
        responses=errors.ERROR_RESPONSES,
    )
    oidc_config = OidcConfig.from_settings(yard.settings)
    app.state.platform = Platform(
        yard,
        secure_cookies=secure_cookies,
        session_hours=session_hours,
        oidc=OidcClient(oidc_config) if oidc_config else None,
    )
    errors.install(app)
    app.include_router(docs.router)
    for module in (meta, datasets, runs, artifacts, models, admin, operations):
        app.include_router(module.router, prefix=API_PREFIX)
    if ui:
        from modelyard.server import sso
        from modelyard.server.ui import pages, static

        app.include_router(static.router)
        app.include_router(pages.router)
        if app.state.platform.oidc is not None:
            app.include_router(sso.router)
    _document_permissions(app)
    app.add_middleware(MediaTypeCheck, fastapi=app, prefix=API_PREFIX)
    app.add_middleware(errors.UnexpectedErrors)  # added last: the outermost (see its docstring)
    return app


def api_routes(app: FastAPI) -> list[tuple[str, set[str], APIRoute]]:
    """Every FastAPI route as (full path, methods, route), through included routers."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers kept their own route objects
        return [(r.path, set(r.methods), r) for r in app.routes if isinstance(r, APIRoute)]
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            found.append((context.path or route.path, set(context.methods or route.methods), route))
    return found


def _document_permissions(app: FastAPI) -> None:
    """Name each API operation's permission (``x-permission``) and its bearer security."""
    needs = {
        (path, method.lower()): route_permissions(route)
        for path, methods, route in api_routes(app)
        if path.startswith(API_PREFIX)
        for method in methods
    }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    "An API token from 'modelyard tokens create' (myd_...), or a JWT from "
                    "the configured OIDC issuer."
                ),
            }
            datasets.document_sources(schema, app.state.platform.yard.settings.dataset_sources)
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    _absent_is_none(operation)
                    if (path, method) not in needs:
                        continue
                    needed = needs[(path, method)]
                    operation["x-permission"] = list(needed) if needed else None
                    operation["security"] = [{"bearer": []}] if needed else []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _absent_is_none(operation: dict[str, Any]) -> None:
    """An optional query, header or path parameter is None when it is absent; there is no
    way to send a JSON null in a URL or a header, so the schema does not offer one."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        variants = schema.get("anyOf")
        if not variants:
            continue
        kept = [v for v in variants if v.get("type") != "null"]
        if len(kept) == len(variants):
            continue
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
        parameter["schema"] = {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}
