"""A request's rows, as the protocol delivered them, before any checking.

Protocols decode their bodies into a :class:`Payload` in one of three
layouts and never copy the values: ``records`` (a list of JSON objects),
``rows`` (column names plus lists of values, MLflow's ``dataframe_split``,
a V2 2-D tensor) or ``columns`` (name to a list or numpy array, V2's
tensor-per-feature). The model's fast path reads any layout directly;
everything else goes through :meth:`Payload.as_columns` and the signature's
canonical enforcement.
"""

from __future__ import annotations

from typing import Any

from modelyard.compiled.rows import COLUMNS, RECORDS, ROWS
from modelyard.errors import InvalidInput

__all__ = ["COLUMNS", "RECORDS", "ROWS", "Payload"]


class Payload:
    """Rows of one request. ``n`` is the number of rows."""

    __slots__ = ("data", "kind", "n", "names")

    def __init__(self, kind: int, data: Any, n: int, names: list[str] | None = None) -> None:
        self.kind = kind
        self.data = data
        self.n = n
        self.names = names

    @classmethod
    def from_records(cls, records: Any, field: str = "records") -> Payload:
        if not isinstance(records, list):
            raise InvalidInput(f"{field}: must be a list of objects, one per row")
        if not records:
            raise InvalidInput(f"{field}: must hold at least one row")
        for i, record in enumerate(records):
            if type(record) is not dict:
                raise InvalidInput(
                    f"{field}[{i}]: must be an object of column values, not {_json_type(record)}"
                )
        return cls(RECORDS, records, len(records))

    @classmethod
    def from_rows(cls, names: Any, rows: Any, field: str = "data") -> Payload:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise InvalidInput("columns: must be a list of column names")
        if not isinstance(rows, list):
            raise InvalidInput(f"{field}: must be a list of rows (lists of values)")
        if not rows:
            raise InvalidInput(f"{field}: must hold at least one row")
        width = len(names)
        for i, row in enumerate(rows):
            if type(row) is not list:
                raise InvalidInput(f"{field}[{i}]: must be a list of values, not {_json_type(row)}")
            if len(row) != width:
                raise InvalidInput(
                    f"{field}[{i}]: has {len(row)} values for {width} columns {names}"
                )
        return cls(ROWS, rows, len(rows), names)

    @classmethod
    def from_columns(cls, columns: Any, field: str = "inputs") -> Payload:
        if not isinstance(columns, dict) or not columns:
            raise InvalidInput(f"{field}: must be an object of column name to a list of values")
        lengths = set()
        for name, values in columns.items():
            if not hasattr(values, "__len__") or isinstance(values, str | dict):
                raise InvalidInput(f"{field}.{name}: must be a list of values")
            lengths.add(len(values))
        if len(lengths) > 1:
            raise InvalidInput(f"{field}: columns of different lengths {sorted(lengths)}")
        n = lengths.pop()
        if n == 0:
            raise InvalidInput(f"{field}: must hold at least one row")
        return cls(COLUMNS, columns, n)

    def as_columns(self) -> dict[str, Any]:
        """Name to values for every column present (a key missing in some records is None)."""
        if self.kind == COLUMNS:
            return self.data
        if self.kind == ROWS:
            rows = self.data
            return {name: [row[i] for row in rows] for i, name in enumerate(self.names or [])}
        names: dict[str, None] = {}
        for record in self.data:
            for key in record:
                if key not in names:
                    names[key] = None
        return {k: [record.get(k) for record in self.data] for k in names}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
