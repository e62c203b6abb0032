"""The artifact store contract, run on every backend (local path, memory://, s3:// on moto).

The public check suite covers the behaviour a store shows through its API;
the tests here also reach into the backend (``store.fs``) to corrupt blobs,
break writes half-way and race writers.
"""

from __future__ import annotations

import io
import os
import random
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from modelyard.artifacts import ArtifactStore
from modelyard.errors import BackendUnavailable, IntegrityError
from modelyard.testing import check_artifact_store

MiB = 2**20


def listing(store: ArtifactStore) -> list[str]:
    """Every object under the root, hidden temporaries included."""
    return sorted(store.fs.find(store.root)) if store.fs.isdir(store.root) else []


def overwrite_blob(store: ArtifactStore, digest: str, data: bytes) -> None:
    location = store.location(digest)
    store.fs.rm_file(location)  # works on read-only local blobs: it needs the folder's rights
    store.fs.pipe_file(location, data)


def read_via_open(store: ArtifactStore, digest: str) -> bytes:
    with store.open(digest) as stream:
        return stream.read()


def test_check_suite(store: ArtifactStore) -> None:
    check_artifact_store(store)


def test_layout(store: ArtifactStore) -> None:
    digest = store.put_bytes(b"layout")
    hexdigest = digest.removeprefix("sha256:")
    assert store.location(digest) == f"{store.root}/blobs/sha256/{hexdigest[:2]}/{hexdigest[2:]}"
    assert [store.fs._strip_protocol(p) for p in listing(store)] == [
        store.fs._strip_protocol(store.location(digest))
    ]


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "bit flip": lambda data: data[:-1] + bytes([data[-1] ^ 1]),
    "truncated": lambda data: data[: len(data) // 2],
    "appended": lambda data: data + b"!",
    "replaced": lambda data: b"other content",
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_blob_fails_every_read(
    store: ArtifactStore, tmp_path: Path, corruption: str
) -> None:
    data = random.Random(1).randbytes(3 * MiB + 5)
    digest = store.put_bytes(data)
    overwrite_blob(store, digest, CORRUPTIONS[corruption](data))

    for read in (store.get_bytes, store.verify, lambda d: read_via_open(store, d)):
        with pytest.raises(IntegrityError) as info:
            read(digest)
        assert digest in str(info.value)
        assert store.location(digest) in str(info.value)
        assert info.value.details["digest"] == digest

    dest_dir = tmp_path / "dest"
    with pytest.raises(IntegrityError, match=digest):
        store.get_file(digest, dest_dir / "model.bin")
    assert list(dest_dir.iterdir()) == []  # neither the file nor its temporary


def test_streaming_read_raises_on_the_last_chunk(store: ArtifactStore) -> None:
    data = random.Random(2).randbytes(3 * MiB + 5)
    digest = store.put_bytes(data)
    overwrite_blob(store, digest, CORRUPTIONS["bit flip"](data))
    with store.open(digest) as stream:
        for _ in range(3):
            assert len(stream.read(MiB)) == MiB  # unverified so far, as documented
        with pytest.raises(IntegrityError, match=digest):
            stream.read(MiB)


def test_streaming_read_verifies_exact_size_reads(store: ArtifactStore) -> None:
    """A consumer that reads exactly ``size`` bytes and never sees EOF is covered."""
    data = b"exactly this much"
    digest = store.put_bytes(data)
    overwrite_blob(store, digest, b"exactly that much")
    with store.open(digest) as stream, pytest.raises(IntegrityError):
        stream.read(len(data))


def test_get_dir_with_a_corrupt_member_leaves_nothing(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"first")
    (src / "sub" / "b.txt").write_bytes(b"second")
    digest = store.put_dir(src)
    member = store.read_manifest(digest)["files"]["sub/b.txt"]["digest"]
    overwrite_blob(store, member, b"tampered")
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match=member):
        store.get_dir(digest, out / "model")
    assert list(out.iterdir()) == []  # no dest, no staging folder


class SourceFailed(Exception):
    """The caller's stream broke (a client went away mid-upload)."""


class BreakingStream(io.RawIOBase):
    """Yields ``good`` bytes, then raises ``error``."""

    def __init__(self, good: int, error: Exception) -> None:
        super().__init__()
        self._left = good
        self._error = error

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            raise self._error
        n = self._left if size < 0 else min(size, self._left)
        self._left -= n
        return b"x" * n


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the system temp folder (used to spool uploads) at a folder we can inspect."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    return spool


@pytest.mark.parametrize("error", [SourceFailed("gone"), ConnectionResetError("reset")])
def test_interrupted_stream_leaves_nothing(
    store: ArtifactStore, spool_dir: Path, error: Exception
) -> None:
    with pytest.raises(type(error)):  # the caller's error, untranslated
        store.put_stream(BreakingStream(int(2.5 * MiB), error))
    assert listing(store) == []
    assert list(store.iter_digests()) == []
    assert list(spool_dir.iterdir()) == []


def test_failed_commit_is_translated_and_leaves_nothing(
    store: ArtifactStore, backend: str, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    if backend == "local":
        monkeypatch.setattr(os, "replace", refuse)
    else:
        monkeypatch.setattr(store.fs, "put_file", refuse)
        monkeypatch.setattr(store.fs, "pipe_file", refuse)
    with pytest.raises(BackendUnavailable, match="No space left") as info:
        store.put_stream(io.BytesIO(b"x" * MiB))
    assert isinstance(info.value.__cause__, OSError)
    assert [p for p in listing(store) if not store.fs.isdir(p)] == []
    assert list(spool_dir.iterdir()) == []


def test_concurrent_puts_of_the_same_content_make_one_blob(store: ArtifactStore) -> None:
    data = random.Random(3).randbytes(2 * MiB)
    start = threading.Barrier(8)

    def put(i: int) -> str:
        start.wait()
        return store.put_bytes(data) if i % 2 else store.put_stream(io.BytesIO(data))

    with ThreadPoolExecutor(8) as pool:
        digests = set(pool.map(put, range(8)))
    assert len(digests) == 1
    (digest,) = digests
    assert [store.fs._strip_protocol(p) for p in listing(store)] == [
        store.fs._strip_protocol(store.location(digest))
    ]
    assert store.get_bytes(digest) == data


def test_concurrent_reads(store: ArtifactStore) -> None:
    data = random.Random(4).randbytes(MiB + 3)
    digest = store.put_bytes(data)

    def read(i: int) -> bytes:
        if i % 2:
            return store.get_bytes(digest)
        with store.open(digest) as stream:
            return b"".join(iter(lambda: stream.read(100_000), b""))

    with ThreadPoolExecutor(8) as pool:
        assert all(result == data for result in pool.map(read, range(16)))
