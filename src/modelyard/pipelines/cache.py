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

import contextlib
import hashlib
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
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


def step_cache(yard: Any) -> StepCache | FileStepCache:
    """``yard``'s step cache: in its own store, or in a file in its home when remote.

    A remote Yard (a CI job talking to the platform server) keeps its cache
    beside it, in ``<home>/pipeline-cache.db``: the entries are references to
    the server's runs, datasets and versions, checked on every hit, and a
    throwaway CI home simply starts cold.
    """
    store = getattr(yard, "store", None)
    if store is not None:
        return StepCache(store)
    return FileStepCache(Path(yard.home) / "pipeline-cache.db")


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


class FileStepCache:
    """The step cache of a remote Yard: one SQLite file, no link to a runs table.

    The metadata store's ``pipeline_step_cache`` has a foreign key to its
    runs; a remote Yard's runs live on the server, so its cache is this plain
    table (stdlib ``sqlite3``: one table, no migrations to carry).
    """

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS step_cache (cache_key TEXT PRIMARY KEY, pipeline TEXT, "
        "step TEXT, run_id TEXT, outputs TEXT NOT NULL, created_at INTEGER NOT NULL)"
    )

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        with self._connect() as conn:
            conn.execute(self._SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self._path, timeout=60, isolation_level=None)

    def get(self, key: str) -> CacheEntry | None:
        with contextlib.closing(self._connect()) as conn:
            row = conn.execute(
                "SELECT cache_key, pipeline, step, run_id, outputs, created_at "
                "FROM step_cache WHERE cache_key = ?",
                (key,),
            ).fetchone()
        return None if row is None else CacheEntry(*row[:4], json.loads(row[4]), row[5])

    def put(
        self, key: str, *, pipeline: str, step: str, run_id: str | None, outputs: dict[str, Any]
    ) -> None:
        with contextlib.closing(self._connect()) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO step_cache VALUES (?, ?, ?, ?, ?, ?)",
                (key, pipeline, step, run_id, json.dumps(outputs), now_ms()),
            )

    def delete(self, key: str) -> None:
        with contextlib.closing(self._connect()) as conn:
            conn.execute("DELETE FROM step_cache WHERE cache_key = ?", (key,))

    def entries(self, pipeline: str | None = None, limit: int = 1000) -> list[CacheEntry]:
        query = "SELECT cache_key, pipeline, step, run_id, outputs, created_at FROM step_cache"
        args: tuple[Any, ...] = ()
        if pipeline:
            query, args = query + " WHERE pipeline = ?", (pipeline,)
        with contextlib.closing(self._connect()) as conn:
            rows = conn.execute(query + " ORDER BY created_at DESC LIMIT ?", (*args, limit))
            return [CacheEntry(*r[:4], json.loads(r[4]), r[5]) for r in rows.fetchall()]
