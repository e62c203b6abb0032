"""Dataset versions: register, identify by content, profile, load, and trace lineage.

Registering streams the source once to hash it and write a canonical Parquet
copy (zstd) to a temporary file, then — only if the content is new — profiles
that copy in two streaming passes and stores it in the artifact store. Memory
stays bounded by the batch size whatever the source's size. The same content
registered again returns the existing version; the version number comes from
the database under a lock, so concurrent registrations never collide.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from modelyard._util.clock import now_ms
from modelyard._util.dialect import upsert_insert
from modelyard._util.names import check_name, parse_ref
from modelyard.artifacts import ArtifactStore
from modelyard.data.entities import DatasetSummary, DatasetVersionInfo
from modelyard.data.hashing import TableHasher
from modelyard.data.profile import profile_batches
from modelyard.data.sources import BATCH_ROWS, open_source
from modelyard.errors import InvalidInput, NotFound
from modelyard.store import MetadataStore
from modelyard.store.models import Dataset, DatasetParent, DatasetVersion, Run, RunInput

__all__ = ["DatasetService"]


def _run_id_of(run: Any) -> str | None:
    if run is None:
        return None
    run_id = run if isinstance(run, str) else getattr(run, "id", None)
    if not isinstance(run_id, str):
        raise InvalidInput(f"run must be a run id or a run; got {run!r}")
    return run_id


class DatasetService:
    def __init__(self, store: MetadataStore, artifacts: ArtifactStore, *, user: str) -> None:
        self._store = store
        self._artifacts = artifacts
        self._user = user

    # -- register ---------------------------------------------------------
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
        """Register ``source`` as a version of dataset ``name`` (a new one only if content is new).

        ``keep_copy=False`` records only the source's URIs (for data already on
        immutable storage); loading then reads from those URIs.
        """
        check_name(name, "dataset name")
        run_id = _run_id_of(run)
        parent_refs = [p.ref if isinstance(p, DatasetVersionInfo) else str(p) for p in parents]
        src = open_source(source)
        if not src.schema.names:
            raise InvalidInput(f"source for dataset {name!r} has no columns")
        with tempfile.TemporaryDirectory(prefix="modelyard-dataset-") as tmp:
            copy_path = Path(tmp) / "data.parquet"
            hasher = TableHasher(src.schema)
            with pq.ParquetWriter(copy_path, src.schema, compression="zstd") as writer:
                for batch in src.batches():
                    hasher.update(batch)
                    writer.write_batch(batch)
            digest = hasher.hexdigest()
            existing = self._find_by_digest(name, digest)
            if existing is not None:
                return existing
            parquet = pq.ParquetFile(copy_path)
            profile = profile_batches(
                lambda: parquet.iter_batches(batch_size=BATCH_ROWS), src.schema
            ).to_dict()
            stored = self._artifacts.put_file(copy_path) if keep_copy else None
            num_bytes = copy_path.stat().st_size
        schema_hex = src.schema.serialize().to_pybytes().hex()
        with self._store.write() as session:
            parent_ids = [
                self._resolve_row(session, parse_ref(p, "parent")).id for p in parent_refs
            ]
            if run_id is not None and session.get(Run, run_id) is None:
                raise NotFound(f"run {run_id!r} does not exist")
            dataset = self._lock_dataset(session, name, description)
            again = session.scalar(
                select(DatasetVersion).where(
                    DatasetVersion.dataset_id == dataset.id, DatasetVersion.digest == digest
                )
            )
            if again is None:
                number = (
                    session.scalar(
                        select(func.max(DatasetVersion.version)).where(
                            DatasetVersion.dataset_id == dataset.id
                        )
                    )
                    or 0
                ) + 1
                again = DatasetVersion(
                    dataset_id=dataset.id,
                    version=number,
                    digest=digest,
                    data_digest=stored,
                    uris=list(src.uris) if not keep_copy else [self._artifacts.location(stored)],
                    format=src.format if not keep_copy else "parquet",
                    arrow_schema=schema_hex,
                    num_rows=hasher.rows,
                    num_bytes=num_bytes,
                    profile=profile,
                    producing_run_id=run_id,
                    created_by=self._user,
                    created_at=now_ms(),
                    description=description,
                )
                session.add(again)
                session.flush()
                for parent_id in parent_ids:
                    session.add(DatasetParent(child_id=again.id, parent_id=parent_id))
                session.flush()
            return self._info(session, again, name)

    def _lock_dataset(self, session: Session, name: str, description: str) -> Dataset:
        stmt = upsert_insert(session, Dataset).values(
            name=name, description=description, created_at=now_ms()
        )
        session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
        # FOR UPDATE serialises version numbering on PostgreSQL; SQLite's write
        # transactions are already serialised by BEGIN IMMEDIATE.
        dataset = session.scalar(select(Dataset).where(Dataset.name == name).with_for_update())
        assert dataset is not None  # inserted above or already present
        return dataset

    def _find_by_digest(self, name: str, digest: str) -> DatasetVersionInfo | None:
        with self._store.read() as session:
            row = session.scalar(
                select(DatasetVersion)
                .join(Dataset)
                .where(Dataset.name == name, DatasetVersion.digest == digest)
            )
            return self._info(session, row, name) if row is not None else None

    # -- read -------------------------------------------------------------
    def get(self, ref: str | DatasetVersionInfo) -> DatasetVersionInfo:
        """Resolve ``name``, ``name/3`` or ``name@latest`` to a version."""
        if isinstance(ref, DatasetVersionInfo):
            return ref
        parsed = parse_ref(ref, "dataset reference")
        with self._store.read() as session:
            row = self._resolve_row(session, parsed)
            return self._info(session, row, parsed.name)

    def _resolve_row(self, session: Session, ref: Any) -> DatasetVersion:
        dataset_id = session.scalar(select(Dataset.id).where(Dataset.name == ref.name))
        if dataset_id is None:
            raise NotFound(f"no dataset {ref.name!r}; see 'modelyard datasets list'")
        query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
        if ref.version is not None:
            row = session.scalar(query.where(DatasetVersion.version == ref.version))
            if row is None:
                raise NotFound(
                    f"no version {ref.version} of dataset {ref.name!r}; "
                    f"see 'modelyard datasets show {ref.name}'"
                )
            return row
        if not ref.is_latest:
            raise InvalidInput(f"datasets have no aliases other than @latest; got {ref}")
        row = session.scalar(query.order_by(DatasetVersion.version.desc()).limit(1))
        if row is None:
            raise NotFound(f"dataset {ref.name!r} has no versions")
        return row

    def _info(self, session: Session, row: DatasetVersion, name: str) -> DatasetVersionInfo:
        parents = session.execute(
            select(Dataset.name, DatasetVersion.version)
            .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
            .join(DatasetParent, DatasetParent.parent_id == DatasetVersion.id)
            .where(DatasetParent.child_id == row.id)
            .order_by(Dataset.name, DatasetVersion.version)
        )
        return DatasetVersionInfo(
            id=row.id,
            name=name,
            version=row.version,
            digest=row.digest,
            uris=tuple(row.uris or ()),
            stored_digest=row.data_digest,
            format=row.format,
            arrow_schema=row.arrow_schema,
            num_rows=row.num_rows,
            num_bytes=row.num_bytes,
            profile=row.profile or {},
            parents=tuple(f"{n}/{v}" for n, v in parents),
            producing_run_id=row.producing_run_id,
            created_by=row.created_by,
            created_at=row.created_at,
            description=row.description,
        )

    def list(self) -> list[DatasetSummary]:
        latest = (
            select(
                DatasetVersion.dataset_id,
                func.max(DatasetVersion.version).label("latest"),
                func.count().label("count"),
            )
            .group_by(DatasetVersion.dataset_id)
            .subquery()
        )
        query = (
            select(
                Dataset,
                latest.c.latest,
                latest.c.count,
                DatasetVersion.num_rows,
                DatasetVersion.created_at,
            )
            .join(latest, latest.c.dataset_id == Dataset.id)
            .join(
                DatasetVersion,
                (DatasetVersion.dataset_id == Dataset.id)
                & (DatasetVersion.version == latest.c.latest),
            )
            .order_by(Dataset.name)
        )
        with self._store.read() as session:
            return [
                DatasetSummary(ds.name, ds.description, number, count, rows, created)
                for ds, number, count, rows, created in session.execute(query)
            ]

    def versions(self, name: str) -> list[DatasetVersionInfo]:
        check_name(name, "dataset name")
        with self._store.read() as session:
            dataset_id = session.scalar(select(Dataset.id).where(Dataset.name == name))
            if dataset_id is None:
                raise NotFound(f"no dataset {name!r}; see 'modelyard datasets list'")
            rows = session.scalars(
                select(DatasetVersion)
                .where(DatasetVersion.dataset_id == dataset_id)
                .order_by(DatasetVersion.version)
            ).all()
            return [self._info(session, row, name) for row in rows]

    def children(self, ref: str | DatasetVersionInfo) -> list[DatasetVersionInfo]:
        """Dataset versions derived from this one (forward lineage)."""
        info = self.get(ref)
        with self._store.read() as session:
            rows = session.execute(
                select(DatasetVersion, Dataset.name)
                .join(Dataset)
                .join(DatasetParent, DatasetParent.child_id == DatasetVersion.id)
                .where(DatasetParent.parent_id == info.id)
                .order_by(Dataset.name, DatasetVersion.version)
            )
            return [self._info(session, row, name) for row, name in rows]

    def consuming_runs(self, ref: str | DatasetVersionInfo) -> list[str]:
        """Ids of runs that used this version as an input."""
        info = self.get(ref)
        with self._store.read() as session:
            return list(
                session.scalars(
                    select(RunInput.run_id).where(RunInput.dataset_version_id == info.id)
                ).all()
            )

    # -- load -------------------------------------------------------------
    def iter_batches(
        self,
        ref: str | DatasetVersionInfo,
        *,
        batch_rows: int = BATCH_ROWS,
        columns: list[str] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a version's rows; a stored copy's hash is verified as it is read."""
        info = self.get(ref)
        if info.stored_digest is not None:
            # Parquet readers need random access (the footer is at the end): copy
            # the blob through the verifying stream into a temporary file first.
            with (
                self._artifacts.open(info.stored_digest) as fh,
                tempfile.NamedTemporaryFile(suffix=".parquet") as tmp,
            ):
                while chunk := fh.read(1 << 20):
                    tmp.write(chunk)
                tmp.flush()
                yield from pq.ParquetFile(tmp.name).iter_batches(
                    batch_size=batch_rows, columns=columns
                )
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
        batches = list(self.iter_batches(info, columns=columns))
        schema = info.schema if not columns else pa.schema([info.schema.field(c) for c in columns])
        table = pa.Table.from_batches(batches, schema=schema)
        if as_ == "arrow":
            return table
        if as_ != "pandas":
            raise InvalidInput(f"as_ must be 'pandas' or 'arrow'; got {as_!r}")
        return table.to_pandas()
