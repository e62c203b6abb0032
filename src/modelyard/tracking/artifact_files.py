"""A run's artifacts as a flat list of files, and safe reads of one file by its path.

A run artifact is a file or a directory (a manifest of files). Browsing needs
one list of files (``model/config.json``, ``report.html``) and reading one of
them by that path. The path is looked up in that list, never joined onto a
filesystem path, so ``../`` or an absolute path cannot reach anything outside
the run's artifacts; such paths are refused as invalid input before the look-up
so that an attempt is told what was wrong. Every read goes through the artifact
store, which checks the content hash.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from modelyard.errors import InvalidInput, NotFound

__all__ = ["ArtifactFile", "check_path", "find", "list_files", "preview"]

PREVIEW_BYTES = 256 * 1024  # text shown in the page, at most
PARQUET_PREVIEW_BYTES = 64 * 1024 * 1024  # Parquet is read whole (footer at the end)
PARQUET_ROWS = 20
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
}
TEXT_SUFFIXES = {
    ".txt", ".log", ".csv", ".tsv", ".md", ".yaml", ".yml", ".toml", ".py", ".cfg", ".ini",
    ".html", ".xml", ".sql", ".json", ".jsonl",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ArtifactFile:
    """One file of a run's artifacts: its path in the run, its blob and size."""

    path: str
    digest: str
    size: int

    @property
    def kind(self) -> str:
        """How the UI previews it: ``json``, ``text``, ``image``, ``parquet`` or ``binary``."""
        suffix = PurePosixPath(self.path).suffix.lower()
        if suffix == ".json":
            return "json"
        if suffix in IMAGE_TYPES:
            return "image"
        if suffix == ".parquet":
            return "parquet"
        if suffix in TEXT_SUFFIXES:
            return "text"
        return "binary"

    @property
    def media_type(self) -> str:
        suffix = PurePosixPath(self.path).suffix.lower()
        if suffix in IMAGE_TYPES:
            return IMAGE_TYPES[suffix]
        if self.kind in ("json", "text"):
            return "text/plain; charset=utf-8"  # never rendered as HTML from the platform origin
        return "application/octet-stream"


def check_path(path: str) -> str:
    """Refuse paths that could only be an attempt to leave the run's artifacts."""
    if not isinstance(path, str) or not path or len(path) > 1024:
        raise InvalidInput("path: give an artifact path of 1 to 1024 characters")
    if "\x00" in path or "\\" in path:
        raise InvalidInput(f"path: {path!r} contains a NUL or a backslash")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        raise InvalidInput(f"path: {path!r} is absolute; give a path relative to the run")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(f"path: {path!r} has an empty, '.' or '..' segment")
    return path


def list_files(artifacts: Any, run: Any) -> list[ArtifactFile]:
    """Every file of ``run``'s artifacts; a directory artifact lists its manifest's files."""
    files = []
    for record in run.artifacts:
        if not record.is_dir:
            files.append(ArtifactFile(record.path, record.digest, record.size))
            continue
        manifest = artifacts.read_manifest(record.digest)["files"]
        for relpath, entry in sorted(manifest.items()):
            files.append(ArtifactFile(f"{record.path}/{relpath}", entry["digest"], entry["size"]))
    return files


def find(artifacts: Any, run: Any, path: str) -> ArtifactFile:
    """The file at ``path`` among ``run``'s artifacts (NotFound names the ones there are)."""
    check_path(path)
    files = list_files(artifacts, run)
    for item in files:
        if item.path == path:
            return item
    names = [f.path for f in files[:20]]
    raise NotFound(f"run {run.id[:8]} has no artifact file {path!r} (files: {names or 'none'})")


def preview(artifacts: Any, item: ArtifactFile) -> dict[str, Any]:
    """What the UI shows of a file: text (clipped), pretty JSON, a Parquet head, or nothing.

    Returns ``{"kind", "text"?, "columns"?, "rows"?, "truncated"?, "note"?}``. Bytes are
    read verified (``get_bytes``/``open``), so a corrupt blob raises IntegrityError.
    """
    kind = item.kind
    if kind in ("json", "text"):
        with artifacts.open(item.digest) as stream:
            raw = stream.read(PREVIEW_BYTES + 1)
            # To EOF, so that the hash is checked before any of it is shown as good.
            while stream.read(1024 * 1024):
                pass
        truncated = len(raw) > PREVIEW_BYTES
        text = raw[:PREVIEW_BYTES].decode("utf-8", "replace")
        if kind == "json" and not truncated:
            try:
                text = json.dumps(json.loads(text), indent=2, sort_keys=True)
            except ValueError as exc:
                return {"kind": "text", "text": text, "note": f"not valid JSON: {exc}"}
        return {"kind": kind, "text": text, "truncated": truncated}
    if kind == "parquet":
        if item.size > PARQUET_PREVIEW_BYTES:
            return {"kind": "binary", "note": "too large to preview; download it"}
        import pyarrow.parquet as pq

        table = pq.ParquetFile(io.BytesIO(artifacts.get_bytes(item.digest)))
        head = next(table.iter_batches(batch_size=PARQUET_ROWS), None)
        columns = list(table.schema_arrow.names)
        rows = [list(r.values()) for r in head.to_pylist()] if head is not None else []
        return {
            "kind": "parquet",
            "columns": columns,
            "rows": rows,
            "total_rows": table.metadata.num_rows,
        }
    if kind == "image":
        return {"kind": "image"}
    return {"kind": "binary", "note": "no preview for this type; download it"}
