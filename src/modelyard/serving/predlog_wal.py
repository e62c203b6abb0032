"""The prediction log's write-ahead file: what a crash may lose is one flush interval, counted.

Every ``flush_interval_s`` (1 s by default) the flusher turns the queued
records into Arrow tables and appends them here, then ``fsync``\\ s; only later
do they become Parquet files (or Redis entries) of a useful size. When a table
has reached the sink a ``DONE`` record says so, and a segment whose tables
are all done is deleted (oldest first). A clean shutdown leaves nothing.

How a loss is measured. Each process counts the rows it *admits* to the log
(the sequence number of its last row) in an 8-byte file mapped into memory:
a request stores the count with one memory write, no system call, and the
kernel keeps the page when the process is killed (only a machine crash loses
it). Every flush appends a ``MARK`` with the count of rows it has taken from
the queue. After a SIGKILL the next process to start recovers the directory —
its lock is free — writes the tables not yet done to the sink, and counts
``admitted - last MARK`` rows as lost (``modelyard_prediction_log_lost``, and
an error line in the log): the rows that were still in memory.

Layout, one directory per process under the WAL root::

    <root>/<host>-<pid>-<hex>/lock          flock'd while the process lives
                              meta.json     where its rows go (the sink)
                              admitted      int64, memory-mapped
                              seg-00000001.wal ...

A record is ``tag(4) header_len(u32) payload_len(u64) header(JSON) payload
crc32(u32)``; a torn record at the end of a segment (a crash mid-write) ends
the segment. ``DATA`` carries one table (Arrow IPC) and its partition;
``MARK`` the rows taken so far; ``DONE`` the ids of tables that left.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import shutil
import socket
import struct
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import pyarrow as pa

    from modelyard.serving.metrics import ServingMetrics

__all__ = ["RecoveryResult", "WriteAheadLog", "recover"]

logger = logging.getLogger("modelyard.serving")

_FRAME = struct.Struct("<4sIQ")
_CRC = struct.Struct("<I")
_DATA, _MARK, _DONE = b"DATA", b"MARK", b"DONE"
_FILE_MAGIC = b"MYWAL001"
Key = tuple[str, str, str]  # (kind, endpoint, day)


class WriteAheadLog:
    """The write-ahead file of one process. Used by the flusher thread only (``admitted``
    by the request path)."""

    def __init__(self, root: str | Path, meta: dict[str, Any], segment_bytes: int) -> None:
        self.root = Path(root)
        self.directory = self.root / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.directory.mkdir(parents=True, exist_ok=False)
        self._lock = open(self.directory / "lock", "wb")  # noqa: SIM115 (held for the life)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        _write_atomic(self.directory / "meta.json", orjson.dumps(meta))
        counter = self.directory / "admitted"
        counter.write_bytes(b"\0" * 8)
        self._counter_file = open(counter, "r+b")  # noqa: SIM115
        self._map = mmap.mmap(self._counter_file.fileno(), 8)
        self.admitted = memoryview(self._map).cast("q")
        """``admitted[0]``: rows admitted so far; the request path writes it."""
        self._segment_bytes = segment_bytes
        self._segments: OrderedDict[int, set[int]] = OrderedDict()  # number -> ids not done
        self._where: dict[int, int] = {}  # table id -> segment number
        self._next_id = 0
        self._through = 0
        self._number = 0
        self._file: Any = None
        self._size = 0
        self._open_segment()

    # -- writing ------------------------------------------------------------------
    def append(self, key: Key, table: pa.Table, through: int | None = None) -> int:
        """Append one table (buffered; durable after :meth:`sync`); returns its id.

        ``through``: with this table, rows ``1..through`` of the admitted sequence are
        in the file (given on the last table of a flushed chunk).
        """
        import pyarrow as pa

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        table_id = self._next_id
        self._next_id += 1
        header: dict[str, Any] = {"id": table_id, "kind": key[0], "endpoint": key[1], "day": key[2]}
        if through is not None:
            header["through"] = through
            self._through = through
        self._record(_DATA, header, sink.getvalue().to_pybytes())
        self._segments[self._number].add(table_id)
        self._where[table_id] = self._number
        return table_id

    def mark(self, through: int) -> None:
        """Rows ``1..through`` of the admitted sequence are in the file (or counted dropped)."""
        self._through = through
        self._record(_MARK, {"through": through}, b"")

    def done(self, ids: list[int]) -> None:
        """Tables that reached the sink (or were dropped, counted): never recover them."""
        if not ids:
            return
        self._record(_DONE, {"ids": ids}, b"")
        for table_id in ids:
            number = self._where.pop(table_id, None)
            if number is not None:
                self._segments[number].discard(table_id)
        if self._size >= self._segment_bytes or (
            not self._segments[self._number] and self._size >= 1 << 20
        ):
            self.sync()
            self._open_segment()
        self._delete_finished()

    def sync(self) -> None:
        """Everything appended so far is on disk when this returns."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Release the directory; delete it when every table reached the sink."""
        clean = not any(self._segments.values())
        self._file.close()
        self.admitted.release()
        self._map.close()
        self._counter_file.close()
        if clean:
            shutil.rmtree(self.directory, ignore_errors=True)
        else:
            self.sync_directory()
        self._lock.close()  # releases the flock: the next start recovers what is left

    def sync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- internals ------------------------------------------------------------------
    def _record(self, tag: bytes, header: dict[str, Any], payload: bytes) -> None:
        head = orjson.dumps(header)
        crc = zlib.crc32(payload, zlib.crc32(head))
        data = b"".join((_FRAME.pack(tag, len(head), len(payload)), head, payload, _CRC.pack(crc)))
        self._file.write(data)
        self._size += len(data)

    def _open_segment(self) -> None:
        if self._file is not None:
            self._file.close()
        self._number += 1
        path = self.directory / f"seg-{self._number:08d}.wal"
        self._file = open(path, "ab", buffering=1 << 20)  # noqa: SIM115
        self._file.write(_FILE_MAGIC)
        self._size = len(_FILE_MAGIC)
        self._segments[self._number] = set()
        # Each segment repeats the mark, so deleting older segments never loses it.
        self._record(_MARK, {"through": self._through}, b"")
        self.sync()
        self.sync_directory()

    def _delete_finished(self) -> None:
        while len(self._segments) > 1:
            number, outstanding = next(iter(self._segments.items()))
            if outstanding:
                return
            del self._segments[number]
            with contextlib.suppress(FileNotFoundError):
                (self.directory / f"seg-{number:08d}.wal").unlink()


