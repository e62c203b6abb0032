"""Prediction logging: every scored row to a sink, off the request path, nothing lost silently.

A request appends one tuple to a bounded in-memory queue (a deque; no lock,
no I/O) and goes on. A background thread wakes every ``flush_interval_s`` (1 s
by default, or when ``flush_rows`` are waiting) and turns what is queued into
compact Arrow tables, one per endpoint and day, appended to a local
write-ahead file and fsync'd (:mod:`modelyard.serving.predlog_wal`); a table
goes to the sink as one file when it holds ``file_rows`` rows or is
``file_interval_s`` old (and at shutdown) — at once for the Redis sink. After a
crash the next start writes what the write-ahead file holds to the sink and
counts the rows that were still in memory (``modelyard_prediction_log_lost``):
at most one flush interval. When the queue is full a
request's rows are *counted* as dropped (``modelyard_prediction_log_dropped``)
instead of blocking it; a sink that fails twice on a batch drops that batch,
counted and logged. ``close()`` drains the queue before the process exits.

Sinks:

* :class:`ParquetSink` (default) writes
  ``<root>/predictions/endpoint=<E>/date=<YYYY-MM-DD>/part-<uuid>.parquet``
  atomically: a hidden temporary file renamed into place on a local disk, a
  single PUT (``pipe``) on object stores;
* :class:`RedisStreamSink` appends one stream entry per row (``XADD``,
  pipelined, capped with ``MAXLEN ~``), for several processes feeding one
  consumer.

The Parquet schema (monitoring reads it; keep it stable): the input columns
under their signature names and types, then ``_request_id`` string, ``_row``
int64 (index within the request), ``_ts`` timestamp[ms, UTC], ``_endpoint``
string, ``_route`` string, ``_shadow`` bool, ``_model`` string, ``_version``
int64, ``_latency_ms`` float64, ``_score`` float64 (P(positive class) for a
binary classifier, else null), ``_label`` string (predicted label; a
regressor's value as text), ``_entity`` string or null, ``_warnings`` string
or null (the row's out-of-domain values that were scored, as JSON
``[{"column": "channel", "kind": "unseen_category"}]``; the value itself is in
the row's input column).

A log in an object store (``s3://``, ``gs://``) is reached with the fsspec
options the object-store settings give for its root
(``Settings.storage_options``): the same endpoint, region and credentials as
the artifact store, batch jobs and monitoring's readers. The write-ahead file
stays on the local disk; only the Parquet parts go to the store.

Feedback (ground truth) goes to ``<root>/feedback/endpoint=<E>/date=<D>/``
with ``_request_id``, ``_row``, ``_entity``, ``_ts`` and ``label`` (string).
"""

from __future__ import annotations

import io
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from modelyard.compiled.rows import transpose
from modelyard.errors import BackendUnavailable, InvalidInput
from modelyard.serving.fastpath import Coded
from modelyard.serving.inputs import RECORDS
from modelyard.serving.predlog_wal import WriteAheadLog, recover

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import pyarrow as pa

    from modelyard.serving.config import PredictionLogConfig
    from modelyard.serving.inputs import Payload
    from modelyard.serving.metrics import ServingMetrics
    from modelyard.serving.models import ServedVersion

__all__ = [
    "META_COLUMNS",
    "ParquetSink",
    "PredictionLog",
    "RedisStreamSink",
    "make_sink",
    "open_write_ahead_log",
    "read_feedback",
    "read_predictions",
    "read_stream",
]

logger = logging.getLogger("modelyard.serving")

META_COLUMNS = (
    "_request_id", "_row", "_ts", "_endpoint", "_route", "_shadow", "_model", "_version",
    "_latency_ms", "_score", "_label", "_entity", "_warnings",
)  # fmt: skip
FEEDBACK_COLUMNS = ("_request_id", "_row", "_entity", "_ts", "label")
_FEEDBACK = "feedback"
_PREDICTIONS = "predictions"
_DAY_MS = 86_400_000
_CHUNK_ROWS = 5_000  # rows turned into Arrow at a time: keeps each GIL hold short
_FEEDBACK_ENTRY = object()  # marks a queued feedback entry (an endpoint may be named anything)


class Sink(Protocol):
    def write(self, kind: str, endpoint: str, day: str, table: pa.Table) -> None: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- the queue


