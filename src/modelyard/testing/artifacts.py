"""A public check suite for artifact stores, in the spirit of ``check_estimator``.

``check_artifact_store(store)`` runs every ``check_*`` function below against
a store; each is small and can be run alone (``ARTIFACT_STORE_CHECKS``). The
checks only use the store's public API plus ``store.fs`` listings, write blobs
of their own (random content, so a shared store is fine) and leave them. They
cover behaviour every backend must share; tampering with stored bytes needs
backend access and lives in Modelyard's own tests.

Failures raise ``AssertionError`` explicitly (not ``assert``), so the suite
also works under ``python -O``.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelyard.artifacts import ArtifactStore
from modelyard.errors import Conflict, InvalidInput, NotFound

__all__ = ["ARTIFACT_STORE_CHECKS", "check_artifact_store"]

LARGE_BLOB_SIZE = 20 * 2**20  # bigger than any buffer, so streaming is exercised


class _PatternStream(io.RawIOBase):
    """Seeded random bytes of a given length, produced on demand (never held whole)."""

    def __init__(self, size: int, seed: int) -> None:
        super().__init__()
        self._left = size
        self._random = random.Random(seed)
        self.hasher = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self._left if size is None or size < 0 else min(size, self._left)
        data = self._random.randbytes(n)
        self._left -= n
        self.hasher.update(data)
        return data


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _raises(kind: type[Exception], call: Callable[[], Any], *, naming: str, what: str) -> None:
    """Expect ``call()`` to raise ``kind`` with ``naming`` in the message."""
    try:
        call()
    except kind as exc:
        _expect(naming in str(exc), f"{what}: the {kind.__name__} does not name {naming!r}: {exc}")
    except Exception as exc:
        raise AssertionError(f"{what}: expected {kind.__name__}, got {exc!r}") from exc
    else:
        raise AssertionError(f"{what}: expected {kind.__name__}, nothing was raised")


def _read_stream(store: ArtifactStore, digest: str) -> bytes:
    with store.open(digest) as stream:
        return stream.read()


def _digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _listing(store: ArtifactStore) -> set[str]:
    return set(store.fs.find(store.root)) if store.fs.isdir(store.root) else set()


def check_round_trip_bytes(store: ArtifactStore) -> None:
    """Bytes come back identical through every read path; the address is the layout's."""
    for data in (b"", b"x", bytes(range(256)) * 4, uuid.uuid4().bytes * 1000):
        digest = store.put_bytes(data)
        hexdigest = hashlib.sha256(data).hexdigest()
        _expect(digest == "sha256:" + hexdigest, f"put_bytes returned {digest!r}")
        _expect(store.get_bytes(digest) == data, f"get_bytes({digest}) differs")
        _expect(_read_stream(store, digest) == data, f"open({digest}).read() differs")
        _expect(store.exists(digest), f"exists({digest}) is False after put")
        _expect(store.size(digest) == len(data), f"size({digest}) != {len(data)}")
        store.verify(digest)
        expected = f"{store.root}/blobs/sha256/{hexdigest[:2]}/{hexdigest[2:]}"
        _expect(store.location(digest) == expected, f"location is {store.location(digest)!r}")
        _expect(store.fs.isfile(expected), f"no object at {expected}")


def check_dedup(store: ArtifactStore) -> None:
    """The same content through any put gives one digest and writes nothing new."""
    data = b"dedup " + uuid.uuid4().bytes * 100
    first = store.put_bytes(data)
    before = _listing(store)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "same.bin")
        path.write_bytes(data)
        again = [store.put_bytes(data), store.put_stream(io.BytesIO(data)), store.put_file(path)]
    _expect(again == [first] * 3, f"re-putting the same content gave {again}, not {first}")
    after = _listing(store)
    _expect(after == before, f"re-putting the same content changed the store: {after ^ before}")
    _expect(list(store.iter_digests()).count(first) == 1, f"{first} is not listed exactly once")


def check_large_stream(store: ArtifactStore) -> None:
    """A blob larger than every buffer streams in and out with the right digest."""
    source = _PatternStream(LARGE_BLOB_SIZE, seed=uuid.uuid4().int)
    digest = store.put_stream(source)
    _expect(digest == "sha256:" + source.hasher.hexdigest(), "put_stream digest is wrong")
    _expect(store.size(digest) == LARGE_BLOB_SIZE, f"size({digest}) is {store.size(digest)}")
    hasher = hashlib.sha256()
    with store.open(digest) as stream:
        while chunk := stream.read(2**20 + 17):  # unaligned on purpose
            hasher.update(chunk)
    _expect("sha256:" + hasher.hexdigest() == digest, "streamed read-back differs")
    with tempfile.TemporaryDirectory() as tmp:
        dest = store.get_file(digest, Path(tmp, "out", "large.bin"))
        _expect(dest.stat().st_size == LARGE_BLOB_SIZE, "get_file wrote the wrong size")
        _expect(store.put_file(dest) == digest, "put_file of the copy gives another digest")


