"""The audit trail: an append-only hash chain written in the same transaction as each change.

Each event's ``hash`` is SHA-256 over its sequence number, time, actor,
action, subject, canonical JSON payload, and the previous event's hash. An
UPDATE of any stored event breaks its own hash; a DELETE leaves a gap in the
sequence and breaks the next event's ``prev_hash``; an INSERT out of order
breaks a ``prev_hash`` link. ``verify`` walks the chain and names the first
broken event. Two things the chain alone cannot show: deleting the *last*
events (the shorter chain is still a valid chain) and a wholesale rewrite by
someone who can write the table and recompute every hash. Both are caught by
a checkpoint of the head kept outside the database (``checkpoint.py``):
``verify`` against it reports a chain shorter than the checkpoint, or a
different event where the checkpoint names one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, func, insert, select, text
from sqlalchemy.orm import Session

from modelyard._util.clock import now_ms
from modelyard.errors import InvalidInput
from modelyard.registry.roles import Actor
from modelyard.store.engine import AUDIT_HEAD_KEY
from modelyard.store.models import AuditEvent

GENESIS = "0" * 64
# The largest detail a caller may record: the trail only grows, and verify walks it all.
MAX_DETAIL_BYTES = 16 * 1024
# Events that pipelines record through ``yard.audit.record`` (locally or over the
# REST API); every other action is written by the registry inside its own change.
RECORDABLE_ACTIONS = frozenset(
    {"approval.request", "gate.pass", "gate.fail", "promotion.decide", "pipeline.trigger"}
)
_PG_AUDIT_LOCK = 0x617564697400  # "audit": serialises appends across PostgreSQL sessions


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: int
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    events: int
    head: str
    first_bad_seq: int | None = None
    problem: str | None = None
    # The checkpoint the chain was checked against (its seq), when one was given.
    checkpoint_seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head": self.head,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "checkpoint_seq": self.checkpoint_seq,
        }


def event_hash(
    seq: int, time: int, actor: str, action: str, subject: str, payload: Any, prev_hash: str
) -> str:
    body = orjson.dumps(
        [seq, time, actor, action, subject, payload, prev_hash],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY,
    )
    return hashlib.sha256(body).hexdigest()


def _canonical(payload: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON so the hashed payload is exactly what the database returns.
    return orjson.loads(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str))


_LAST = select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
_INSERT = insert(AuditEvent)


def append(
    conn: Session | Connection, actor: str, action: str, subject: str, payload: dict[str, Any]
) -> int:
    """Append one event inside the caller's transaction (Session or Connection); returns its seq."""
    return append_record(conn, actor, action, subject, payload).seq


def append_record(
    conn: Session | Connection, actor: str, action: str, subject: str, payload: dict[str, Any]
) -> AuditRecord:
    """:func:`append`, returning the whole event as stored."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = conn.execute(_LAST).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    time = now_ms()
    body = _canonical(payload)
    digest = event_hash(seq, time, actor, action, subject, body, prev)
    conn.execute(
        _INSERT,
        {
            "seq": seq,
            "time": time,
            "actor": actor,
            "action": action,
            "subject": subject,
            "payload": body,
            "prev_hash": prev,
            "hash": digest,
        },
    )
    # Handed to the store's after-commit callbacks (the audit checkpoint).
    conn.info[AUDIT_HEAD_KEY] = (seq, digest)
    return AuditRecord(seq, time, actor, action, subject, body, prev, digest)


def record_pipeline_event(
    conn: Session | Connection, actor: Actor, action: str, subject: str, detail: dict[str, Any]
) -> AuditRecord:
    """Append an event a pipeline reports (see ``RECORDABLE_ACTIONS``), checked first.

    The actor needs ``run.write``; registry events are refused (the registry
    writes them with the change itself); the detail is capped, because the
    trail only grows and ``verify`` walks all of it.
    """
    if action not in RECORDABLE_ACTIONS:
        raise InvalidInput(
            f"action {action!r} cannot be recorded by callers; "
            f"recordable: {', '.join(sorted(RECORDABLE_ACTIONS))}"
        )
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 512:
        raise InvalidInput("subject must be a non-empty string of at most 512 characters")
    size = len(orjson.dumps(detail, default=str))
    if size > MAX_DETAIL_BYTES:
        raise InvalidInput(
            f"detail is {size:,} bytes as JSON; an audit event's detail may be at most "
            f"{MAX_DETAIL_BYTES:,} (keep figures here, attach reports to the run)"
        )
    actor.require("run.write", "record pipeline events in the audit trail")
    return append_record(conn, actor.name, action, subject, detail)


def _record(row: AuditEvent) -> AuditRecord:
    return AuditRecord(
        row.seq, row.time, row.actor, row.action, row.subject, row.payload, row.prev_hash, row.hash
    )


def events(
    session: Session,
    *,
    subject: str | None = None,
    action: str | None = None,
    after_seq: int = 0,
    limit: int = 100,
    newest_first: bool = True,
) -> list[AuditRecord]:
    query = select(AuditEvent).where(AuditEvent.seq > after_seq)
    if subject:
        # "model/NAME" covers the model, its versions (model/NAME/3) and its
        # aliases (model/NAME@champion); never another model (model/NAME-2).
        query = query.where(
            (AuditEvent.subject == subject)
            | AuditEvent.subject.startswith(f"{subject}/", autoescape=True)
            | AuditEvent.subject.startswith(f"{subject}@", autoescape=True)
        )
    if action:
        query = query.where(AuditEvent.action == action)
    order = AuditEvent.seq.desc() if newest_first else AuditEvent.seq.asc()
    return [_record(row) for row in session.scalars(query.order_by(order).limit(limit))]


def _walk(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify(session: Session) -> VerifyResult:
    """Walk the chain from the first event; report the first one that does not hold."""
    expected_seq, prev, count = 1, GENESIS, 0
    for row in _walk(session):
        count += 1
        if row.seq != expected_seq:
            return VerifyResult(
                False,
                count,
                prev,
                expected_seq,
                f"event {expected_seq} is missing (deleted?): the chain jumps to {row.seq}",
            )
        if row.prev_hash != prev:
            return VerifyResult(
                False,
                count,
                prev,
                row.seq,
                f"event {row.seq} does not link to event {row.seq - 1} "
                "(inserted out of order, or its predecessor was replaced)",
            )
        actual = event_hash(
            row.seq, row.time, row.actor, row.action, row.subject, row.payload, row.prev_hash
        )
        if actual != row.hash:
            return VerifyResult(
                False, count, prev, row.seq, f"event {row.seq} was edited: its hash does not match"
            )
        prev, expected_seq = row.hash, expected_seq + 1
    return VerifyResult(True, count, prev)


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def head(session: Session | Connection) -> tuple[int, str] | None:
    """(seq, hash) of the last event, or None for an empty trail."""
    row = session.execute(_LAST).first()
    return (int(row[0]), str(row[1])) if row else None


def event_at(session: Session, seq: int) -> AuditRecord | None:
    row = session.get(AuditEvent, seq)
    return _record(row) if row is not None else None
