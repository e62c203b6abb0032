"""Health (no token) and the caller's identity."""

from __future__ import annotations

from fastapi import APIRouter

from modelyard import __version__
from modelyard.registry.roles import PERMISSIONS
from modelyard.server.routes._deps import Read
from modelyard.server.schemas import Health, Me

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=Health)
def health() -> dict:
    return {"status": "ok", "version": __version__}


@router.get("/me", response_model=Me)
def me(ctx: Read) -> dict:
    return {
        "user": ctx.user,
        "roles": sorted(ctx.actor.roles),
        "permissions": sorted(a for a in PERMISSIONS if ctx.actor.can(a)),
    }
