"""Time windows, and the rows of one model version in a window of the prediction log.

A window is a half-open interval ``[start, end)`` of UTC time. ``resolve_window`` turns
the CLI's ``--window 1d`` (the last day up to now), ``--since/--until`` or both into one;
``split`` cuts a long interval into consecutive windows for a backfill.

``read_log`` streams the rows a model version answered in a window: it lists only the
``date=`` folders the window touches under ``<root>/predictions/endpoint=E/``, reads
their Parquet parts as one pyarrow dataset (schemas unified, so a column added by a
later version reads as null in earlier parts) and filters ``_ts``, ``_model``,
``_version`` and ``_shadow`` in the scan, a record batch at a time. Shadow rows
(copies scored by a shadow model, never answered) are left out unless asked for.

Every reader takes ``storage_options``: the fsspec options the object-store
settings give for the log's root (``Settings.storage_options``), so that the
log is read through the same endpoint, region and credentials as the
artifact store and batch jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from modelyard._util import clock
from modelyard._util.clock import now_ms
from modelyard.errors import InvalidInput

__all__ = [
    "LogScan",
    "Window",
    "log_files",
    "parse_duration",
    "read_feedback",
    "read_log",
    "resolve_window",
    "split",
]

BATCH_ROWS = 65_536


def parse_duration(text: str, what: str = "--window") -> timedelta:
    """``30m``, ``12h``, ``1d``, ``7d``, ``2w`` as a timedelta (``InvalidInput`` otherwise)."""
    return clock.parse_duration(text, what)


def as_datetime(value: Any, what: str) -> datetime | None:
    """A UTC datetime from a datetime (naive = UTC), date, epoch ms or ISO string."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise InvalidInput(
                f"{what}: {value!r} is not an ISO date or time (e.g. 2026-03-01 or "
                "2026-03-01T12:00)"
            ) from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise InvalidInput(f"{what} must be a datetime, date or ISO string. Got {value!r} instead.")


@dataclass(frozen=True)
class Window:
    """``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)

    @classmethod
    def from_ms(cls, start_ms: int, end_ms: int) -> Window:
        return cls(
            datetime.fromtimestamp(start_ms / 1000, tz=UTC),
            datetime.fromtimestamp(end_ms / 1000, tz=UTC),
        )

    def label(self) -> str:
        """Short text for tables and charts: a day, or ``start → end``."""
        s, e = self.start, self.end
        whole_days = s.time() == e.time() == datetime.min.time()
        if whole_days and e - s == timedelta(days=1):
            return s.strftime("%Y-%m-%d")
        if whole_days:
            fmt = "%Y-%m-%d"
        elif s.second == e.second == 0 and s.microsecond == e.microsecond == 0:
            fmt = "%Y-%m-%d %H:%M"
        else:
            fmt = "%Y-%m-%d %H:%M:%S"
        end = e.strftime(fmt[9:] if s.date() == e.date() else fmt)
        return f"{s.strftime(fmt)} → {end}"

    def days(self) -> list[date]:
        """Every UTC day the window touches."""
        first, last = self.start.date(), (self.end - timedelta(microseconds=1)).date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
        }


def resolve_window(
    window: str | timedelta | None = None,
    since: Any = None,
    until: Any = None,
    *,
    now: Callable[[], int] = now_ms,
    default: str | None = "1d",
) -> Window:
    """The window the options name.

    ``window`` alone: the last ``window`` up to now; with ``since``: ``window`` from
    ``since``; with ``until``: the ``window`` before ``until``. ``since``/``until`` alone:
    from ``since`` to now, or the ``default`` window before ``until``.

    Raises:
        InvalidInput: A malformed option, all three at once, or an empty window.
    """
    start, end = as_datetime(since, "--since"), as_datetime(until, "--until")
    if window is not None and start is not None and end is not None:
        raise InvalidInput("give --window with at most one of --since/--until, not both")
    length = None
    if window is not None:
        length = window if isinstance(window, timedelta) else parse_duration(window)
    elif start is None or end is None:
        length = parse_duration(default, "the default window") if default else None
    current = datetime.fromtimestamp(now() / 1000, tz=UTC)
    if start is None and end is None:
        end = current
    if start is None:
        if length is None:
            raise InvalidInput("give --window or --since")
        start = end - length
    elif end is None:
        end = start + length if window is not None and length is not None else current
    if end <= start:
        raise InvalidInput(
            f"the window is empty: --until ({end.isoformat()}) must be after --since "
            f"({start.isoformat()})"
        )
    return Window(start, end)


def split(window: Window, step: str | timedelta) -> list[Window]:
    """Consecutive windows of ``step`` covering ``window`` (the last one may be shorter)."""
    length = step if isinstance(step, timedelta) else parse_duration(step, "--step")
    out, start = [], window.start
    while start < window.end:
        end = min(start + length, window.end)
        out.append(Window(start, end))
        start = end
    if len(out) > 10_000:
        raise InvalidInput(f"--step {step} cuts the interval into {len(out)} windows; use fewer")
    return out


# ---------------------------------------------------------------- reading the log


def _fs(root: str, storage_options: Mapping[str, Any] | None) -> tuple[Any, str]:
    from fsspec.core import url_to_fs

    fs, path = url_to_fs(root, **dict(storage_options or {}))
    return fs, path.rstrip("/")


def log_files(
    root: str,
    kind: str,
    endpoint: str,
    days: Sequence[date] | None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Parquet parts of ``endpoint`` under ``<root>/<kind>/``, only in the given days."""
    fs, base = _fs(root, storage_options)
    folder = f"{base}/{kind}/endpoint={endpoint}"
    wanted = None if days is None else {d.isoformat() for d in days}
    files: list[str] = []
    if not fs.exists(folder):
        return files
    for sub in sorted(fs.ls(folder, detail=False)):
        label = sub.rstrip("/").rsplit("/", 1)[-1]
        if not label.startswith("date=") or (wanted is not None and label[5:] not in wanted):
            continue
        for path in sorted(fs.ls(sub, detail=False)):
            leaf = path.rsplit("/", 1)[-1]
            if leaf.startswith("part-") and leaf.endswith(".parquet"):
                files.append(path)
    return files