# ---------------------------------------------------------------- recovery


class RecoveryResult:
    """What one start-up recovery found: rows written to the sink, rows lost, directories."""

    def __init__(self) -> None:
        self.recovered = 0
        self.lost = 0
        self.directories: list[str] = []


def recover(
    root: str | Path,
    open_sink: Callable[[dict[str, Any]], Any],
    metrics: ServingMetrics | None = None,
) -> RecoveryResult:
    """Recover the WAL directories under ``root`` whose process is gone.

    ``open_sink(meta)`` returns the sink the dead process wrote to. A directory
    whose rows cannot be written (the sink is down) is left for the next start.
    """
    result = RecoveryResult()
    base = Path(root)
    if not base.is_dir():
        return result
    for directory in sorted(p for p in base.iterdir() if p.is_dir()):
        lock_path = directory / "lock"
        try:
            lock = open(lock_path, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            continue  # not a WAL directory, or another starting worker just recovered it
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live process owns it
            if not _still_there(lock, lock_path):
                # Workers start together: another one recovered and deleted this directory
                # between our listing it and our lock. Its rows are in the sink once.
                continue
            try:
                rows, lost = _recover_one(directory, open_sink)
            except Exception:
                logger.exception(
                    "cannot recover the prediction log in %s; it is kept for the next start",
                    directory,
                )
                continue
            # Deleted while still locked: no other starting process recovers it twice.
            shutil.rmtree(directory, ignore_errors=True)
        result.recovered += rows
        result.lost += lost
        result.directories.append(str(directory))
        if metrics is not None:
            metrics.log_recovered.inc(rows)
            metrics.log_lost.inc(lost)
        if not rows and not lost:
            continue  # a process that logged nothing, or wrote everything before it stopped
        log = logger.error if lost else logger.warning
        log(
            "prediction log recovered from a process that stopped without closing it (%s): "
            "%d rows recovered, %d rows lost (logged after its last flush)",
            directory.name,
            rows,
            lost,
            extra={"recovered_rows": rows, "lost_rows": lost},
        )
    return result


def _still_there(lock: Any, lock_path: Path) -> bool:
    """Whether the file we locked is still the directory's lock (not deleted under us)."""
    try:
        return os.stat(lock_path).st_ino == os.fstat(lock.fileno()).st_ino
    except FileNotFoundError:
        return False


def _recover_one(directory: Path, open_sink: Callable[[dict[str, Any]], Any]) -> tuple[int, int]:
    import pyarrow as pa

    meta = orjson.loads((directory / "meta.json").read_bytes())
    counter = directory / "admitted"
    admitted = struct.unpack("<q", counter.read_bytes()[:8])[0] if counter.exists() else 0
    tables: dict[int, tuple[Key, bytes]] = {}
    done: set[int] = set()
    through = 0
    for segment in sorted(directory.glob("seg-*.wal")):
        for tag, header, payload in _records(segment.read_bytes()):
            if tag == _DATA:
                key = (header["kind"], header["endpoint"], header["day"])
                tables[header["id"]] = (key, payload)
                through = max(through, int(header.get("through", 0)))
            elif tag == _MARK:
                through = max(through, int(header["through"]))
            elif tag == _DONE:
                done.update(header["ids"])
    grouped: dict[Key, list[pa.Table]] = {}
    for table_id in sorted(tables):
        if table_id in done:
            continue
        key, payload = tables[table_id]
        grouped.setdefault(key, []).append(pa.ipc.open_stream(payload).read_all())
    rows = 0
    if grouped:
        sink = open_sink(meta)
        try:
            for (kind, endpoint, day), found in grouped.items():
                table = pa.concat_tables(found, promote_options="permissive")
                sink.write(kind, endpoint, day, table)
                if kind == "predictions":
                    rows += table.num_rows
        finally:
            sink.close()
    return rows, max(0, admitted - through)


def _records(data: bytes) -> list[tuple[bytes, dict[str, Any], bytes]]:
    """The whole records of one segment; a torn or corrupt record ends it."""
    out: list[tuple[bytes, dict[str, Any], bytes]] = []
    if not data.startswith(_FILE_MAGIC):
        return out
    offset = len(_FILE_MAGIC)
    while offset + _FRAME.size <= len(data):
        tag, head_len, payload_len = _FRAME.unpack_from(data, offset)
        start = offset + _FRAME.size
        end = start + head_len + payload_len
        if tag not in (_DATA, _MARK, _DONE) or end + _CRC.size > len(data):
            break
        head, payload = data[start : start + head_len], data[start + head_len : end]
        if _CRC.unpack_from(data, end)[0] != zlib.crc32(payload, zlib.crc32(head)):
            break
        out.append((tag, orjson.loads(head), payload))
        offset = end + _CRC.size
    return out


def _write_atomic(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, path)
