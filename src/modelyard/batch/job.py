"""A batch job: its input listing, its deterministic parts, its identity and its manifest.

The input (Parquet or CSV files, a glob or a folder, on any fsspec URL) is
listed once and cut into *parts*: runs of consecutive Parquet row groups of
at most ``part_rows`` rows — a row group larger than ``part_rows`` (a 500k-row
file written as one row group, say) is cut into row ranges of ``part_rows``
— or one whole CSV file. A part's identity depends
only on the listing (paths, sizes, versions) and ``part_rows``, so the same
command cuts the same parts after a restart.

The job id hashes what decides the output — model digest and form, input
listing, output location, id/passthrough columns and the part size — so
running the same command again names the same job and resumes it, while
runtime knobs (engine, workers, batch rows) may change between attempts.

The manifest ``<output>/_modelyard_job.json`` describes the job and records
the parts completed; each part also leaves a small marker under
``<output>/_modelyard_parts/`` written by whichever process finished it, so
no completed part is forgotten even when the driver dies before updating the
manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from modelyard.batch._fs import OutputDir, filesystem
from modelyard.batch.defaults import DEFAULT_PART_ROWS
from modelyard.errors import BackendUnavailable, Conflict, InvalidInput

__all__ = [
    "MANIFEST_FORMAT",
    "BatchJobSpec",
    "InputFile",
    "InputListing",
    "JobManifest",
    "Part",
    "PartResult",
    "list_input",
    "plan_parts",
]

MANIFEST_FORMAT = "modelyard.batch-job/v1"
_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}
_VERSION_KEYS = ("ETag", "etag", "md5Hash", "generation", "mtime", "LastModified", "updated")


@dataclass(frozen=True)
class InputFile:
    """One input file as listed when the job was planned.

    Attributes:
        path: The path as the filesystem spells it (no protocol).
        url: The full URL, for messages and records.
        size: Bytes.
        version: ETag, generation or modification time: a rewritten file is a new job.
        row_groups: Rows per Parquet row group; empty for CSV.
        columns: The file's column names (not part of the job's identity).
    """

    path: str
    url: str
    size: int
    version: str
    row_groups: tuple[int, ...] = ()
    columns: tuple[str, ...] = field(default=(), compare=False)

    @property
    def rows(self) -> int | None:
        return sum(self.row_groups) if self.row_groups else None


@dataclass(frozen=True)
class InputListing:
    uri: str
    format: str  # "parquet" or "csv"
    protocol: str
    files: tuple[InputFile, ...]
    schema: pa.Schema  # unified over the files; CSV: the column types every part reads with

    @property
    def rows(self) -> int | None:
        counts = [f.rows for f in self.files]
        return None if any(c is None for c in counts) else sum(c or 0 for c in counts)

    def missing(self, columns: Iterable[str]) -> list[tuple[str, str]]:
        """(column, file) for each wanted column that some files have and this one lacks.

        A column no file has is reported once, as missing from the input, by the caller.
        """
        wanted = list(dict.fromkeys(columns))
        seen = {c for item in self.files for c in item.columns}
        return [
            (c, item.url)
            for item in self.files
            for c in wanted
            if c in seen and c not in item.columns
        ]

    def with_schema(self, schema: pa.Schema, files: tuple[InputFile, ...]) -> InputListing:
        return InputListing(self.uri, self.format, self.protocol, files, schema)


@dataclass(frozen=True)
class Part:
    """A unit of work: row groups ``[start, stop)`` of one Parquet file, or one CSV file.

    ``skip`` > 0 or a ``rows`` below the groups' total marks a row range inside
    the groups: rows ``[skip, skip + rows)`` counted from the first row of
    group ``start`` (how a row group larger than ``part_rows`` is split).
    """

    index: int
    file: int
    start: int = 0
    stop: int = 0
    rows: int | None = None
    skip: int = 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "file": self.file,
            "row_groups": [self.start, self.stop] if self.stop else None,
            "rows": self.rows,
        }
        if self.skip:
            data["skip"] = self.skip
        return data


@dataclass(frozen=True)
class PartResult:
    """What scoring one part produced; written as the part's completion marker.

    ``warnings`` counts scored rows with an out-of-domain value per
    ``"column: kind"``; ``reject_reasons`` counts rejected rows per
    ``"column: problem"``. Both travel as one JSON string, ``checks``, so that
    engines that ship results as typed rows (Dask, Spark) carry them unchanged.
    """

    index: int
    rows_in: int
    rows_out: int
    rows_rejected: int
    seconds: float
    output: str
    rejects: str | None = None
    peak_rss_mb: float | None = None
    cpu_seconds: float | None = None
    warnings: Mapping[str, int] = field(default_factory=dict)
    reject_reasons: Mapping[str, int] = field(default_factory=dict)
    scorer: str | None = None  # what predicted: "forest-compiled", "onnx", "native", ...
    scorer_reason: str | None = None  # "compiled", or why the pipeline was not compiled
    evaluator: str | None = None  # what evaluated a compiled scorer's trees, and from when

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "rows_rejected": self.rows_rejected,
            "seconds": round(self.seconds, 4),
            "output": self.output,
            "rejects": self.rejects,
            "peak_rss_mb": self.peak_rss_mb,
            "cpu_seconds": self.cpu_seconds,
            "checks": json.dumps(
                {
                    "warnings": dict(self.warnings),
                    "rejects": dict(self.reject_reasons),
                    "scorer": self.scorer,
                    "scorer_reason": self.scorer_reason,
                    "evaluator": self.evaluator,
                },
                sort_keys=True,
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PartResult:
        checks = data.get("checks") or {}
        if isinstance(checks, str):
            checks = json.loads(checks)
        return cls(
            index=int(data["index"]),
            rows_in=int(data["rows_in"]),
            rows_out=int(data["rows_out"]),
            rows_rejected=int(data["rows_rejected"]),
            seconds=float(data.get("seconds") or 0.0),
            output=str(data["output"]),
            rejects=data.get("rejects"),
            peak_rss_mb=data.get("peak_rss_mb"),
            cpu_seconds=data.get("cpu_seconds"),
            warnings=dict(checks.get("warnings") or {}),
            reject_reasons=dict(checks.get("rejects") or {}),
            scorer=checks.get("scorer"),
            scorer_reason=checks.get("scorer_reason"),
            evaluator=checks.get("evaluator"),
        )


@dataclass(frozen=True)
class BatchJobSpec:
    """Everything that decides a job's output; its hash is the job id."""

    model_name: str
    model_version: int
    model_digest: str
    form: str  # "native" or "onnx"
    input: InputListing
    output: str  # normalised output URL
    id_column: str | None = None
    passthrough: tuple[str, ...] = ()
    part_rows: int = DEFAULT_PART_ROWS
    parts: tuple[Part, ...] = field(default=(), compare=False)
    explain: int = 0
    reason_table: str | None = None  # JSON; part of the output when explaining

    @property
    def job_id(self) -> str:
        identity = {
            "model_digest": self.model_digest,
            "form": self.form,
            "format": self.input.format,
            "files": [[f.url, f.size, f.version] for f in self.input.files],
            "output": self.output,
            "id_column": self.id_column,
            "passthrough": list(self.passthrough),
            "part_rows": self.part_rows,
        }
        if self.explain:  # jobs that do not explain keep the ids they always had
            identity["explain"] = self.explain
            identity["reason_table"] = self.reason_table
        body = json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(body).hexdigest()[:32]

    @property
    def model_ref(self) -> str:
        return f"{self.model_name}/{self.model_version}"