def _dataset(root: str, files: list[str], storage_options: Mapping[str, Any] | None) -> Any:
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq
    from pyarrow.fs import FSSpecHandler, LocalFileSystem, PyFileSystem

    fs, _ = _fs(root, storage_options)
    local = type(fs).__name__ == "LocalFileSystem"
    filesystem = LocalFileSystem() if local else PyFileSystem(FSSpecHandler(fs))
    schemas = [pq.read_schema(path, filesystem=filesystem) for path in files]
    schema = pa.unify_schemas(schemas, promote_options="permissive")
    return ds.dataset(files, schema=schema, format="parquet", filesystem=filesystem)


@dataclass
class LogScan:
    """What ``read_log`` saw besides the rows it yielded."""

    files: int = 0
    rows: int = 0
    shadow_rows: int = 0
    other_rows: int = 0


def read_log(
    root: str,
    endpoints: Sequence[str],
    model: str,
    version: int,
    window: Window,
    *,
    columns: Sequence[str] | None = None,
    include_shadow: bool = False,
    scan: LogScan | None = None,
    batch_rows: int = BATCH_ROWS,
    storage_options: Mapping[str, Any] | None = None,
) -> Iterator[pa.RecordBatch]:
    """Record batches of ``model``/``version``'s logged rows in ``window`` (streaming).

    ``columns`` limits the columns read (missing ones are skipped); ``scan``, when
    given, counts files and rows, including the shadow rows left out.
    """
    import pyarrow.dataset as ds

    scan = scan if scan is not None else LogScan()
    ts_type = pa.timestamp("ms", tz="UTC")
    for endpoint in endpoints:
        files = log_files(
            root, "predictions", endpoint, window.days(), storage_options=storage_options
        )
        if not files:
            continue
        scan.files += len(files)
        dataset = _dataset(root, files, storage_options)
        names = dataset.schema.names
        if "_ts" not in names or "_model" not in names:
            raise InvalidInput(f"{files[0]} is not a prediction log part (no _ts/_model column)")
        ts = ds.field("_ts")
        base = (
            (ts >= pa.scalar(window.start, ts_type))
            & (ts < pa.scalar(window.end, ts_type))
            & (ds.field("_model") == model)
            & (ds.field("_version") == version)
        )
        if "_shadow" in names and not include_shadow:
            scan.shadow_rows += dataset.count_rows(filter=base & ds.field("_shadow"))
            base = base & ~ds.field("_shadow")
        wanted = list(names if columns is None else [c for c in columns if c in names])
        scanner = dataset.scanner(columns=wanted, filter=base, batch_size=batch_rows)
        for batch in scanner.to_batches():
            if batch.num_rows:
                scan.rows += batch.num_rows
                yield batch


def read_feedback(
    root: str,
    endpoints: Sequence[str],
    since: datetime | None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Every feedback label of ``endpoints`` stored on or after ``since``'s day.

    Labels arrive after their predictions, so a window's labels are read from its start
    on, with no end. The last label given for a row wins.
    """
    columns = ["_request_id", "_row", "_entity", "_ts", "label"]
    tables = []
    for endpoint in endpoints:
        files = log_files(root, "feedback", endpoint, None, storage_options=storage_options)
        if since is not None:
            first = since.date().isoformat()
            files = [f for f in files if f.rsplit("date=", 1)[-1][:10] >= first]
        if files:
            dataset = _dataset(root, files, storage_options)
            have = [c for c in columns if c in dataset.schema.names]
            tables.append(dataset.to_table(columns=have))
    if not tables:
        return pa.table(
            {
                "_request_id": pa.array([], pa.string()),
                "_row": pa.array([], pa.int64()),
                "_entity": pa.array([], pa.string()),
                "_ts": pa.array([], pa.timestamp("ms", tz="UTC")),
                "label": pa.array([], pa.string()),
            }
        )
    return pa.concat_tables(tables, promote_options="permissive")
