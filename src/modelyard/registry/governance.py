"""Governance writes that races and a single insider cannot beat.

Three rules live here, each enforced inside the caller's write transaction:

* **Serialisation.** Every governance write on a model (a sign-off, a
  protected-alias move, a policy change) first locks the model's row
  (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
  already admits one writer). The checks that follow read committed state
  and nothing can change it before the commit.
* **Standing sign-offs are constrained.** ``sign_offs`` holds one row per
  (version, role) and its unique (version, user) constraint makes "one person
  signs off as validator and approver" impossible even for a code path that
  forgot the lock: the second insert fails and is reported as a four-eyes
  refusal.
* **Weakening a policy takes two people.** Lowering a risk tier, dropping a
  required sign-off or unprotecting an alias is a *request* that applies only
  when a second person, holding the sign-off roles the current policy
  requires (an approver at least), signs it off. Strengthening applies at
  once but re-checks every protected alias: one that points at a version
  that no longer qualifies is refused, or detached with an audit event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from modelyard._util.clock import now_ms
from modelyard.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from modelyard.registry import audit
from modelyard.registry.entities import PolicyChangeInfo
from modelyard.registry.policy import SIGN_OFF_ROLES, Policy, check_tier
from modelyard.registry.roles import Actor
from modelyard.store.models import (
    Alias,
    ModelVersion,
    PolicyChange,
    PolicyChangeSignOff,
    RegisteredModel,
    SignOff,
)

FOUR_EYES = "four-eyes"


# -- standing sign-offs -------------------------------------------------------
def standing(session: Session, version_id: int) -> dict[str, str]:
    """role -> user of the sign-offs that stand on a version."""
    rows = session.execute(
        select(SignOff.role, SignOff.user).where(SignOff.version_id == version_id)
    ).all()
    return {role: user for role, user in rows}


def missing(policy: Policy, signed: Mapping[str, str]) -> list[str]:
    return policy.missing_sign_offs((role, user, "approved") for role, user in signed.items())


def record_sign_off(
    session: Session, version_id: int, role: str, user: str, approval_id: int, ref: str
) -> None:
    """Make ``user`` the standing ``role`` sign-off; the database refuses a second role."""
    current = session.get(SignOff, (version_id, role))
    if current is None:
        session.add(
            SignOff(
                version_id=version_id,
                role=role,
                user=user,
                approval_id=approval_id,
                created_at=now_ms(),
            )
        )
    else:
        current.user, current.approval_id, current.created_at = user, approval_id, now_ms()
    try:
        session.flush()
    except sa_exc.IntegrityError as exc:
        raise PermissionDenied(
            f"four-eyes: {user} already holds another sign-off of {ref}; "
            f"the {role} must be someone else",
            details={"rule": FOUR_EYES},
        ) from exc


def withdraw_sign_off(session: Session, version_id: int, role: str) -> None:
    session.execute(delete(SignOff).where(SignOff.version_id == version_id, SignOff.role == role))


# -- policy comparison and the protected-alias re-check ---------------------
def _policy_of(model: RegisteredModel) -> Policy:
    return Policy.for_model(model.risk_tier, model.policy)


def _state(model: RegisteredModel) -> dict[str, Any]:
    return {"risk_tier": model.risk_tier, "policy": dict(model.policy or {})}


def weakenings(old: Policy, new: Policy) -> list[str]:
    """What ``new`` relaxes compared with ``old`` (empty when it relaxes nothing)."""
    found = []
    if new.risk_tier > old.risk_tier:
        found.append(f"risk tier lowered from {old.risk_tier} to {new.risk_tier}")
    for role in old.required_roles:
        if role not in new.required_roles:
            found.append(f"sign-off by a {role} no longer required")
    for alias in old.protected_aliases:
        if alias not in new.protected_aliases:
            found.append(f"alias {alias!r} no longer protected")
    return found


def unqualified_aliases(
    session: Session, model: RegisteredModel, policy: Policy
) -> list[tuple[str, ModelVersion, list[str]]]:
    """Protected aliases of ``model`` whose version lacks a sign-off ``policy`` requires."""
    found = []
    aliases = session.scalars(
        select(Alias).where(Alias.model_id == model.id).order_by(Alias.alias)
    ).all()
    for alias in aliases:
        if alias.alias not in policy.protected_aliases:
            continue
        version = session.get(ModelVersion, alias.version_id)
        assert version is not None  # foreign key
        lacking = missing(policy, standing(session, version.id))
        if lacking:
            found.append((alias.alias, version, lacking))
    return found


def recheck_protected_aliases(
    session: Session, user: str, model: RegisteredModel, policy: Policy, *, detach: bool
) -> list[str]:
    """Refuse (or detach, audited) protected aliases that ``policy`` would not allow.

    Returns the aliases detached.
    """
    bad = unqualified_aliases(session, model, policy)
    if not bad:
        return []
    if not detach:
        listed = "; ".join(
            f"{alias} -> {model.name}/{v.version} lacks sign-off by {' and '.join(lack)}"
            for alias, v, lack in bad
        )
        raise Conflict(
            f"the tier-{policy.risk_tier} policy of {model.name!r} would not allow its "
            f"protected alias(es): {listed}. Sign those versions off or move the aliases "
            "first, or detach them (detach_unqualified=True / --detach-unqualified; audited)",
            details={"unqualified_aliases": [alias for alias, _, _ in bad]},
        )
    for alias, version, lack in bad:
        session.execute(delete(Alias).where(Alias.model_id == model.id, Alias.alias == alias))
        if version.state in ("deployed", "approved"):
            signed = standing(session, version.id)
            version.state = "validated" if "validator" in signed else "registered"
        audit.append(
            session,
            user,
            "alias.detach",
            f"model/{model.name}@{alias}",
            {
                "before": version.version,
                "after": None,
                "reason": f"the tier-{policy.risk_tier} policy needs sign-off by "
                + " and ".join(lack),
            },
        )
    return [alias for alias, _, _ in bad]


def apply_strengthening(
    session: Session,
    actor: Actor,
    model: RegisteredModel,
    risk_tier: int | None,
    policy: Mapping[str, Any] | None,
    *,
    detach: bool,
) -> None:
    """Change tier/policy in place when the change relaxes nothing; else refuse with a hint."""
    actor.require("policy.manage", "change a model's risk tier or policy")
    new_tier = check_tier(risk_tier if risk_tier is not None else model.risk_tier)
    new_overrides = dict(policy) if policy is not None else dict(model.policy or {})
    new = Policy.for_model(new_tier, new_overrides)
    relaxed = weakenings(_policy_of(model), new)
    if relaxed:
        raise PermissionDenied(
            f"four-eyes: {'; '.join(relaxed)} for {model.name!r} needs a second person. "
            f"Request it ('modelyard models policy request {model.name} ...' or "
            "models.request_policy_change) and have someone else holding "
            f"{' and '.join(required_for(_policy_of(model)))} sign it off",
            details={"rule": FOUR_EYES, "weakens": relaxed},
        )
    recheck_protected_aliases(session, actor.name, model, new, detach=detach)
    model.risk_tier = new_tier
    model.policy = new_overrides


# -- policy-change requests ---------------------------------------------------
def required_for(current: Policy) -> tuple[str, ...]:
    """Who must sign off a weakening: the current policy's sign-off roles, an approver at least."""
    return current.required_roles or ("approver",)


