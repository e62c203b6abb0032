"""Directory manifests: canonical encoding and validation of what get_dir trusts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelyard.artifacts import ArtifactStore
from modelyard.artifacts.manifest import (
    MANIFEST_FORMAT,
    decode_manifest,
    encode_manifest,
    file_mode,
)
from modelyard.errors import InvalidInput

DIGEST = "sha256:" + "0" * 64
ENTRY = {"digest": DIGEST, "size": 1, "mode": 0o644}


def test_encoding_is_canonical() -> None:
    one = encode_manifest({"b": ENTRY, "a/c": ENTRY})  # type: ignore[dict-item]
    two = encode_manifest({"a/c": ENTRY, "b": ENTRY})  # type: ignore[dict-item]
    assert one == two
    assert b" " not in one
    assert decode_manifest(one, DIGEST)["files"] == {"a/c": ENTRY, "b": ENTRY}


def test_modes_are_normalised() -> None:
    assert file_mode(0o100600) == 0o644
    assert file_mode(0o100700) == 0o755
    assert file_mode(0o100444) == 0o644


def manifest(files: object, fmt: str = MANIFEST_FORMAT) -> bytes:
    return json.dumps({"format": fmt, "files": files}).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        manifest({}, fmt="other/v1"),
        manifest([]),
        manifest({"../escape": ENTRY}),
        manifest({"/etc/passwd": ENTRY}),
        manifest({"a/../../b": ENTRY}),
        manifest({"a//b": ENTRY}),
        manifest({"./a": ENTRY}),
        manifest({"a\\b": ENTRY}),
        manifest({"": ENTRY}),
        manifest({"a": ENTRY, "a/b": ENTRY}),
        manifest({"a": {**ENTRY, "digest": "sha256:xyz"}}),
        manifest({"a": {**ENTRY, "size": -1}}),
        manifest({"a": {**ENTRY, "size": True}}),
        manifest({"a": {**ENTRY, "mode": 0o4755}}),
        manifest({"a": {"digest": DIGEST}}),
    ],
)
def test_invalid_manifests_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput, match=DIGEST):
        decode_manifest(data, DIGEST)


def test_get_dir_refuses_a_crafted_manifest_before_writing(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "root")
    payload = store.put_bytes(b"owned")
    crafted = store.put_bytes(manifest({"../escape.txt": {**ENTRY, "digest": payload, "size": 5}}))
    with pytest.raises(InvalidInput, match="escape"):
        store.get_dir(crafted, tmp_path / "out" / "dir")
    assert not (tmp_path / "out" / "escape.txt").exists()
    assert not (tmp_path / "out").exists()


def test_empty_directory_round_trips(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "root")
    (tmp_path / "empty").mkdir()
    digest = store.put_dir(tmp_path / "empty")
    assert store.read_manifest(digest)["files"] == {}
    assert list(store.get_dir(digest, tmp_path / "out").iterdir()) == []
