"""Complete category sets of training datasets whose profiles keep only the top values.

A dataset profile lists the 20 most frequent values of a string column (enough
for drift), so a column with more distinct values has an incomplete list, and a
domain built from it could not tell a new value from a rare old one. At
registration the registry reads just those columns of the dataset's stored
Parquet copy (hash-verified) and takes their distinct values, up to
:data:`MAX_DISTINCT` per column (beyond it, like an id, a column has no set).
A dataset registered without a stored copy keeps the incomplete list: its
column then flags no value as unseen.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from typing import Any

from modelyard.artifacts import ArtifactStore

__all__ = ["MAX_DISTINCT", "complete_categories", "truncated_columns"]

MAX_DISTINCT = 10_000


def truncated_columns(profile: Mapping[str, Any], wanted: set[str]) -> list[str]:
    """String columns of ``wanted`` whose profile lists only some of their values."""
    found = []
    for name, column in (profile.get("columns") or {}).items():
        if (
            name in wanted
            and column.get("kind") == "categorical"
            and column.get("categories_truncated")
            and not column.get("high_cardinality")
        ):
            found.append(name)
    return found


def complete_categories(
    artifacts: ArtifactStore, stored_digest: str, columns: list[str]
) -> dict[str, list[str] | None]:
    """Distinct non-null values per column (None above :data:`MAX_DISTINCT`)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    seen: dict[str, set[str] | None] = {name: set() for name in columns}
    with artifacts.open(stored_digest) as fh, tempfile.NamedTemporaryFile(suffix=".parquet") as tmp:
        while chunk := fh.read(1 << 20):
            tmp.write(chunk)
        tmp.flush()
        for batch in pq.ParquetFile(tmp.name).iter_batches(columns=columns):
            for name in columns:
                values = seen[name]
                if values is None:
                    continue
                array = batch.column(batch.schema.get_field_index(name))
                if hasattr(array, "dictionary_decode") and hasattr(array, "dictionary"):
                    array = array.dictionary_decode()
                values.update(v for v in pc.unique(array.drop_null()).to_pylist())
                if len(values) > MAX_DISTINCT:
                    seen[name] = None
    return {name: sorted(map(str, v)) if v is not None else None for name, v in seen.items()}