def _change_info(session: Session, row: PolicyChange, name: str) -> PolicyChangeInfo:
    signs = session.scalars(
        select(PolicyChangeSignOff)
        .where(PolicyChangeSignOff.change_id == row.id)
        .order_by(PolicyChangeSignOff.created_at)
    ).all()
    return PolicyChangeInfo(
        id=row.id,
        model=name,
        before=dict(row.before),
        after=dict(row.after),
        required_roles=tuple(row.required_roles),
        status=row.status,
        comment=row.comment,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        sign_offs=tuple(
            {"role": s.role, "user": s.user, "comment": s.comment, "created_at": s.created_at}
            for s in signs
        ),
    )


def request_change(
    session: Session,
    actor: Actor,
    model: RegisteredModel,
    risk_tier: int | None,
    policy: Mapping[str, Any] | None,
    comment: str,
) -> PolicyChangeInfo:
    actor.require("policy.manage", "request a change of a model's risk tier or policy")
    if risk_tier is None and policy is None:
        raise InvalidInput("a policy change needs risk_tier, policy or both")
    new_tier = check_tier(risk_tier if risk_tier is not None else model.risk_tier)
    new_overrides = dict(policy) if policy is not None else dict(model.policy or {})
    new = Policy.for_model(new_tier, new_overrides)
    if not weakenings(_policy_of(model), new):
        # Judged against the stored policy, not the request's shape: a conflict with state.
        raise Conflict(
            f"the change relaxes nothing in the policy of {model.name!r}; apply it directly "
            "with models.update (it needs no second person)"
        )
    row = PolicyChange(
        model_id=model.id,
        before=_state(model),
        after={"risk_tier": new_tier, "policy": new_overrides},
        required_roles=list(required_for(_policy_of(model))),
        status="pending",
        comment=comment,
        requested_by=actor.name,
        requested_at=now_ms(),
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        actor.name,
        "policy.request",
        f"model/{model.name}",
        {
            "change": row.id,
            "before": row.before,
            "after": row.after,
            "required_roles": row.required_roles,
            "comment": comment,
        },
    )
    return _change_info(session, row, model.name)


