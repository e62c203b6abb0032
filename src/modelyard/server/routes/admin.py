"""Users, API tokens and the audit trail."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from modelyard.registry.external_users import refuse_self_service_token
from modelyard.server.pagination import encode_cursor
from modelyard.server.routes._deps import NAME, Pages, Read, RunWrite, UserManage
from modelyard.server.schemas import (
    AuditEventIn,
    AuditEventPublic,
    Page,
    RolesIn,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    VerifyPublic,
)

router = APIRouter(tags=["users and audit"])

UserName = Annotated[str, PathParam(pattern=NAME)]
TokenId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$")]


@router.get("/users", response_model=Page[UserPublic])
def list_users(ctx: Read, pages: Pages) -> dict:
    return pages.slice(ctx.yard.users.list(), lambda u: u.to_dict())


@router.post("/users", status_code=201, response_model=UserPublic)
def add_user(body: UserCreate, ctx: UserManage) -> dict:
    return ctx.yard.users.add(body.name, list(body.roles), display_name=body.display_name).to_dict()


@router.get("/users/{name}", response_model=UserPublic)
def get_user(name: UserName, ctx: Read) -> dict:
    return ctx.yard.users.get(name).to_dict()


@router.put("/users/{name}/roles", response_model=UserPublic)
def set_roles(name: UserName, body: RolesIn, ctx: UserManage) -> dict:
    return ctx.yard.users.set_roles(name, list(body.roles)).to_dict()


@router.post("/users/{name}/disable", response_model=UserPublic)
def disable_user(name: UserName, ctx: UserManage) -> dict:
    return ctx.yard.users.disable(name).to_dict()


@router.get("/tokens", response_model=Page[TokenPublic])
def list_tokens(
    ctx: Read,
    pages: Pages,
    user: Annotated[str | None, Query(pattern=NAME, description="Default: the caller.")] = None,
    all_users: Annotated[bool, Query(description="Every user's tokens (admins).")] = False,
) -> dict:
    owner = None if all_users else (user or ctx.user)
    return pages.slice(ctx.yard.tokens.list(owner), lambda t: t.to_dict())


@router.post("/tokens", status_code=201, response_model=TokenCreated)
def create_token(body: TokenCreate, ctx: Read) -> dict:
    """Create a token for yourself (any user) or for someone else (admins); shown once.

    A user provided by single sign-on may not mint their own: a platform token
    would outlive the provider's say (their groups, their account); machines
    use the provider's client credentials instead, or an admin creates one.
    """
    owner = body.user or ctx.user
    if owner == ctx.user and not ctx.can("user.manage"):
        refuse_self_service_token(ctx.yard.users.get(owner).created_by)
    created = ctx.yard.tokens.create(body.user, name=body.name, expires_in=body.expires_in)
    return {**created.info.to_dict(), "token": created.secret}


@router.delete("/tokens/{token_id}", response_model=TokenPublic)
def revoke_token(token_id: TokenId, ctx: Read) -> dict:
    """Revoke your own token (any user) or anyone's (admins)."""
    return ctx.yard.tokens.revoke(token_id).to_dict()


@router.get("/audit/events", response_model=Page[AuditEventPublic])
def audit_events(
    ctx: Read,
    pages: Pages,
    subject: Annotated[
        str | None, Query(max_length=512, description="e.g. model/credit-risk")
    ] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    order: Annotated[Literal["newest", "oldest"], Query()] = "newest",
    after_seq: Annotated[int, Query(ge=0, le=2**53, description="Only events after this one.")] = 0,
) -> dict:
    """Audit events, newest first (or oldest first: a keyset cursor, for exports)."""
    if order == "oldest":
        after = pages.state.get("after", after_seq)
        after = after if isinstance(after, int) and after >= 0 else after_seq
        found = ctx.yard.audit.events(
            subject=subject,
            action=action,
            after_seq=after,
            limit=pages.limit + 1,
            newest_first=False,
        )
        items = [e.to_dict() for e in found[: pages.limit]]
        more = len(found) > pages.limit
        return {
            "items": items,
            "next_cursor": encode_cursor({"after": items[-1]["seq"]}) if more else None,
        }
    found = ctx.yard.audit.events(
        subject=subject, action=action, after_seq=after_seq, limit=pages.offset + pages.limit + 1
    )
    return pages.page(found[pages.offset :], lambda e: e.to_dict())


@router.post("/audit/events", status_code=201, response_model=AuditEventPublic)
def record_audit_event(body: AuditEventIn, ctx: RunWrite) -> dict:
    """Record a pipeline event (a gate verdict, an approval request, a promotion decision).

    The actor is the authenticated user; registry events (registrations,
    sign-offs, alias moves) cannot be written here — the registry writes them
    with the change itself.
    """
    return ctx.yard.audit.record(body.action, body.subject, body.detail).to_dict()


@router.get("/audit/verify", response_model=VerifyPublic)
def audit_verify(ctx: Read) -> dict:
    """Walk the hash chain; names the first event that does not hold."""
    return ctx.yard.audit.verify().to_dict()
