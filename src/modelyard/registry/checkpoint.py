"""Checkpoints of the audit chain's head, kept outside the metadata database.

The hash chain shows an edited, inserted or deleted-in-the-middle event, but
not deleted *tail* events: a shorter chain is still a valid chain. A
checkpoint records the head (seq and hash) somewhere the database's writers
cannot reach; ``verify`` against it then reports a chain that ends before the
checkpoint, or that holds a different event where the checkpoint names one.

The sink is a path or fsspec URL (``MODELYARD_AUDIT_CHECKPOINT``):

* ``/var/lib/modelyard/audit-head.json`` or ``s3://audit/yard/head.json``: one
  object, replaced by each newer head (never by an older one);
* a URL ending in ``/`` (``gs://audit-worm/yard/``): a prefix of write-once
  objects named by sequence number, for buckets with a retention policy
  (object lock), where an object cannot be overwritten or deleted. ``read``
  takes the highest.

A configured sink is written after every commit that appended audit events
(``MetadataStore.on_audit_commit``) and by ``modelyard audit checkpoint``.
A checkpoint may lag the chain (a crash between commit and write): it is a
lower bound, and a lagging one is still sound.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fsspec
import orjson
from fsspec.implementations.local import LocalFileSystem

from modelyard._util.clock import now_ms
from modelyard.errors import BackendUnavailable, InvalidInput, NotFound
from modelyard.registry.audit import AuditRecord, VerifyResult

__all__ = ["Checkpoint", "check", "read", "write"]

_log = logging.getLogger("modelyard.audit")
_NAME_DIGITS = 12


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    time: int

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "time": self.time}


def _fs(url: str) -> tuple[Any, str]:
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("audit checkpoint: give a file path or an fsspec URL")
    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        raise BackendUnavailable(f"audit checkpoint {url!r}: {exc}") from exc


def _parse(raw: bytes, where: str) -> Checkpoint:
    try:
        data = orjson.loads(raw)
        cp = Checkpoint(int(data["seq"]), str(data["hash"]), int(data.get("time", 0)))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"audit checkpoint {where} is not a checkpoint: {exc}") from exc
    if cp.seq < 1 or len(cp.hash) != 64:
        raise InvalidInput(f"audit checkpoint {where} is not a checkpoint: bad seq or hash")
    return cp


def read(url: str) -> Checkpoint:
    """The checkpoint at ``url`` (a file, or the highest in a prefix ending in ``/``)."""
    fs, path = _fs(url)
    if url.endswith("/"):
        try:
            names = sorted(p for p in fs.ls(path, detail=False) if p.endswith(".json"))
        except FileNotFoundError:
            names = []
        if not names:
            raise NotFound(f"no audit checkpoint under {url}")
        path = names[-1]
    try:
        with fs.open(path, "rb") as handle:
            return _parse(handle.read(), url)
    except FileNotFoundError as exc:
        raise NotFound(f"no audit checkpoint at {url}") from exc


def write(url: str, seq: int, digest: str) -> Checkpoint:
    """Record head (``seq``, ``digest``) at ``url``; an older head never replaces a newer one."""
    cp = Checkpoint(seq, digest, now_ms())
    body = orjson.dumps(cp.to_dict())
    fs, path = _fs(url)
    if url.endswith("/"):
        target = f"{path.rstrip('/')}/{seq:0{_NAME_DIGITS}d}.json"
        if not fs.exists(target):  # write-once: a retention bucket refuses overwrites anyway
            fs.makedirs(path, exist_ok=True)
            with fs.open(target, "wb") as handle:
                handle.write(body)
        return cp
    try:
        current = read(url)
    except NotFound:
        current = None
    if current is not None and current.seq >= seq:
        return current
    if isinstance(fs, LocalFileSystem):
        # Atomic on a local disk: a reader sees the old head or the new one, never half.
        folder = os.path.dirname(os.path.abspath(path)) or "."
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".audit-head-", dir=folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.replace(tmp, path)
    else:
        with fs.open(path, "wb") as handle:  # an object PUT is atomic on S3 and GCS
            handle.write(body)
    return cp


def writer(url: str) -> Callable[[int, str], None]:
    """An after-commit callback that checkpoints each new head to ``url``."""

    def _write(seq: int, digest: str) -> None:
        try:
            write(url, seq, digest)
        except Exception:
            _log.exception(
                "could not write the audit checkpoint to %s after event %d; the change is "
                "committed. Run 'modelyard audit checkpoint' once the sink is back",
                url,
                seq,
            )

    return _write


def check(
    result: VerifyResult,
    checkpoint: Checkpoint,
    event_at: Callable[[int], AuditRecord | None],
    where: str,
) -> VerifyResult:
    """``result`` of a chain walk, checked against ``checkpoint`` read from ``where``."""
    if not result.ok:
        return VerifyResult(
            False,
            result.events,
            result.head,
            result.first_bad_seq,
            result.problem,
            checkpoint.seq,
        )
    if result.events < checkpoint.seq:
        lost = checkpoint.seq - result.events
        return VerifyResult(
            False,
            result.events,
            result.head,
            result.events + 1,
            f"the chain ends at event {result.events} but the checkpoint {where} records "
            f"event {checkpoint.seq}: {lost} event(s) at the tail were deleted",
            checkpoint.seq,
        )
    event = event_at(checkpoint.seq)
    if event is None or event.hash != checkpoint.hash:
        return VerifyResult(
            False,
            result.events,
            result.head,
            checkpoint.seq,
            f"event {checkpoint.seq} is not the one the checkpoint {where} records: "
            "the chain was rewritten up to there",
            checkpoint.seq,
        )
    return VerifyResult(True, result.events, result.head, None, None, checkpoint.seq)