# ---------------------------------------------------------------- listing


def format_of(path: str) -> str | None:
    lowered = path.lower().removesuffix(".gz")
    return next((fmt for suffix, fmt in _FORMATS.items() if lowered.endswith(suffix)), None)


def list_input(
    source: str | Path | Sequence[str | Path],
    *,
    storage_options: Mapping[str, Any] | None = None,
    format: str | None = None,
) -> tuple[Any, InputListing]:
    """List the input files and read their footers (Parquet) or headers (CSV).

    Returns the filesystem and the listing; nothing is written anywhere.

    Raises:
        InvalidInput: no file matches, formats are mixed or unknown, a file
            cannot be read as its format, or the files' schemas are incompatible.
    """
    sources = [str(s) for s in source] if isinstance(source, list | tuple) else [str(source)]
    if not sources or not all(s.strip() for s in sources):
        raise InvalidInput("--input must name a Parquet or CSV file, folder, glob or URL")
    fs, protocol = filesystem(sources[0], storage_options)
    paths: list[str] = []
    for item in sources:
        paths.extend(_expand(fs, item, explicit_format=format is not None))
    paths = sorted(dict.fromkeys(paths))
    formats = {format} if format else {format_of(p) for p in paths}
    if None in formats:
        unknown = next(p for p in paths if format_of(p) is None)
        raise InvalidInput(f"input {unknown!r}: unknown format; expected .parquet, .pq or .csv")
    if len(formats) > 1:
        raise InvalidInput(f"input {sources[0]!r} mixes formats {sorted(formats)}; give one kind")
    fmt = str(formats.pop())
    if fmt not in ("parquet", "csv"):
        raise InvalidInput(f"The input format must be 'parquet' or 'csv'. Got {fmt!r} instead.")
    infos = _stat_all(fs, paths)
    first = sources[0]
    if protocol == "file" and "://" not in first:
        first = os.path.abspath(os.path.expanduser(first))
    uri = first if len(sources) == 1 else f"{first} (+{len(sources) - 1} more)"
    if fmt == "parquet":
        files, schemas = _parquet_footers(fs, protocol, paths, infos)
        schema = _unify(schemas, paths)
    else:
        files = tuple(
            InputFile(p, _url(protocol, p), int(i.get("size") or 0), _version(i))
            for p, i in zip(paths, infos, strict=True)
        )
        schema = pa.schema([])  # decided by the scoring plan (signature columns read as text)
    return fs, InputListing(uri=uri, format=fmt, protocol=protocol, files=files, schema=schema)


