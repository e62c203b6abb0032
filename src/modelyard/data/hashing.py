"""Content hashes of tabular data that do not depend on file format or batch size.

The same rows with the same schema hash the same whether they come from a
DataFrame, one Parquet file or twenty CSV parts. Each row is hashed with
pandas' vectorised ``hash_pandas_object`` (64 bits a row), and the row hashes
are fed in order, with the schema, into SHA-256: one changed cell changes the
digest, and no Python loop touches individual rows.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import pyarrow as pa


class TableHasher:
    """Incremental digest over record batches, fed in row order."""

    def __init__(self, schema: pa.Schema) -> None:
        self._sha = hashlib.sha256()
        canonical = ";".join(f"{f.name}:{f.type}" for f in schema)
        self._sha.update(canonical.encode())
        self.rows = 0

    def update(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        frame = batch.to_pandas(types_mapper=None, date_as_object=False)
        row_hashes = pd.util.hash_pandas_object(frame, index=False, categorize=True)
        self._sha.update(row_hashes.to_numpy().tobytes())
        self.rows += batch.num_rows

    def hexdigest(self) -> str:
        return "sha256:" + self._sha.hexdigest()
