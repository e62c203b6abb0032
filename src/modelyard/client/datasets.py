"""``remote.datasets``: the DatasetService interface over the REST API."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from modelyard._util.names import check_name, parse_ref
from modelyard.client import _decode
from modelyard.client._artifacts import RemoteArtifacts
from modelyard.client._http import Transport
from modelyard.data.entities import DatasetSummary, DatasetVersionInfo
from modelyard.data.sources import BATCH_ROWS, open_source
from modelyard.errors import InvalidInput

_REMOTE_SCHEMES = ("s3://", "gs://", "gcs://", "az://", "abfs://", "http://", "https://")


def _path(ref: str, http: Transport) -> str:
    parsed = parse_ref(ref, "dataset reference")
    if parsed.version is not None:
        return f"/datasets/{parsed.name}/versions/{parsed.version}"
    if not parsed.is_latest:
        http.get(f"/datasets/{parsed.name}/versions", limit=1)  # NotFound first, as locally
        raise InvalidInput(f"datasets have no aliases other than @latest; got {parsed}")
    return f"/datasets/{parsed.name}/versions/latest"


def _run_id(run: Any) -> str | None:
    if run is None:
        return None
    run_id = run if isinstance(run, str) else getattr(run, "id", None)
    if not isinstance(run_id, str):
        raise InvalidInput(f"run must be a run id or a run; got {run!r}")
    return run_id


class RemoteDatasets:
    def __init__(self, transport: Transport, artifacts: RemoteArtifacts) -> None:
        self._http = transport
        self._artifacts = artifacts

    def register(
        self,
        name: str,
        source: Any,
        *,
        description: str = "",
        parents: Sequence[DatasetVersionInfo | str] = (),
        run: Any = None,
        keep_copy: bool = True,
    ) -> DatasetVersionInfo:
        """Register ``source``: local data is streamed to Parquet and uploaded; object-store
        URIs are read by the server itself."""
        check_name(name, "dataset name")
        body: dict[str, Any] = {
            "description": description,
            "parents": [p.ref if isinstance(p, DatasetVersionInfo) else str(p) for p in parents],
            "run_id": _run_id(run),
            "keep_copy": keep_copy,
        }
        uris = [source] if isinstance(source, str) else source
        if (
            isinstance(uris, list | tuple)
            and uris
            and all(isinstance(u, str) and u.startswith(_REMOTE_SCHEMES) for u in uris)
        ):
            body["uris"] = list(uris)
        else:
            src = open_source(source)
            if not src.schema.names:
                raise InvalidInput(f"source for dataset {name!r} has no columns")
            with tempfile.TemporaryDirectory(prefix="modelyard-upload-") as tmp:
                path = Path(tmp) / "data.parquet"
                with pq.ParquetWriter(path, src.schema, compression="zstd") as writer:
                    for batch in src.batches():
                        writer.write_batch(batch)
                body["blob"] = self._artifacts.put_file(path)
        return _decode.dataset_version(self._http.post(f"/datasets/{name}/versions", body))

    def get(self, ref: str | DatasetVersionInfo) -> DatasetVersionInfo:
        if isinstance(ref, DatasetVersionInfo):
            return ref
        return _decode.dataset_version(self._http.get(_path(ref, self._http)))

    def list(self) -> list[DatasetSummary]:
        return [_decode.dataset_summary(d) for d in self._http.pages("/datasets")]

    def versions(self, name: str) -> list[DatasetVersionInfo]:
        check_name(name, "dataset name")
        return [_decode.dataset_version(d) for d in self._http.pages(f"/datasets/{name}/versions")]

    def children(self, ref: str | DatasetVersionInfo) -> list[DatasetVersionInfo]:
        path = _path(ref.ref if isinstance(ref, DatasetVersionInfo) else ref, self._http)
        return [_decode.dataset_version(d) for d in self._http.pages(f"{path}/children")]

    def consuming_runs(self, ref: str | DatasetVersionInfo) -> list[str]:
        path = _path(ref.ref if isinstance(ref, DatasetVersionInfo) else ref, self._http)
        return list(self._http.pages(f"{path}/runs"))

    def iter_batches(
        self,
        ref: str | DatasetVersionInfo,
        *,
        batch_rows: int = BATCH_ROWS,
        columns: list[str] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a version's rows from the server's verified copy (or its URIs)."""
        info = self.get(ref)
        if info.stored_digest is not None:
            with tempfile.TemporaryDirectory(prefix="modelyard-data-") as tmp:
                path = self._artifacts.get_file(info.stored_digest, Path(tmp) / "data.parquet")
                yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=columns)
            return
        src = open_source(list(info.uris), batch_rows=batch_rows)
        for batch in src.batches():
            yield batch.select(columns) if columns else batch

    def load(
        self,
        ref: str | DatasetVersionInfo,
        *,
        columns: list[str] | None = None,
        as_: Literal["pandas", "arrow"] = "pandas",
    ) -> pd.DataFrame | pa.Table:
        info = self.get(ref)
        if columns:
            missing = [c for c in columns if c not in info.schema.names]
            if missing:
                raise InvalidInput(f"dataset {info.ref} has no column(s) {missing}")
        if as_ not in ("pandas", "arrow"):
            raise InvalidInput(f"as_ must be 'pandas' or 'arrow'; got {as_!r}")
        batches = list(self.iter_batches(info, columns=columns))
        schema = info.schema if not columns else pa.schema([info.schema.field(c) for c in columns])
        table = pa.Table.from_batches(batches, schema=schema)
        return table if as_ == "arrow" else table.to_pandas()
