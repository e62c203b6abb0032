"""The output folder of a batch job on any fsspec filesystem, written atomically.

Layout under the output URL::

    part-00000.parquet ...            scored rows, one file per part
    _rejects/part-00000.parquet       rows that failed a per-row check, with ``_reason``
    _modelyard_parts/part-00000.json  completion marker of each part
    _modelyard_job.json               the job manifest

Every file is written under a hidden temporary name (``.NAME.tmp-<random>``)
and renamed into place, so a reader — or a resumed job — never sees half a
file. Readers that follow the Hive/Spark convention skip names starting with
``.`` or ``_``, so the output folder reads as one Parquet dataset.
"""

from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import orjson

from modelyard.errors import BackendUnavailable, Conflict, InvalidInput

MANIFEST = "_modelyard_job.json"
LOCK = "_modelyard_job.lock"
REJECTS = "_rejects"
MARKERS = "_modelyard_parts"
_TMP = ".tmp-"
_EXTRAS = {"s3": "s3", "gs": "gcs", "gcs": "gcs"}


def filesystem(url: str, storage_options: Mapping[str, Any] | None = None) -> tuple[Any, str]:
    """(fsspec filesystem, protocol) for ``url``; object stores without listing caches."""
    from fsspec.core import url_to_fs

    scheme = url.split("://", 1)[0].lower() if "://" in url else "file"
    # Options are for the remote store; a local path takes none.
    options = dict(storage_options or {}) if scheme not in ("file", "local") else {}
    if scheme in _EXTRAS:
        options.setdefault("use_listings_cache", False)
    try:
        fs, _ = url_to_fs(url, **options)
    except ImportError as exc:
        extra = _EXTRAS.get(scheme, scheme)
        raise BackendUnavailable(
            f"install modelyard[{extra}] to read or write {scheme}:// URLs"
        ) from exc
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"cannot open {url!r}: {exc}") from exc
    protocol = fs.protocol[0] if isinstance(fs.protocol, tuple | list) else fs.protocol
    return fs, "file" if protocol in ("file", "local") else protocol


def normalise_url(url: str) -> str:
    """An absolute, protocol-qualified URL without a trailing slash (the job's identity)."""
    if "://" not in url:
        return "file://" + os.path.abspath(os.path.expanduser(url))
    scheme, rest = url.split("://", 1)
    if scheme.lower() == "file":
        return "file://" + os.path.abspath(rest)
    return f"{scheme.lower()}://{rest.rstrip('/')}"