def _expand(fs: Any, source: str, *, explicit_format: bool) -> list[str]:
    from fsspec.core import strip_protocol

    root = strip_protocol(source)
    try:
        if any(ch in source for ch in "*?["):
            paths = [p for p in fs.glob(root) if not _hidden(p)]
            if not paths:
                raise InvalidInput(f"input {source!r}: the pattern matches no file")
            return [p for p in paths if fs.isfile(p)]
        if fs.isdir(root):
            prefix = root.rstrip("/") + "/"
            paths = [
                p
                for p in fs.find(root)
                if not _hidden(p[len(prefix) :] if p.startswith(prefix) else p)
                and (explicit_format or format_of(p) is not None)
            ]
            if not paths:
                raise InvalidInput(f"input {source!r}: the folder holds no .parquet or .csv file")
            return paths
        if fs.exists(root):
            return [root]
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"Could not list input {source!r}: {exc}") from exc
    raise InvalidInput(f"input {source!r}: no such file or folder")


def _hidden(relative: str) -> bool:
    # Files and folders starting with "." or "_" are metadata (ours, Spark's, Hive's).
    return any(part[:1] in "._" for part in relative.split("/") if part)


def _stat_all(fs: Any, paths: list[str]) -> list[dict[str, Any]]:
    try:
        return [fs.info(p) for p in paths]
    except (OSError, ValueError) as exc:
        raise BackendUnavailable(f"Could not read input file details: {exc}") from exc


def _version(info: Mapping[str, Any]) -> str:
    for key in _VERSION_KEYS:
        if info.get(key) not in (None, ""):
            return str(info[key])
    return ""


def _url(protocol: str, path: str) -> str:
    return path if protocol == "file" else f"{protocol}://{path}"


def _parquet_footers(
    fs: Any, protocol: str, paths: list[str], infos: list[dict[str, Any]]
) -> tuple[tuple[InputFile, ...], list[pa.Schema]]:
    import pyarrow.parquet as pq

    files, schemas = [], []
    for path, info in zip(paths, infos, strict=True):
        try:
            with fs.open(path, "rb") as fh:
                parquet = pq.ParquetFile(fh)
                meta = parquet.metadata
                schemas.append(parquet.schema_arrow.remove_metadata())
                groups = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(
                f"input file {_url(protocol, path)!r} is not readable Parquet: {exc}"
            ) from exc
        files.append(
            InputFile(
                path,
                _url(protocol, path),
                int(info.get("size") or 0),
                _version(info),
                groups,
                tuple(schemas[-1].names),
            )
        )
    return tuple(files), schemas


def _unify(schemas: list[pa.Schema], paths: list[str]) -> pa.Schema:
    if all(s.equals(schemas[0]) for s in schemas[1:]):
        return schemas[0]
    try:
        return pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(
            f"the input files' schemas are incompatible ({exc}); e.g. {paths[0]!r} "
            "differs from another file: score them as separate jobs"
        ) from exc


def plan_parts(files: Sequence[InputFile], part_rows: int) -> tuple[Part, ...]:
    """Cut the input into parts of at most ``part_rows`` rows (whole CSV files aside).

    Consecutive row groups are gathered up to ``part_rows`` rows; a row group
    larger than ``part_rows`` becomes row ranges of ``part_rows`` inside it,
    so resumption follows ``part_rows`` whatever row groups the writer chose.
    """
    parts: list[Part] = []

    def add(file: int, start: int, stop: int, rows: int, skip: int = 0) -> None:
        parts.append(Part(len(parts), file, start, stop, rows, skip))

    for number, item in enumerate(files):
        if not item.row_groups:
            parts.append(Part(len(parts), number))
            continue
        start, rows = 0, 0
        for group, count in enumerate(item.row_groups):
            if rows and rows + count > part_rows:
                add(number, start, group, rows)
                start, rows = group, 0
            if count > part_rows:
                for skip in range(0, count, part_rows):
                    add(number, group, group + 1, min(part_rows, count - skip), skip)
                start, rows = group + 1, 0
                continue
            rows += count
        if rows or not parts or parts[-1].file != number:
            add(number, start, len(item.row_groups), rows)
    return tuple(parts)