def check_directory_round_trip(store: ArtifactStore) -> None:
    """A nested directory comes back identical; its digest is its identity."""
    tag = uuid.uuid4().hex
    tree = {
        "README.md": f"# {tag}\n".encode(),
        "empty.txt": b"",
        "nested/deeper/weights.bin": random.Random(tag).randbytes(300_000),
        "nested/copy.md": f"# {tag}\n".encode(),  # same content as README.md
        "unicode-\u00e9.txt": "caf\u00e9".encode(),
        "run.sh": b"#!/bin/sh\necho ok\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp, "src")
        for rel, data in tree.items():
            Path(src, rel).parent.mkdir(parents=True, exist_ok=True)
            Path(src, rel).write_bytes(data)
        os.chmod(src / "run.sh", 0o755)
        digest = store.put_dir(src)
        _expect(store.put_dir(src) == digest, "putting the same directory twice changed its digest")
        files = store.read_manifest(digest)["files"]
        _expect(set(files) == set(tree), f"manifest paths are {sorted(files)}")
        for rel, data in tree.items():
            entry = files[rel]
            _expect(entry["digest"] == _digest_of(data), f"manifest digest of {rel} is wrong")
            _expect(entry["size"] == len(data), f"manifest size of {rel} is wrong")
            mode = 0o755 if rel == "run.sh" else 0o644
            _expect(entry["mode"] == mode, f"manifest mode of {rel} is {oct(entry['mode'])}")
        out = store.get_dir(digest, Path(tmp, "out"))
        for rel, data in tree.items():
            _expect(Path(out, rel).read_bytes() == data, f"get_dir restored {rel} wrongly")
        _expect(os.access(out / "run.sh", os.X_OK), "get_dir lost the execute bit of run.sh")
        _raises(
            Conflict,
            lambda: store.get_dir(digest, out),
            naming=str(out),
            what="get_dir into a non-empty directory",
        )
        Path(src, "README.md").write_bytes(b"changed")
        _expect(store.put_dir(src) != digest, "a changed directory kept its digest")
    _raises(
        InvalidInput,
        lambda: store.read_manifest(store.put_bytes(b"not a manifest " + tag.encode())),
        naming="manifest",
        what="read_manifest of a plain blob",
    )


def check_missing_digest(store: ArtifactStore) -> None:
    """Every read of an absent blob raises NotFound naming the digest."""
    absent = _digest_of(b"never stored " + uuid.uuid4().bytes)
    _expect(not store.exists(absent), f"exists({absent}) is True")
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp, "absent.bin")
        calls: dict[str, Callable[[], Any]] = {
            "get_bytes": lambda: store.get_bytes(absent),
            "open": lambda: _read_stream(store, absent),
            "get_file": lambda: store.get_file(absent, dest),
            "get_dir": lambda: store.get_dir(absent, Path(tmp, "absent-dir")),
            "read_manifest": lambda: store.read_manifest(absent),
            "size": lambda: store.size(absent),
            "verify": lambda: store.verify(absent),
            "delete": lambda: store.delete(absent),
        }
        for name, call in calls.items():
            _raises(NotFound, call, naming=absent, what=f"{name} of a missing blob")
        _expect(os.listdir(tmp) == [], f"reads of a missing blob left {os.listdir(tmp)}")


def check_malformed_digest(store: ArtifactStore) -> None:
    """Malformed digests raise InvalidInput quoting the value, before any I/O."""
    bad_values = [
        "",
        "sha256:",
        "0" * 64,
        "md5:" + "0" * 32,
        "sha256:" + "A" * 64,
        "sha256:" + "0" * 63,
        "sha256:" + "0" * 65,
        "sha256:../../" + "0" * 58,
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for bad in bad_values:
            calls: dict[str, Callable[[], Any]] = {
                "get_bytes": lambda d=bad: store.get_bytes(d),
                "open": lambda d=bad: _read_stream(store, d),
                "get_file": lambda d=bad: store.get_file(d, Path(tmp, "x")),
                "get_dir": lambda d=bad: store.get_dir(d, Path(tmp, "y")),
                "read_manifest": lambda d=bad: store.read_manifest(d),
                "exists": lambda d=bad: store.exists(d),
                "size": lambda d=bad: store.size(d),
                "location": lambda d=bad: store.location(d),
                "verify": lambda d=bad: store.verify(d),
                "delete": lambda d=bad: store.delete(d),
            }
            for name, call in calls.items():
                _raises(InvalidInput, call, naming=repr(bad), what=f"{name}({bad!r})")
        _expect(os.listdir(tmp) == [], f"malformed digests left {os.listdir(tmp)}")
    _raises(InvalidInput, lambda: store.put_bytes("text"), naming="str", what="put_bytes(str)")
    _raises(
        InvalidInput,
        lambda: store.put_stream(io.StringIO("text")),
        naming="str",
        what="put_stream of a text stream",
    )


def check_delete(store: ArtifactStore) -> None:
    """A deleted blob is gone from every read path and can be stored again."""
    data = b"delete me " + uuid.uuid4().bytes
    digest = store.put_bytes(data)
    store.delete(digest)
    _expect(not store.exists(digest), f"{digest} still exists after delete")
    _raises(NotFound, lambda: store.get_bytes(digest), naming=digest, what="get_bytes after delete")
    _expect(digest not in set(store.iter_digests()), f"{digest} still listed after delete")
    _expect(store.put_bytes(data) == digest and store.get_bytes(digest) == data, "re-put failed")


ARTIFACT_STORE_CHECKS: tuple[Callable[[ArtifactStore], None], ...] = (
    check_round_trip_bytes,
    check_dedup,
    check_large_stream,
    check_directory_round_trip,
    check_missing_digest,
    check_malformed_digest,
    check_delete,
)


def check_artifact_store(store: ArtifactStore) -> None:
    """Run every artifact store check against ``store``, in sequence.

    Raises:
        AssertionError: the first failing check, named in the message.
    """
    for check in ARTIFACT_STORE_CHECKS:
        try:
            check(store)
        except AssertionError as exc:
            raise AssertionError(f"{check.__name__} failed for {store!r}: {exc}") from exc
