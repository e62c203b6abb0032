"""Blobs through the server: the ``ArtifactStore`` calls the registry and loaders need.

Uploads hash the file first and send the hash in ``X-Content-SHA256``, so the
server refuses bytes damaged in transit; a blob the server already has is not
sent again. Downloads stream to a temporary file while hashing and appear at
their destination only when the hash matches — the client checks what the
server checked. Directories use the same manifest format as the store, so a
model directory uploaded here has the digest it would have locally.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from modelyard.artifacts.manifest import decode_manifest, encode_manifest, file_mode, walk_files
from modelyard.client._http import Transport
from modelyard.errors import Conflict, IntegrityError, InvalidInput, NotFound

CHUNK = 1 << 20


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return "sha256:" + digest.hexdigest(), size


class RemoteArtifacts:
    """Content-addressed blobs on a Modelyard server (``/api/v1/artifacts``)."""

    def __init__(self, transport: Transport) -> None:
        self._http = transport
        self.root = f"{transport.url}/api/v1/artifacts"

    def __repr__(self) -> str:
        return f"RemoteArtifacts({self.root!r})"

    # -- writes ---------------------------------------------------------------
    def exists(self, digest: str) -> bool:
        return bool(self._http.get(f"/artifacts/blobs/{digest}/exists")["exists"])

    def size(self, digest: str) -> int:
        found = self._http.get(f"/artifacts/blobs/{digest}/exists")
        if not found["exists"]:
            raise NotFound(f"No blob {digest} on the server.")
        return int(found["size"])

    def _send(self, chunks: Iterator[bytes], claimed: str | None) -> str:
        headers = {"Content-Type": "application/octet-stream"}
        if claimed:
            headers["X-Content-SHA256"] = claimed
        return self._http.json("PUT", "/artifacts/blobs", content=chunks, headers=headers)["digest"]

    def put_file(self, path: str | Path) -> str:
        path = Path(path)
        if not path.is_file():
            raise NotFound(f"No file at {path}.")
        digest, _ = _sha256_file(path)
        if self.exists(digest):
            return digest

        def chunks() -> Iterator[bytes]:
            with path.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk

        stored = self._send(chunks(), digest)
        if stored != digest:  # the server already refuses this (422); belt and braces
            raise IntegrityError(f"uploaded {path} as {digest} but the server stored {stored}")
        return stored

    def put_bytes(self, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest
        return self._send(iter([bytes(data)]), digest)

    def put_stream(self, stream: BinaryIO) -> str:
        """Upload everything ``stream`` yields; the hash is compared with the server's."""
        hasher = hashlib.sha256()

        def chunks() -> Iterator[bytes]:
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
                yield chunk

        stored = self._send(chunks(), None)
        if stored != "sha256:" + hasher.hexdigest():
            raise IntegrityError(
                f"the server stored {stored} but the bytes sent hash to sha256:{hasher.hexdigest()}"
            )
        return stored

    def put_dir(self, path: str | Path) -> str:
        root = Path(path)
        if not root.is_dir():
            raise InvalidInput(f"{root} is not a directory.")
        files: dict[str, Any] = {}
        for relpath, file in walk_files(root):
            digest, size = _sha256_file(file)
            self.put_file(file)
            files[relpath] = {
                "digest": digest,
                "size": size,
                "mode": file_mode(file.stat().st_mode),
            }
        return self.put_bytes(encode_manifest(files))

    # -- reads ----------------------------------------------------------------
    def _download(self, digest: str, out: BinaryIO) -> int:
        hasher, size = hashlib.sha256(), 0
        with self._http.client.stream("GET", f"/artifacts/blobs/{digest}") as response:
            from modelyard.client._http import raise_for

            raise_for(response)
            for chunk in response.iter_bytes(CHUNK):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest:
            raise IntegrityError(
                f"Blob {digest} arrived corrupt: its {size} bytes hash to {actual}.",
                details={"digest": digest, "actual": actual},
            )
        return size

    def get_file(self, digest: str, dest: str | Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".tmp-{dest.name}-{uuid.uuid4().hex}")
        try:
            with open(tmp, "xb") as out:
                self._download(digest, out)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def get_bytes(self, digest: str) -> bytes:
        with tempfile.TemporaryFile() as out:
            self._download(digest, out)
            out.seek(0)
            return out.read()

    @contextlib.contextmanager
    def open(self, digest: str) -> Iterator[BinaryIO]:
        """A verified local copy of the blob, open for reading."""
        with tempfile.TemporaryFile() as out:
            self._download(digest, out)
            out.seek(0)
            yield out

    def read_manifest(self, digest: str) -> dict[str, Any]:
        return decode_manifest(self.get_bytes(digest), digest)

    def get_dir(self, digest: str, dest: str | Path) -> Path:
        files = self.read_manifest(digest)["files"]
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise Conflict(f"{dest} exists and is not an empty directory; choose a new path.")
        named = dest.absolute()
        named.parent.mkdir(parents=True, exist_ok=True)
        staging = named.with_name(f".tmp-{named.name}-{uuid.uuid4().hex}")
        try:
            staging.mkdir()
            for relpath, entry in files.items():
                target = self.get_file(entry["digest"], staging.joinpath(*relpath.split("/")))
                os.chmod(target, entry["mode"])
            if named.exists():
                named.rmdir()
            os.replace(staging, named)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return dest
