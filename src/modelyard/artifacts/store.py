"""A content-addressed blob store on fsspec, with verified reads.

Blobs live at ``<root>/blobs/sha256/ab/cdef...`` (the first two hex characters
as a folder, the other 62 as the name) and are immutable: the name is the
sha256 of the content, so writing the same content twice is a no-op, and every
read re-hashes the bytes and raises ``IntegrityError`` on a mismatch.

How a write becomes visible without a partial blob ever being seen:

* Local filesystem: the content is copied to ``<root>/blobs/sha256/.tmp-<uuid>``
  while hashing, fsynced, made read-only, then ``os.replace``-d onto its final
  name. The temporary sits under the root (not in the system temp folder) so
  the rename never crosses filesystems and stays atomic. A temp file left by a
  killed process never looks like a blob: names starting with ``.tmp-`` are
  not digests, and ``iter_digests`` skips them.
* Object stores (``s3://``, ``gs://``) and ``memory://``: the content is first
  spooled to a local temporary file while hashing, because the key is the
  digest and is only known at the end. Then it is uploaded straight to its
  final key: an object PUT (single or multipart) is all-or-nothing, so no
  temporary key and server-side copy are needed, nothing is left behind when
  the source fails half-way, and an existing blob is never uploaded again.
  Two writers racing on one key write identical bytes, so either may win.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, cast

from fsspec.implementations.memory import MemoryFileSystem

from modelyard.artifacts._backends import backend_errors, resolve_root
from modelyard.artifacts._digest import format_digest, parse_digest
from modelyard.artifacts._reader import VerifyingReader
from modelyard.artifacts.manifest import (
    ManifestEntry,
    decode_manifest,
    encode_manifest,
    file_mode,
    walk_files,
)
from modelyard.errors import BackendUnavailable, Conflict, IntegrityError, InvalidInput, NotFound

__all__ = ["ArtifactStore", "get_artifact_store"]

CHUNK_SIZE = 1 << 20  # copy granularity: bounds memory whatever the blob size
_REMOTE_BLOCK_SIZE = 8 << 20  # read-ahead per request on object stores
_TMP_PREFIX = ".tmp-"
_BLOB_NAME = re.compile(r"([0-9a-f]{2})/([0-9a-f]{62})")


class ArtifactStore:
    """Immutable blobs and directories addressed by their sha256 digest.

    Args:
        root: A local path or an fsspec URL (``file://``, ``memory://``,
            ``s3://bucket/prefix``, ``gs://bucket/prefix``).
        storage_options: Passed to the fsspec filesystem (credentials,
            ``client_kwargs={"endpoint_url": ...}``, ...).

    Attributes:
        root: The normalised root URL, e.g. ``file:///srv/yard`` or ``s3://b/p``.
        fs: The fsspec filesystem, for tools that need listings (GC, checks).
    """

    def __init__(
        self, root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None
    ) -> None:
        resolved = resolve_root(root, storage_options)
        self.root: str = resolved.url
        self.fs = resolved.fs
        self._root_path = resolved.path
        self._local = resolved.local

    def __repr__(self) -> str:
        return f"ArtifactStore({self.root!r})"

    # -- addresses ---------------------------------------------------------

    def _blob_path(self, hexdigest: str) -> str:
        return f"{self._root_path}/blobs/sha256/{hexdigest[:2]}/{hexdigest[2:]}"

    def location(self, digest: str) -> str:
        """The full URL of a blob (whether or not it exists)."""
        hexdigest = parse_digest(digest)
        return f"{self.root}/blobs/sha256/{hexdigest[:2]}/{hexdigest[2:]}"

    def _missing(self, digest: str) -> str:
        return f"No blob {digest} in the artifact store {self.root}."

    # -- writes --------------------------------------------------------------

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its digest ``"sha256:<hex>"``."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"put_bytes needs bytes. Got {type(data).__name__} instead.")
        data = bytes(data)
        hexdigest = hashlib.sha256(data).hexdigest()
        if self._has_blob(hexdigest, len(data)):
            return format_digest(hexdigest)
        if self._local:
            self._put_local(io.BytesIO(data))
        else:
            with backend_errors(f"write a blob to {self.root}"):
                self.fs.pipe_file(self._blob_path(hexdigest), data)
        return format_digest(hexdigest)

    def put_file(self, path: str | Path) -> str:
        """Store a local file, streaming it in 1 MiB chunks; returns its digest."""
        return format_digest(self._put_file(path)[0])

    def put_stream(self, stream: BinaryIO) -> str:
        """Store everything ``stream.read()`` yields until EOF; returns its digest.

        If ``stream`` raises, the error propagates unchanged and no blob, no
        temporary object and no temporary file is left behind.
        """
        if not callable(getattr(stream, "read", None)):
            raise InvalidInput(f"put_stream needs a binary file-like. Got {type(stream).__name__}.")
        hexdigest, _ = self._put_local(stream) if self._local else self._put_remote(stream)
        return format_digest(hexdigest)

    def put_dir(self, path: str | Path) -> str:
        """Store a directory's files and manifest; returns the manifest's digest.

        See ``modelyard.artifacts.manifest`` for the format, symlinks and modes.
        """
        root = Path(path)
        if not root.is_dir():
            if root.exists():
                raise InvalidInput(f"{root} is not a directory; use put_file for a file.")
            raise NotFound(f"No directory at {root}.")
        files: dict[str, ManifestEntry] = {}
        try:
            found = [
                (relpath, file, file_mode(file.stat().st_mode))
                for relpath, file in walk_files(root)
            ]
        except OSError as exc:  # the caller's tree, not the store: bad input
            raise InvalidInput(f"Cannot read the directory {root}: {exc}") from exc
        for relpath, file, mode in found:
            hexdigest, size = self._put_file(file)
            files[relpath] = {"digest": format_digest(hexdigest), "size": size, "mode": mode}
        return self.put_bytes(encode_manifest(files))

    def _put_file(self, path: str | Path) -> tuple[str, int]:
        if not isinstance(path, str | os.PathLike):
            raise InvalidInput(f"put_file needs a path. Got {type(path).__name__} instead.")
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed below, after the branch
        except FileNotFoundError as exc:
            raise NotFound(f"No file at {os.fspath(path)}.") from exc
        except IsADirectoryError as exc:
            raise InvalidInput(f"{os.fspath(path)} is a directory; use put_dir.") from exc
        except OSError as exc:
            raise InvalidInput(f"Cannot read {os.fspath(path)}: {exc.strerror}.") from exc
        with stream:
            return self._put_local(stream) if self._local else self._put_remote(stream)

    def _has_blob(self, hexdigest: str, size: int) -> bool:
        """Whether a complete copy exists: a truncated one is rewritten, not kept."""
        with backend_errors(f"look up a blob in {self.root}"):
            try:
                info = self.fs.info(self._blob_path(hexdigest))
            except FileNotFoundError:
                return False
        return info.get("type") == "file" and info.get("size") == size

    def _put_local(self, stream: BinaryIO) -> tuple[str, int]:
        tmp_dir = f"{self._root_path}/blobs/sha256"
        tmp = os.path.join(tmp_dir, f"{_TMP_PREFIX}{uuid.uuid4().hex}")
        try:
            with backend_errors(f"write a blob to {self.root}"):
                os.makedirs(tmp_dir, exist_ok=True)
                out = open(tmp, "xb")  # noqa: SIM115 - closed by the with below
            with out:
                hexdigest, size = _copy_hashing(stream, out.write, f"write a blob to {self.root}")
                with backend_errors(f"write a blob to {self.root}"):
                    out.flush()
                    os.fsync(out.fileno())
            if not self._has_blob(hexdigest, size):
                final = self._blob_path(hexdigest)
                with backend_errors(f"commit blob sha256:{hexdigest} to {self.root}"):
                    os.chmod(tmp, 0o444)  # a guard against edits in place
                    os.makedirs(os.path.dirname(final), exist_ok=True)
                    try:
                        os.replace(tmp, final)
                    except PermissionError:
                        # Windows refuses to replace a read-only file: a racing
                        # writer got there first with the same content.
                        if not self._has_blob(hexdigest, size):
                            raise
                    _fsync_dir(os.path.dirname(final))
            return hexdigest, size
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)

    def _put_remote(self, stream: BinaryIO) -> tuple[str, int]:
        fd, spool = tempfile.mkstemp(prefix="modelyard-upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                hexdigest, size = _copy_hashing(stream, out.write, "spool an upload locally")
            if not self._has_blob(hexdigest, size):
                final = self._blob_path(hexdigest)
                with backend_errors(f"upload blob sha256:{hexdigest} to {self.root}"):
                    if isinstance(self.fs, MemoryFileSystem):
                        # Memory files are visible while being written; one
                        # pipe_file swaps the whole value in at once.
                        self.fs.pipe_file(final, Path(spool).read_bytes())
                    else:
                        self.fs.put_file(spool, final)
            return hexdigest, size
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(spool)

    # -- reads ---------------------------------------------------------------

    def get_bytes(self, digest: str) -> bytes:
        """Read a whole blob, verified.

        Raises:
            NotFound: no such blob.
            IntegrityError: the stored bytes do not hash to ``digest``.
        """
        hexdigest = parse_digest(digest)
        with backend_errors(f"read blob {digest}", missing=self._missing(digest)):
            data = self.fs.cat_file(self._blob_path(hexdigest))
        actual = hashlib.sha256(data).hexdigest()
        if actual != hexdigest:
            raise self._corrupt(digest, actual, len(data))
        return data

    @contextlib.contextmanager
    def open(self, digest: str) -> Iterator[BinaryIO]:
        """Open a blob for streaming reads, verified at the end.

        The content is hashed as it is read; the read that reaches the last
        byte raises ``IntegrityError`` if the hash does not match. Bytes
        returned before that point are unverified: consumers that act on data
        before EOF (parsers, uploads) must be ready to discard their work. A
        reader that stops early gets no verification. The stream is not
        seekable.

        Raises:
            NotFound: no such blob (raised on entering the context).
            IntegrityError: on the read that completes a corrupt blob.
        """
        hexdigest = parse_digest(digest)
        path = self._blob_path(hexdigest)
        action = f"read blob {digest}"
        with backend_errors(action, missing=self._missing(digest)):
            if self._local:
                source: Any = open(path, "rb")  # noqa: SIM115 - owned by the reader
                size = os.fstat(source.fileno()).st_size
            elif isinstance(self.fs, MemoryFileSystem):
                # Memory files share one read position between all openers.
                source = io.BytesIO(self.fs.cat_file(path))
                size = len(source.getbuffer())
            else:
                source = self.fs.open(path, "rb", block_size=_REMOTE_BLOCK_SIZE)
                size = source.size
        reader = VerifyingReader(
            source,
            expected=hexdigest,
            size=size,
            on_mismatch=lambda actual, n: self._corrupt(digest, actual, n),
            errors=lambda: backend_errors(action, missing=self._missing(digest)),
        )
        with io.BufferedReader(reader, CHUNK_SIZE) as buffered:
            yield cast(BinaryIO, buffered)

    def get_file(self, digest: str, dest: str | Path) -> Path:
        """Copy a blob to a local file, verified before it appears at ``dest``.

        The copy goes to a temporary file next to ``dest`` and is renamed only
        once the whole content has hashed correctly, so a corrupt blob never
        leaves a file at ``dest``. Parent folders are created.
        """
        dest = Path(dest)
        parse_digest(digest)
        if dest.is_dir():
            raise InvalidInput(f"The 'dest' of get_file is a directory: {dest}. Give a file path.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f"{_TMP_PREFIX}{dest.name}-{uuid.uuid4().hex}")
        try:
            with self.open(digest) as source, open(tmp, "xb") as out:
                shutil.copyfileobj(source, out, CHUNK_SIZE)  # to EOF: verified
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def read_manifest(self, digest: str) -> dict[str, Any]:
        """Read a directory manifest (``{"format": ..., "files": {path: entry}}``).

        Raises:
            InvalidInput: the blob is not a manifest.
        """
        return decode_manifest(self.get_bytes(digest), digest)

    def get_dir(self, digest: str, dest: str | Path) -> Path:
        """Materialise a directory manifest at ``dest``, all or nothing.

        Files are verified and assembled in a hidden sibling folder, which is
        renamed to ``dest`` at the end, so a failure leaves nothing at ``dest``.

        Raises:
            Conflict: ``dest`` exists and is not an empty directory.
        """
        files: Mapping[str, ManifestEntry] = self.read_manifest(digest)["files"]
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise Conflict(f"{dest} exists and is not an empty directory; choose a new path.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        named = dest.absolute()  # so that a dest of "." still has a name
        staging = named.with_name(f"{_TMP_PREFIX}{named.name}-{uuid.uuid4().hex}")
        try:
            staging.mkdir()
            for relpath, entry in files.items():
                target = self.get_file(entry["digest"], staging.joinpath(*relpath.split("/")))
                if target.stat().st_size != entry["size"]:
                    raise IntegrityError(
                        f"Manifest {digest} gives {relpath!r} {entry['size']} bytes but its "
                        f"blob {entry['digest']} has {target.stat().st_size}.",
                        details={"digest": digest, "path": relpath},
                    )
                os.chmod(target, entry["mode"])
            if named.exists():
                named.rmdir()  # empty, checked above; rename cannot replace it portably
            os.replace(staging, named)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dest

    # -- inspection and maintenance -----------------------------------------

    def exists(self, digest: str) -> bool:
        """Whether the blob is stored (without verifying its content)."""
        hexdigest = parse_digest(digest)
        with backend_errors(f"look up blob {digest}"):
            return bool(self.fs.isfile(self._blob_path(hexdigest)))

    def size(self, digest: str) -> int:
        """The stored size of a blob in bytes."""
        hexdigest = parse_digest(digest)
        with backend_errors(f"look up blob {digest}", missing=self._missing(digest)):
            return int(self.fs.size(self._blob_path(hexdigest)))

    def verify(self, digest: str) -> None:
        """Re-hash a whole blob, streaming; raises ``IntegrityError`` on mismatch."""
        with self.open(digest) as stream:
            while stream.read(CHUNK_SIZE):
                pass

    def delete(self, digest: str) -> None:
        """Remove a blob. Only a garbage collector that knows it is unreferenced should.

        Raises:
            NotFound: no such blob (object stores delete missing keys silently,
                so existence is checked first).
        """
        if not self.exists(digest):
            raise NotFound(self._missing(digest))
        path = self._blob_path(parse_digest(digest))
        with backend_errors(f"delete blob {digest}", missing=self._missing(digest)):
            if self._local:
                os.chmod(path, 0o644)  # Windows will not remove a read-only file
            self.fs.rm_file(path)

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob, in no particular order.

        Only names of the blob layout count, so temporary files are never listed.
        """
        base = f"{self._root_path}/blobs/sha256"
        with backend_errors(f"list the blobs of {self.root}"):
            paths = self.fs.find(base) if self.fs.isdir(base) else []
        for path in paths:
            match = _BLOB_NAME.fullmatch(self.fs._strip_protocol(path)[len(base) + 1 :])
            if match:
                yield format_digest(match.group(1) + match.group(2))

    def _corrupt(self, digest: str, actual: str, size: int) -> IntegrityError:
        location = self.location(digest)
        return IntegrityError(
            f"Blob {digest} at {location} is corrupt: its {size} bytes hash to "
            f"sha256:{actual}. Restore it from a backup, or delete it and put the "
            "original content again.",
            details={"digest": digest, "location": location, "actual": format_digest(actual)},
        )


def get_artifact_store(url: str, *, storage_options: dict[str, Any] | None = None) -> ArtifactStore:
    """Open the artifact store at ``url``, choosing the backend by its scheme.

    Raises:
        InvalidInput: unsupported scheme (the message lists the supported ones).
        BackendUnavailable: the backend's extra is missing, with an install hint
            such as "install modelyard[s3] to use s3:// artifact roots".
    """
    return ArtifactStore(url, storage_options=storage_options)


def _copy_hashing(src: BinaryIO, write: Callable[[bytes], object], action: str) -> tuple[str, int]:
    """Copy ``src`` to ``write`` in chunks, hashing; returns (hex digest, size).

    Errors from ``src`` propagate unchanged (they are the caller's); errors
    from ``write`` are the store's and become ``BackendUnavailable``.
    """
    hasher = hashlib.sha256()
    size = 0
    while True:
        chunk = src.read(CHUNK_SIZE)
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise InvalidInput(
                f"The stream to store must yield bytes. Got {type(chunk).__name__} "
                "(open files in binary mode, 'rb')."
            )
        if not chunk:
            return hasher.hexdigest(), size
        hasher.update(chunk)
        size += len(chunk)
        try:
            write(chunk)
        except OSError as exc:
            raise BackendUnavailable(f"Could not {action}: {exc}") from exc


def _fsync_dir(path: str) -> None:
    """Persist a rename; best effort, as some platforms cannot open folders."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