class PredictionLog:
    """The bounded queue and the thread that empties it into a sink."""

    def __init__(
        self,
        sink: Sink | None,
        config: PredictionLogConfig,
        metrics: ServingMetrics | None = None,
        wal: WriteAheadLog | None = None,
    ) -> None:
        self._sink = sink
        self._wal = wal
        self._counter = wal.admitted if wal is not None else None
        # A sink that wants each flush at once (a stream), not files of a useful size.
        self._immediate = bool(getattr(sink, "immediate", False))
        self.enabled = sink is not None
        self._max = config.queue_max_rows
        self._flush_rows = config.flush_rows
        self._interval = config.flush_interval_s
        self._metrics = metrics
        self._queue: deque[tuple[Any, ...]] = deque()
        # Written by one side each (requests / the flusher): depth needs no lock.
        self._enqueued = 0
        self._taken = 0
        self._dropped_lock = threading.Lock()
        self.dropped = 0
        self.written = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_lock = threading.Lock()
        self._file_rows = config.file_rows
        self._file_interval = config.file_interval_s
        # Converted tables waiting for their file, each with its write-ahead id (or -1).
        self._files: dict[tuple[str, str, str], tuple[list[tuple[int, pa.Table]], float]] = {}
        self._pending_rows = 0
        self._thread: threading.Thread | None = None
        if metrics is not None:
            metrics.track_queue(lambda: float(self.depth))

    @property
    def depth(self) -> int:
        """Rows logged but not yet written: queued, or converted and waiting for their file."""
        return self._enqueued - self._taken + self._pending_rows

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="modelyard-prediction-log", daemon=True
            )
            self._thread.start()

    def log(
        self,
        endpoint: str,
        route: str,
        shadow: bool,
        served: ServedVersion,
        request_id: str,
        ts_ms: int,
        latency_ms: float,
        payload: Payload,
        outputs: np.ndarray,
        entity: str | None,
        matrix: np.ndarray | None = None,
        warnings: Any = None,
        columns: dict[str, Any] | None = None,
    ) -> None:
        """Queue one request's rows; never blocks, never raises.

        ``matrix`` is the fast path's encoded input, when there is one: the flusher
        decodes the input columns from it instead of walking the request's JSON.
        ``warnings`` (an ``InputWarnings``) become the rows' ``_warnings``. ``columns``:
        the input columns as the compiled scorer checked them (float64 arrays for
        numbers), logged as they are instead of walking the request's JSON again.
        """
        if not self.enabled:
            return
        n = payload.n
        if self._enqueued - self._taken + n > self._max:
            self._drop(n)
            return
        self._queue.append(
            (
                endpoint,
                route,
                shadow,
                served,
                request_id,
                ts_ms,
                latency_ms,
                payload,
                outputs,
                entity,
                matrix,
                warnings,
                columns,
            )
        )
        self._enqueued += n
        if self._counter is not None:
            self._counter[0] = self._enqueued  # one store into a shared mapping: no syscall
        if self._enqueued - self._taken >= self._flush_rows:
            self._wake.set()

    def feedback(self, endpoint: str, labels: list[dict[str, Any]]) -> int:
        """Queue ground-truth labels; returns how many were accepted."""
        if not self.enabled:
            raise BackendUnavailable("prediction logging is off; feedback cannot be stored")
        n = len(labels)
        if self._enqueued - self._taken + n > self._max:
            self._drop(n)
            raise BackendUnavailable("the prediction log queue is full; retry the feedback later")
        self._queue.append((_FEEDBACK_ENTRY, endpoint, labels, int(time.time() * 1000)))
        self._enqueued += n
        if self._counter is not None:
            self._counter[0] = self._enqueued
        return n

    def _drop(self, n: int) -> None:
        with self._dropped_lock:
            self.dropped += n
        if self._metrics is not None:
            self._metrics.log_dropped.inc(n)

    def flush(self) -> None:
        """Convert and write everything queued now, on the calling thread."""
        self._drain(force=True)

    def close(self, timeout: float = 60.0) -> None:
        """Stop the thread after it has written everything queued."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._drain(force=True)
        if self._wal is not None:
            self._wal.close()
            self._wal = None
            self._counter = None
        if self._sink is not None:
            self._sink.close()

    # -- the flusher ----------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._drain(force=False)
            except Exception:  # the flusher must survive anything a sink does
                logger.exception("prediction log flush failed")

    def _drain(self, *, force: bool) -> None:
        """Turn queued entries into Arrow (in chunks), then write the files that are due.

        Converted rows wait in memory as compact Arrow tables until their file
        reaches ``file_rows`` or ``file_interval_s`` (or the log closes), so a
        steady stream makes a few large files rather than many small ones.
        """
        with self._drain_lock:
            wal = self._wal
            taken = False
            while self._queue:
                entries = []
                rows = 0
                while self._queue and rows < _CHUNK_ROWS:
                    entry = self._queue.popleft()
                    entries.append(entry)
                    rows += len(entry[2]) if entry[0] is _FEEDBACK_ENTRY else entry[7].n
                self._convert(entries, rows)
                self._taken += rows
                taken = True
                time.sleep(0)  # hand the GIL to the event loop between chunks
            if wal is not None and taken:
                try:
                    wal.mark(self._taken)
                    wal.sync()  # the rows of this flush are on disk from here on
                except OSError:
                    logger.exception("cannot sync the prediction log's write-ahead file")
            now = time.monotonic()
            finished: list[int] = []
            for key in list(self._files):
                tables, since = self._files[key]
                count = sum(t.num_rows for _, t in tables)
                if (
                    force
                    or self._immediate
                    or count >= self._file_rows
                    or now - since >= self._file_interval
                ):
                    del self._files[key]
                    self._pending_rows -= count
                    self._write(key, [t for _, t in tables])
                    finished.extend(i for i, _ in tables if i >= 0)
            if wal is not None and finished:
                try:
                    wal.done(finished)
                    wal.sync()
                except OSError:
                    logger.exception("cannot sync the prediction log's write-ahead file")

    def _convert(self, entries: list[tuple[Any, ...]], rows: int) -> None:
        try:
            tables = build_tables(entries)
        except Exception:
            logger.exception("cannot build prediction log records; %d rows dropped", rows)
            self._drop(rows)
            return
        now = time.monotonic()
        last = len(tables) - 1
        for i, (key, table) in enumerate(tables.items()):
            table_id = -1
            if self._wal is not None:
                # The chunk's last table carries how far the admitted sequence is covered.
                through = self._taken + rows if i == last else None
                try:
                    table_id = self._wal.append(key, table, through)
                except OSError:  # a full local disk: the rows still go to the sink
                    logger.exception("cannot append to the prediction log's write-ahead file")
            held = self._files.setdefault(key, ([], now))
            held[0].append((table_id, table))
            self._pending_rows += table.num_rows

    def _write(self, key: tuple[str, str, str], tables: list[pa.Table]) -> None:
        import pyarrow as pa

        assert self._sink is not None
        kind, endpoint, day = key
        table = (
            tables[0]
            if len(tables) == 1
            else pa.concat_tables(tables, promote_options="permissive")
        )
        for attempt in (1, 2):
            try:
                self._sink.write(kind, endpoint, day, table)
            except Exception as exc:
                if attempt == 2:
                    logger.error(
                        "prediction log sink failed twice; %d rows dropped: %s",
                        table.num_rows,
                        exc,
                        extra={"endpoint": endpoint},
                    )
                    self._drop(table.num_rows)
                continue
            if kind == _PREDICTIONS:
                self.written += table.num_rows
                if self._metrics is not None:
                    self._metrics.log_written.inc(table.num_rows)
            break


# ---------------------------------------------------------------- records to Arrow


def build_tables(entries: Iterable[tuple[Any, ...]]) -> dict[tuple[str, str, str], pa.Table]:
    """Arrow tables per (kind, endpoint, day) from queued entries.

    Work is done per group of entries (same partition, same served version,
    same payload layout) with one list comprehension or numpy call per
    column, not per request: a flush of 10,000 one-row requests costs a few
    milliseconds of the flusher's time.
    """
    import pyarrow as pa

    groups: dict[tuple[str, int, int, bool], list[tuple[Any, ...]]] = {}
    feedback: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        if entry[0] is _FEEDBACK_ENTRY:
            _, endpoint, labels, ts_ms = entry
            feedback.setdefault((endpoint, _day(ts_ms)), []).extend(
                {**label, "_ts": ts_ms} for label in labels
            )
            continue
        key = (entry[0], entry[5] // _DAY_MS, id(entry[3]), entry[7].kind == RECORDS)
        group = groups.get(key)
        if group is None:
            groups[key] = [entry]
        else:
            group.append(entry)
    parts: dict[tuple[str, str], list[pa.Table]] = {}
    for (endpoint, day, _, _), group in groups.items():
        parts.setdefault((endpoint, _day(day * _DAY_MS)), []).append(_prediction_table(group))
    tables: dict[tuple[str, str, str], pa.Table] = {}
    for (endpoint, day), found in parts.items():
        tables[(_PREDICTIONS, endpoint, day)] = (
            found[0] if len(found) == 1 else pa.concat_tables(found, promote_options="permissive")
        )
    for (endpoint, day), labels in feedback.items():
        tables[(_FEEDBACK, endpoint, day)] = _feedback_table(labels)
    return tables


def _day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


_ARROW_TYPES = {"integer": "int64", "float": "float64", "boolean": "bool"}


def _feature_array(values: Any, kind: str) -> pa.Array:
    import pyarrow as pa

    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        # A compiled scorer's checked numbers: JSON has no NaN, so NaN was a null;
        # an integer column holds whole numbers below 2**53 there (exact in float64).
        if kind == "integer":
            mask = np.isnan(values)
            if mask.any():
                return pa.array(np.where(mask, 0, values).astype(np.int64), mask=mask)
            return pa.array(values.astype(np.int64))
        if kind == "float":
            return pa.array(values, pa.float64(), from_pandas=True)
        values = [None if v != v else v for v in values.tolist()]
    if kind in _ARROW_TYPES:
        arrow_type = pa.type_for_alias(_ARROW_TYPES[kind])
        try:
            return pa.array(values, type=arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            # Whole floats sent for an integer column (36.0) are converted; a value that
            # does not fit the column's type is logged as null rather than losing the batch.
            return pa.array([_fit(v, kind) for v in values], type=arrow_type)
    if kind == "datetime":
        import pandas as pd

        stamps = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", utc=True)
        return pa.array(stamps.dt.tz_convert(None).astype("datetime64[ms]"))
    if kind in ("string", "category"):
        return pa.array(values, type=pa.string())
    return pa.array(values)


def _fit(value: Any, kind: str) -> Any:
    try:
        if value is None:
            return None
        if kind == "integer":
            number = int(value)
            return number if -(2**63) <= number < 2**63 else None
        if kind == "float":
            return float(value)
        return bool(value) if isinstance(value, bool | np.bool_) else None
    except (TypeError, ValueError, OverflowError):
        return None


def _prediction_table(group: list[tuple[Any, ...]]) -> pa.Table:
    """One table for entries of the same served version and payload layout."""
    import pyarrow as pa

    served = group[0][3]
    counts = [e[7].n for e in group]
    total = sum(counts)
    names = (
        served.signature.input_names
        if served.signature is not None
        else list(group[0][7].as_columns())
    )
    types = {s.name: s.type for s in served.signature.inputs} if served.signature else {}
    columns = _feature_columns(group, names)
    outputs = group[0][8] if len(group) == 1 else np.concatenate([e[8] for e in group])
    if served.task == "classification":
        # Strings gathered in C: the class names taken by index.
        labels = pa.array(served.class_keys, pa.string()).take(pa.array(outputs.argmax(axis=1)))
        scores = (
            pa.array(outputs[:, 1], pa.float64())
            if served.binary
            else pa.nulls(total, pa.float64())
        )
    else:
        labels = pa.array([repr(v) for v in outputs.tolist()], pa.string())
        scores = pa.nulls(total, pa.float64())
    if total == len(group):
        take = None
        rows = pa.array(np.zeros(total, dtype=np.int64))
    else:
        # Per-request values repeated once per row of their request, in C.
        take = pa.array(np.repeat(np.arange(len(group)), counts))
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        rows = pa.array(np.arange(total, dtype=np.int64) - starts)

    def per_request(index: int, arrow_type: pa.DataType) -> pa.Array:
        array = pa.array([e[index] for e in group], arrow_type)
        return array if take is None else array.take(take)

    arrays = [
        _coded_array(columns[name])
        if isinstance(columns[name], Coded)
        else _feature_array(columns[name], types.get(name, ""))
        for name in names
    ]
    arrays += [
        per_request(4, pa.string()),
        rows,
        per_request(5, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        per_request(0, pa.string()),
        per_request(1, pa.string()),
        per_request(2, pa.bool_()),
        pa.repeat(pa.scalar(served.name, pa.string()), total),
        pa.array(np.full(total, served.version, dtype=np.int64)),
        per_request(6, pa.float64()),
        scores,
        labels,
        per_request(9, pa.string()),
        _warnings_array(group, total),
    ]
    return pa.Table.from_arrays(arrays, names=[*names, *META_COLUMNS])


def _warnings_array(group: list[tuple[Any, ...]], total: int) -> pa.Array:
    import pyarrow as pa

    if not any(len(e) > 11 and e[11] for e in group):
        return pa.nulls(total, pa.string())
    values: list[str | None] = []
    for e in group:
        found = e[11] if len(e) > 11 else None
        values.extend(found.per_row(e[7].n) if found else [None] * e[7].n)
    return pa.array(values, pa.string())


def _coded_array(column: Coded) -> pa.Array:
    import pyarrow as pa

    return pa.array(column.values, pa.string()).take(pa.array(column.indices))


def _feature_columns(group: list[tuple[Any, ...]], names: list[str]) -> dict[str, Any]:
    """Each input column's values over the group's rows, in order."""
    # The scorer's kept columns pay off for requests of many rows; for one-row requests,
    # joining thousands of tiny arrays costs more than one walk over the records.
    rows = sum(e[7].n for e in group)
    if rows >= 8 * len(group) and all(len(e) > 12 and e[12] is not None for e in group):
        kept = [e[12] for e in group]
        if all(name in kept[0] for name in names):
            return {name: _joined([k[name] for k in kept]) for name in names}
    fast = getattr(group[0][3], "fast", None)
    if fast is not None and all(e[10] is not None for e in group):
        matrix = group[0][10] if len(group) == 1 else np.concatenate([e[10] for e in group])
        decoded = fast.decode(matrix)
        rest = [name for name in names if name not in decoded]
        if rest:
            decoded.update(_json_columns(group, rest))
        return decoded
    return _json_columns(group, names)


def _joined(parts: list[Any]) -> Any:
    """One column from its parts: numpy arrays concatenated, lists chained."""
    if len(parts) == 1:
        return parts[0]
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return list(chain.from_iterable(parts))


def _json_columns(group: list[tuple[Any, ...]], names: list[str]) -> dict[str, Any]:
    if group[0][7].kind == RECORDS:
        records = [r for e in group for r in e[7].data] if len(group) > 1 else group[0][7].data
        try:
            return transpose(records, names, itemgetter(*names) if len(names) > 1 else None)
        except KeyError:  # a column missing in some records (the canonical path allowed it)
            return {name: [r.get(name) for r in records] for name in names}
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for e in group:
        found = e[7].as_columns()
        for name in names:
            values = found.get(name)
            if values is None:
                columns[name].extend([None] * e[7].n)
            else:
                columns[name].extend(values.tolist() if isinstance(values, np.ndarray) else values)
    return columns


def _feedback_table(labels: list[dict[str, Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.table(
        {
            "_request_id": pa.array([x.get("request_id") for x in labels], pa.string()),
            "_row": pa.array([x.get("row") for x in labels], pa.int64()),
            "_entity": pa.array([x.get("entity") for x in labels], pa.string()),
            "_ts": pa.array([x["_ts"] for x in labels], pa.int64()).cast(
                pa.timestamp("ms", tz="UTC")
            ),
            "label": pa.array([str(x["label"]) for x in labels], pa.string()),
        }
    )


# ---------------------------------------------------------------- sinks


class ParquetSink:
    """Parquet files under ``<root>/<kind>/endpoint=<E>/date=<D>/`` on any fsspec filesystem.

    ``storage_options`` are the fsspec options that reach ``root`` (endpoint,
    region, keys), from the object-store settings.
    """

    def __init__(self, root: str, storage_options: Mapping[str, Any] | None = None) -> None:
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        self.root = root
        self._fs, self._path = url_to_fs(root, **dict(storage_options or {}))
        self._path = self._path.rstrip("/")
        self._local = isinstance(self._fs, LocalFileSystem)

    def write(self, kind: str, endpoint: str, day: str, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        directory = f"{self._path}/{kind}/endpoint={endpoint}/date={day}"
        name = f"part-{uuid.uuid4().hex}.parquet"
        if self._local:
            os.makedirs(directory, exist_ok=True)
            temporary = os.path.join(directory, f".{name}.tmp")
            with open(temporary, "wb") as fh:
                pq.write_table(table, fh)
                fh.flush()
                # On disk before the write-ahead file lets go of these rows.
                os.fsync(fh.fileno())
            os.replace(temporary, os.path.join(directory, name))
            return
        buffer = io.BytesIO()
        pq.write_table(table, buffer)
        # One PUT: an object appears whole or not at all.
        self._fs.pipe_file(f"{directory}/{name}", buffer.getvalue())

    def close(self) -> None:
        return None


class RedisStreamSink:
    """One Redis Stream entry per row: ``{"endpoint": E, "record": <JSON of the row>}``.

    Predictions go to ``stream``, feedback to ``<stream>:feedback``; read them
    back with :func:`read_stream`. Each flush's rows are sent at once, in one
    pipelined batch of ``XADD`` s (a stream consumer wants them now, not as files).
    """

    immediate = True

    def __init__(self, url: str, stream: str, maxlen: int | None = None) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - redis is in the test environment
            raise BackendUnavailable(
                "install modelyard[monitoring] (redis) for the Redis Streams sink"
            ) from exc
        self.stream = stream
        self._maxlen = maxlen
        self._client = redis.Redis.from_url(url)
        try:
            self._client.ping()
        except redis.RedisError as exc:
            raise BackendUnavailable(f"cannot reach Redis at {url}: {exc}") from exc

    def write(self, kind: str, endpoint: str, day: str, table: pa.Table) -> None:
        import orjson

        stream = self.stream if kind == _PREDICTIONS else f"{self.stream}:{kind}"
        pipe = self._client.pipeline(transaction=False)
        for i, row in enumerate(table.to_pylist()):
            pipe.xadd(
                stream,
                {"endpoint": endpoint, "record": orjson.dumps(row)},
                maxlen=self._maxlen,
                approximate=True,
            )
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()

    def close(self) -> None:
        self._client.close()


def make_sink(
    config: PredictionLogConfig,
    artifact_root: str,
    storage_options: Callable[[str], Mapping[str, Any]] | None = None,
) -> Sink | None:
    """The sink the configuration names (None when logging is off).

    ``storage_options`` gives the fsspec options for the log's root (pass
    ``Settings.storage_options``): a function of the root, because the root is
    decided here (``config.root``, else the artifact root).
    """
    if config.sink == "none":
        return None
    if config.sink == "redis":
        return RedisStreamSink(config.redis_url, config.redis_stream, config.redis_maxlen)
    root = config.root or artifact_root
    return ParquetSink(root, storage_options(root) if storage_options is not None else None)


def open_write_ahead_log(
    config: PredictionLogConfig,
    artifact_root: str,
    home: str | os.PathLike[str],
    metrics: ServingMetrics | None = None,
    storage_options: Callable[[str], Mapping[str, Any]] | None = None,
) -> WriteAheadLog | None:
    """Recover what stopped processes left in the write-ahead root, then open this process's.

    None when logging or the write-ahead file is off. The root is ``wal_dir``,
    by default ``<home>/predlog-wal`` (a local disk: it is fsync'd every flush).
    Recovered rows reach an object store with ``storage_options`` (as for
    :func:`make_sink`): this process's settings, so no credential is ever
    written to the write-ahead file's metadata.
    """
    from pathlib import Path

    from modelyard.serving.config import PredictionLogConfig

    if config.sink == "none" or not config.wal:
        return None
    root = Path(config.wal_dir) if config.wal_dir else Path(home) / "predlog-wal"

    def open_sink(meta: dict[str, Any]) -> Sink | None:
        settings = PredictionLogConfig.model_validate(meta["config"])
        return make_sink(settings, meta["artifact_root"], storage_options)

    recover(root, open_sink, metrics)
    meta = {"config": config.model_dump(mode="json"), "artifact_root": artifact_root}
    return WriteAheadLog(root, meta, config.wal_segment_bytes)


# ---------------------------------------------------------------- readers


def _as_datetime(value: Any, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise InvalidInput(f"{what}: {value!r} is not an ISO date or time") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise InvalidInput(f"{what} must be a datetime, date or ISO string; got {value!r}")


def _read_kind(
    kind: str,
    artifact_root: str,
    endpoint: str,
    since: Any,
    until: Any,
    columns: Sequence[str],
    storage_options: Mapping[str, Any] | None,
) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from fsspec.core import url_to_fs

    start, stop = _as_datetime(since, "since"), _as_datetime(until, "until")
    fs, root = url_to_fs(artifact_root, **dict(storage_options or {}))
    base = f"{root.rstrip('/')}/{kind}/endpoint={endpoint}"
    tables = []
    if fs.exists(base):
        for folder in sorted(fs.ls(base, detail=False)):
            label = folder.rstrip("/").rsplit("/", 1)[-1]
            if not label.startswith("date="):
                continue
            day = date.fromisoformat(label[5:])
            if start is not None and day < start.date():
                continue
            if stop is not None and day > (stop - timedelta(microseconds=1)).date():
                continue
            for path in sorted(fs.ls(folder, detail=False)):
                leaf = path.rsplit("/", 1)[-1]
                if leaf.startswith("part-") and leaf.endswith(".parquet"):
                    with fs.open(path, "rb") as fh:
                        tables.append(pq.read_table(fh))
    if not tables:
        return pa.table({name: pa.array([], pa.string()) for name in columns})
    table = pa.concat_tables(tables, promote_options="permissive")
    if start is not None:
        table = table.filter(pc.greater_equal(table["_ts"], pa.scalar(start, table["_ts"].type)))
    if stop is not None:
        table = table.filter(pc.less(table["_ts"], pa.scalar(stop, table["_ts"].type)))
    return table


def read_predictions(
    artifact_root: str,
    endpoint: str,
    since: Any = None,
    until: Any = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Every logged prediction row of ``endpoint`` with ``since <= _ts < until``.

    ``since``/``until`` take datetimes (naive = UTC), dates or ISO strings.
    ``storage_options`` reach a log in an object store
    (``Settings.storage_options(artifact_root)``).
    """
    return _read_kind(
        _PREDICTIONS, artifact_root, endpoint, since, until, META_COLUMNS, storage_options
    )


def read_feedback(
    artifact_root: str,
    endpoint: str,
    since: Any = None,
    until: Any = None,
    *,
    storage_options: Mapping[str, Any] | None = None,
) -> pa.Table:
    """Ground-truth labels of ``endpoint``; join on ``_request_id`` + ``_row`` or ``_entity``.

    ``storage_options`` as for :func:`read_predictions`.
    """
    return _read_kind(
        _FEEDBACK, artifact_root, endpoint, since, until, FEEDBACK_COLUMNS, storage_options
    )


def read_stream(url: str, stream: str, *, count: int | None = None) -> pa.Table:
    """The rows a :class:`RedisStreamSink` appended to ``stream`` (oldest first)."""
    import orjson
    import pyarrow as pa
    import redis

    client = redis.Redis.from_url(url)
    rows: list[dict[str, Any]] = []
    last = "-"
    try:
        while count is None or len(rows) < count:
            chunk = client.xrange(stream, min=last, max="+", count=5_000)
            if last != "-":
                chunk = chunk[1:]  # XRANGE's start is inclusive
            if not chunk:
                break
            for _, fields in chunk:
                rows.append(orjson.loads(fields[b"record"]))
            last = chunk[-1][0].decode()
    finally:
        client.close()
    rows = rows[:count] if count is not None else rows
    table = pa.Table.from_pylist(rows)
    if "_ts" in table.column_names and table.num_rows:
        ts = pa.array(
            [
                datetime.fromisoformat(v) if v is not None else None
                for v in table["_ts"].to_pylist()
            ],
            pa.timestamp("ms", tz="UTC"),
        )
        table = table.set_column(table.column_names.index("_ts"), "_ts", ts)
    return table
