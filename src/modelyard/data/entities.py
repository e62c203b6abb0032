"""What the dataset service returns: plain frozen records, never ORM rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class DatasetVersionInfo:
    """One immutable version of a dataset."""

    id: int
    name: str
    version: int
    digest: str
    uris: tuple[str, ...]
    stored_digest: str | None  # the Parquet copy in the artifact store, if kept
    format: str
    arrow_schema: str  # serialized Arrow schema (IPC, hex) — see ``schema``
    num_rows: int
    num_bytes: int | None
    profile: dict[str, Any]
    parents: tuple[str, ...]  # "name/version" of each parent
    producing_run_id: str | None
    created_by: str
    created_at: int
    description: str

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def short_digest(self) -> str:
        return self.digest.removeprefix("sha256:")[:12]

    @property
    def schema(self) -> pa.Schema:
        return pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(self.arrow_schema)))

    def columns(self) -> list[tuple[str, str]]:
        return [(f.name, str(f.type)) for f in self.schema]

    def to_dict(self, *, with_profile: bool = True) -> dict[str, Any]:
        body = {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "ref": self.ref,
            "digest": self.digest,
            "short_digest": self.short_digest,
            "uris": list(self.uris),
            "stored_digest": self.stored_digest,
            "format": self.format,
            "columns": [{"name": n, "type": t} for n, t in self.columns()],
            "num_rows": self.num_rows,
            "num_bytes": self.num_bytes,
            "parents": list(self.parents),
            "producing_run_id": self.producing_run_id,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "description": self.description,
        }
        if with_profile:
            body["profile"] = self.profile
        return body


@dataclass(frozen=True)
class DatasetSummary:
    name: str
    description: str
    latest_version: int
    versions: int
    latest_rows: int
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "latest_version": self.latest_version,
            "versions": self.versions,
            "latest_rows": self.latest_rows,
            "updated_at": self.updated_at,
        }
