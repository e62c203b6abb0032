"""The step cache: outputs keyed by the hash of a step's code, inputs and parameters.

    cache key = sha256(canonical JSON of {
        "format": 1,
        "step":   "<module>.<qualname>",
        "code":   sha256(normalised source: no decorators, docstring, comments, formatting),
        "inputs": {argument: identity of its value},
    })

An argument's identity is its encoded form (``values.py``): a dataset version
is its name, version and content digest; a model version its reference and
artifact digest; a run its id; a plain value its JSON; any other object the
sha256 of its pickle. Pipeline parameters are arguments like any other, so a
changed parameter changes the keys of the steps that read it, their outputs
change, and so do the keys of the steps downstream — exactly those re-run.

Entries live in the ``pipeline_step_cache`` table (migration 0004). The
outputs are references, never the data, so an entry whose dataset, model
version or blob has gone is a miss, not an error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from modelyard._util.clock import now_ms
from modelyard._util.dialect import upsert_insert
from modelyard.pipelines.values import canonical_json
from modelyard.store import MetadataStore
from modelyard.store.models import StepCacheEntry

__all__ = ["CacheEntry", "StepCache", "cache_key"]

CACHE_FORMAT = 1


def cache_key(qualname: str, code_digest: str, inputs: dict[str, Any]) -> str:
    """The cache key of one step execution (see the module docstring)."""
    body = {"format": CACHE_FORMAT, "step": qualname, "code": code_digest, "inputs": inputs}
    return hashlib.sha256(canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    key: str
    pipeline: str
    step: str
    run_id: str | None
    outputs: dict[str, Any]
    created_at: int


class StepCache:
    """Reads and writes ``pipeline_step_cache`` rows."""

    def __init__(self, store: MetadataStore) -> None:
        self._store = store

    def get(self, key: str) -> CacheEntry | None:
        with self._store.read() as session:
            row = session.get(StepCacheEntry, key)
            if row is None:
                return None
            return CacheEntry(
                row.cache_key, row.pipeline, row.step, row.run_id, dict(row.outputs), row.created_at
            )

    def put(
        self, key: str, *, pipeline: str, step: str, run_id: str | None, outputs: dict[str, Any]
    ) -> None:
        """Record (or replace) the outputs of a successful execution."""
        values = {
            "cache_key": key,
            "pipeline": pipeline,
            "step": step,
            "run_id": run_id,
            "outputs": outputs,
            "created_at": now_ms(),
        }
        with self._store.write_connection() as conn:
            stmt = upsert_insert(conn, StepCacheEntry).values(**values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["cache_key"],
                    set_={k: v for k, v in values.items() if k != "cache_key"},
                )
            )

    def delete(self, key: str) -> None:
        with self._store.write() as session:
            row = session.get(StepCacheEntry, key)
            if row is not None:
                session.delete(row)

    def entries(self, pipeline: str | None = None, limit: int = 1000) -> list[CacheEntry]:
        query = select(StepCacheEntry).order_by(StepCacheEntry.created_at.desc()).limit(limit)
        if pipeline:
            query = query.where(StepCacheEntry.pipeline == pipeline)
        with self._store.read() as session:
            return [
                CacheEntry(r.cache_key, r.pipeline, r.step, r.run_id, dict(r.outputs), r.created_at)
                for r in session.scalars(query)
            ]