# ---------------------------------------------------------------- manifest


@dataclass
class JobManifest:
    """``<output>/_modelyard_job.json``: the job, its parts, and the parts completed."""

    job_id: str
    spec: dict[str, Any]
    parts: list[dict[str, Any]]
    scored_at_ms: int
    created_at_ms: int
    status: str = "running"
    attempts: int = 1
    completed: dict[int, PartResult] = field(default_factory=dict)
    updated_at_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "job_id": self.job_id,
            "status": self.status,
            "attempts": self.attempts,
            "scored_at_ms": self.scored_at_ms,
            "created_at_ms": self.created_at_ms,
            "updated_at_ms": self.updated_at_ms,
            **self.spec,
            "parts": self.parts,
            "completed": {str(k): v.to_dict() for k, v in sorted(self.completed.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobManifest:
        if data.get("format") != MANIFEST_FORMAT:
            raise InvalidInput(
                f"not a Modelyard batch job manifest (format {data.get('format')!r})"
            )
        reserved = {"format", "job_id", "status", "attempts", "scored_at_ms", "created_at_ms",
                    "updated_at_ms", "parts", "completed"}  # fmt: skip
        return cls(
            job_id=str(data["job_id"]),
            spec={k: v for k, v in data.items() if k not in reserved},
            parts=list(data.get("parts") or []),
            scored_at_ms=int(data["scored_at_ms"]),
            created_at_ms=int(data["created_at_ms"]),
            status=str(data.get("status", "running")),
            attempts=int(data.get("attempts", 1)),
            completed={
                int(k): PartResult.from_dict(v) for k, v in (data.get("completed") or {}).items()
            },
            updated_at_ms=int(data.get("updated_at_ms") or 0),
        )

    @property
    def rows_done(self) -> int:
        return sum(r.rows_in for r in self.completed.values())

    def save(self, out: OutputDir, now_ms: int) -> None:
        self.updated_at_ms = now_ms
        text = json.dumps(self.to_dict(), indent=1, sort_keys=False, allow_nan=False)
        out.write_atomic(out.manifest_path, text.encode())


def describe_spec(spec: BatchJobSpec) -> dict[str, Any]:
    """The manifest's description of a job (everything but progress)."""
    return {
        "model": {
            "name": spec.model_name,
            "version": spec.model_version,
            "digest": spec.model_digest,
            "form": spec.form,
        },
        "input": {
            "uri": spec.input.uri,
            "format": spec.input.format,
            "files": [
                {"url": f.url, "size": f.size, "version": f.version, "rows": f.rows}
                for f in spec.input.files
            ],
        },
        "output": spec.output,
        "params": {
            "id_column": spec.id_column,
            "passthrough": list(spec.passthrough),
            "part_rows": spec.part_rows,
        },
    }


def read_manifest(out: OutputDir) -> JobManifest | None:
    """The manifest at ``out``, merged with the completion markers of its parts; None if absent."""
    raw = out.read_bytes(out.manifest_path)
    if raw is None:
        return None
    try:
        manifest = JobManifest.from_dict(json.loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"{out.url(out.manifest_path)} is not a readable job manifest: {exc}"
        ) from exc
    for data in out.read_markers():
        result = PartResult.from_dict(data)
        if 0 <= result.index < len(manifest.parts):
            manifest.completed.setdefault(result.index, result)
    return manifest


def check_resumable(manifest: JobManifest | None, job_id: str, out: OutputDir) -> None:
    """Refuse an output that holds another job (or files of unknown origin)."""
    if manifest is not None:
        if manifest.job_id != job_id:
            model = manifest.spec.get("model", {})
            raise Conflict(
                f"output {out.root_url} holds batch job {manifest.job_id} "
                f"(model {model.get('name')}/{model.get('version')}, input "
                f"{manifest.spec.get('input', {}).get('uri')}); choose another output "
                "or pass overwrite=True (--overwrite) to replace it"
            )
        return
    stray = out.listing(recursive=True)
    if stray:
        raise Conflict(
            f"output {out.root_url} is not empty and holds no Modelyard batch job "
            f"(found {', '.join(sorted(stray)[:3])}); choose an empty or new folder"
        )


def completed_with_files(manifest: JobManifest, out: OutputDir) -> dict[int, PartResult]:
    """Completed parts whose output files are all still present."""
    present = set(out.listing(recursive=True))
    return {
        index: result
        for index, result in manifest.completed.items()
        if result.output in present and (result.rejects is None or result.rejects in present)
    }