def _pending(session: Session, model: RegisteredModel, change_id: int) -> PolicyChange:
    row = session.get(PolicyChange, change_id)
    if row is None or row.model_id != model.id:
        raise NotFound(
            f"model {model.name!r} has no policy change {change_id}; "
            f"see 'modelyard models policy list {model.name}'"
        )
    if row.status != "pending":
        raise Conflict(f"policy change {change_id} of {model.name!r} is {row.status} already")
    return row


def sign_off_change(
    session: Session,
    actor: Actor,
    model: RegisteredModel,
    change_id: int,
    role: str | None,
    comment: str,
    *,
    detach: bool,
) -> PolicyChangeInfo:
    row = _pending(session, model, change_id)
    if row.requested_by == actor.name:
        raise PermissionDenied(
            f"four-eyes: {actor.name} requested policy change {change_id} and cannot sign it off",
            details={"rule": FOUR_EYES, "requested_by": row.requested_by},
        )
    if row.before != _state(model):
        raise Conflict(
            f"the policy of {model.name!r} changed after change {change_id} was requested; "
            "reject it and request again"
        )
    signed = {
        s.role: s.user
        for s in session.scalars(
            select(PolicyChangeSignOff).where(PolicyChangeSignOff.change_id == row.id)
        )
    }
    pending_roles = [r for r in row.required_roles if r not in signed and r in actor.roles]
    role = role or (pending_roles[0] if pending_roles else None)
    if role is None or role not in SIGN_OFF_ROLES:
        raise PermissionDenied(
            f"{actor.name} holds none of the roles change {change_id} still needs "
            f"({', '.join(r for r in row.required_roles if r not in signed) or 'none'})"
        )
    actor.require(f"approval.{role}", f"sign off a policy change as {role}")
    if role not in row.required_roles:
        raise InvalidInput(
            f"policy change {change_id} needs sign-off by {' and '.join(row.required_roles)}; "
            f"not by a {role}"
        )
    if role in signed:
        raise Conflict(f"policy change {change_id} is signed off as {role} already")
    session.add(
        PolicyChangeSignOff(
            change_id=row.id, role=role, user=actor.name, comment=comment, created_at=now_ms()
        )
    )
    try:
        session.flush()
    except sa_exc.IntegrityError as exc:
        raise PermissionDenied(
            f"four-eyes: {actor.name} already signed off policy change {change_id}",
            details={"rule": FOUR_EYES},
        ) from exc
    signed[role] = actor.name
    audit.append(
        session,
        actor.name,
        "policy.sign_off",
        f"model/{model.name}",
        {"change": row.id, "role": role, "comment": comment},
    )
    if all(r in signed for r in row.required_roles):
        new = Policy.for_model(row.after["risk_tier"], row.after["policy"])
        detached = recheck_protected_aliases(session, actor.name, model, new, detach=detach)
        model.risk_tier, model.policy = row.after["risk_tier"], dict(row.after["policy"])
        model.updated_at = now_ms()
        row.status, row.decided_by, row.decided_at = "applied", actor.name, now_ms()
        audit.append(
            session,
            actor.name,
            "model.update",
            f"model/{model.name}",
            {
                "before": row.before,
                "after": row.after,
                "change": row.id,
                "requested_by": row.requested_by,
                "signed_off_by": signed,
                "detached": detached,
            },
        )
    session.flush()
    return _change_info(session, row, model.name)


def reject_change(
    session: Session, actor: Actor, model: RegisteredModel, change_id: int, comment: str
) -> PolicyChangeInfo:
    """Close a pending request: its requester withdraws it, or a would-be signer refuses it."""
    if not comment or not comment.strip():
        raise InvalidInput("a rejection needs a comment saying why")
    row = _pending(session, model, change_id)
    if actor.name != row.requested_by and not any(
        actor.can(f"approval.{r}") for r in row.required_roles
    ):
        raise PermissionDenied(
            f"{actor.name} may not reject policy change {change_id}: only its requester or a "
            f"{' or '.join(row.required_roles)} may"
        )
    row.status, row.decided_by, row.decided_at = "rejected", actor.name, now_ms()
    audit.append(
        session,
        actor.name,
        "policy.reject",
        f"model/{model.name}",
        {"change": row.id, "comment": comment},
    )
    return _change_info(session, row, model.name)


def list_changes(
    session: Session, model: RegisteredModel, status: str | None
) -> list[PolicyChangeInfo]:
    query = select(PolicyChange).where(PolicyChange.model_id == model.id)
    if status is not None:
        if status not in ("pending", "applied", "rejected"):
            raise InvalidInput(f"status must be one of pending, applied, rejected; got {status!r}")
        query = query.where(PolicyChange.status == status)
    rows = session.scalars(query.order_by(PolicyChange.id.desc())).all()
    return [_change_info(session, r, model.name) for r in rows]