class OutputDir:
    """The output folder of one job; paths are relative to it, with '/' separators."""

    manifest_path = MANIFEST

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        from fsspec.core import strip_protocol

        self.storage_options = dict(storage_options or {})
        self.fs, self.protocol = filesystem(url, self.storage_options)
        self.root = strip_protocol(url).rstrip("/") if "://" in url else os.path.abspath(url)
        if self.protocol == "file":
            self.root = os.path.abspath(self.root)
        self.root_url = self.root if self.protocol == "file" else f"{self.protocol}://{self.root}"
        self._lock_handle: Any = None

    def __getstate__(self) -> dict[str, Any]:
        # Shipped to workers: the filesystem is rebuilt there, the lock stays here.
        return {"url": self.root_url, "storage_options": self.storage_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["url"], state["storage_options"])  # type: ignore[misc]

    @property
    def local(self) -> bool:
        return self.protocol == "file"

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def url(self, rel: str) -> str:
        return f"{self.root_url}/{rel}"

    # -- names ---------------------------------------------------------------
    @staticmethod
    def part_name(index: int, width: int) -> str:
        return f"part-{index:0{width}d}.parquet"

    @staticmethod
    def rejects_name(index: int, width: int) -> str:
        return f"{REJECTS}/part-{index:0{width}d}.parquet"

    @staticmethod
    def marker_name(index: int, width: int) -> str:
        return f"{MARKERS}/part-{index:0{width}d}.json"

    # -- writes --------------------------------------------------------------
    def makedirs(self) -> None:
        with _errors(f"create the output folder {self.root_url}"):
            for rel in ("", REJECTS, MARKERS):
                self.fs.makedirs(self.path(rel).rstrip("/"), exist_ok=True)

    def temp_name(self, rel: str) -> str:
        head, _, name = rel.rpartition("/")
        temp = f".{name}{_TMP}{uuid.uuid4().hex[:12]}"
        return f"{head}/{temp}" if head else temp

    @contextlib.contextmanager
    def open_temp(self, rel: str) -> Iterator[tuple[str, BinaryIO]]:
        """A writable file under a temporary name; commit it with :meth:`commit`.

        On a local disk the file's bytes are flushed to the device before it is
        closed (``fsync``): a part's marker, written after its file is committed,
        must never name a file that a power loss or a node crash would leave
        empty or cut short. (An object store's upload is durable when it returns.)
        """
        temp = self.temp_name(rel)
        with _errors(f"write {self.url(rel)}"), self.fs.open(self.path(temp), "wb") as fh:
            yield temp, fh
            self.sync(fh, rel)

    def sync(self, handle: BinaryIO, rel: str) -> None:
        """Flush a temporary file's bytes to the device (local disks; see :meth:`open_temp`)."""
        if self.local:
            with _errors(f"write {self.url(rel)}"):
                handle.flush()
                os.fsync(handle.fileno())

    def commit(self, temp: str, rel: str) -> None:
        """Rename a finished temporary file into place (atomic locally; copy+delete on S3/GCS).

        Locally the folder is synced after the rename, so that the new name is on the
        device before anything written later (the part's marker) is.
        """
        with _errors(f"write {self.url(rel)}"):
            if self.local:
                target = self.path(rel)
                os.replace(self.path(temp), target)
                _sync_folder(os.path.dirname(target))
            else:
                self.fs.mv(self.path(temp), self.path(rel))

    def write_atomic(self, rel: str, data: bytes) -> None:
        with self.open_temp(rel) as (temp, fh):
            fh.write(data)
        self.commit(temp, rel)

    def remove(self, rel: str) -> None:
        with _errors(f"remove {self.url(rel)}"), contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(rel))

    def write_marker(self, rel: str, data: Mapping[str, Any]) -> None:
        self.write_atomic(rel, orjson.dumps(dict(data)))

    # -- reads ---------------------------------------------------------------
    def read_bytes(self, rel: str) -> bytes | None:
        try:
            with _errors(f"read {self.url(rel)}"):
                return bytes(self.fs.cat_file(self.path(rel)))
        except BackendUnavailable as exc:
            if isinstance(exc.__cause__, FileNotFoundError):
                return None
            raise

    def exists(self) -> bool:
        with _errors(f"read {self.root_url}"):
            return bool(self.fs.exists(self.root))

    def listing(self, *, recursive: bool = False) -> list[str]:
        """Relative paths of the files in the folder (all of them when ``recursive``)."""
        if not self.exists():
            return []
        prefix = self.root.rstrip("/") + "/"
        with _errors(f"list {self.root_url}"):
            found = self.fs.find(self.root) if recursive else self.fs.ls(self.root, detail=False)
        return [p[len(prefix) :] if p.startswith(prefix) else p for p in found if p != self.root]

    def read_markers(self) -> list[dict[str, Any]]:
        markers = []
        for rel in self.listing(recursive=True):
            name = rel.rpartition("/")[2]
            if rel.startswith(MARKERS + "/") and name.endswith(".json") and _TMP not in name:
                raw = self.read_bytes(rel)
                if raw:
                    with contextlib.suppress(ValueError):
                        markers.append(orjson.loads(raw))
        return markers

    # -- maintenance ---------------------------------------------------------
    def remove_temporaries(self) -> int:
        """Delete temporary files left by a killed attempt; returns how many."""
        stale = [rel for rel in self.listing(recursive=True) if _TMP in rel.rpartition("/")[2]]
        for rel in stale:
            self.remove(rel)
        return len(stale)

    def remove_job_files(self) -> None:
        """Delete a previous job's files (parts, rejects, markers, manifest) and nothing else."""
        ours = [
            rel
            for rel in self.listing(recursive=True)
            if rel.startswith((REJECTS + "/", MARKERS + "/", "part-", ".part-", "."))
            or rel in (MANIFEST, LOCK)
        ]
        others = sorted(set(self.listing(recursive=True)) - set(ours))
        if others:
            raise Conflict(
                f"output {self.root_url} holds files that are not a batch job's "
                f"({', '.join(others[:3])}); refusing to overwrite it"
            )
        for rel in ours:
            self.remove(rel)
        for folder in (REJECTS, MARKERS):
            with _errors(f"remove {self.url(folder)}"), contextlib.suppress(FileNotFoundError):
                if self.fs.exists(self.path(folder)):
                    self.fs.rm(self.path(folder), recursive=True)

    # -- a lock against a second process scoring the same job -------------------
    def lock(self) -> None:
        """Hold an exclusive lock for this process (local folders; released when it dies)."""
        if not self.local:
            return  # object stores have no locks; the job id keeps retries idempotent
        import fcntl

        handle = open(self.path(LOCK), "a+b")  # noqa: SIM115 - held until unlock()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise Conflict(
                f"another process is running the batch job in {self.root_url}; "
                "wait for it or stop it first"
            ) from exc
        self._lock_handle = handle

    def unlock(self, *, remove: bool = False) -> None:
        if self._lock_handle is None:
            return
        if remove:
            with contextlib.suppress(OSError):
                os.unlink(self.path(LOCK))
        self._lock_handle.close()
        self._lock_handle = None


@contextlib.contextmanager
def _errors(action: str) -> Iterator[None]:
    """fsspec and cloud SDK errors as BackendUnavailable (FileNotFoundError kept as the cause)."""
    try:
        yield
    except (Conflict, InvalidInput, BackendUnavailable):
        raise
    except OSError as exc:
        raise BackendUnavailable(f"Could not {action}: {type(exc).__name__}: {exc}") from exc


def _sync_folder(folder: str) -> None:
    """``fsync`` a folder (its entries: a rename's new name) where the platform allows it."""
    try:
        handle = os.open(folder or ".", os.O_RDONLY)
    except OSError:  # a platform without folder handles (Windows)
        return
    try:
        os.fsync(handle)
    except OSError as exc:
        # Some filesystems refuse fsync on a folder: the rename stands. A write-back
        # failure (EIO, ENOSPC) is not a refusal, and fails the commit.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EACCES):
            raise
    finally:
        os.close(handle)
