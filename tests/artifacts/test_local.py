"""Behaviour specific to the local filesystem backend."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from modelyard.artifacts import ArtifactStore, get_artifact_store
from modelyard.errors import InvalidInput, NotFound


@pytest.fixture
def local(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "root")


def blob_path(store: ArtifactStore, digest: str) -> Path:
    return Path(store.fs._strip_protocol(store.location(digest)))


def test_plain_path_and_file_url_give_the_same_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = f"file://{tmp_path}/root"
    assert get_artifact_store("root").root == expected
    assert get_artifact_store(str(tmp_path / "root") + "/").root == expected
    assert get_artifact_store(f"file://{tmp_path}/root").root == expected
    assert ArtifactStore(tmp_path / "root").root == expected


def test_blobs_are_read_only(local: ArtifactStore) -> None:
    digest = local.put_bytes(b"guarded")
    assert stat.S_IMODE(blob_path(local, digest).stat().st_mode) == 0o444


def test_temp_file_of_a_killed_process_is_never_a_blob(local: ArtifactStore) -> None:
    """A writer killed before its rename leaves ``.tmp-*``: never listed or returned."""
    content = b"half written by a process that was killed"
    digest = "sha256:" + hashlib.sha256(content).hexdigest()
    hexdigest = digest.removeprefix("sha256:")
    base = Path(local.fs._strip_protocol(local.root), "blobs", "sha256")
    (base / hexdigest[:2]).mkdir(parents=True)
    for leftover in (base / ".tmp-0123abcd", base / hexdigest[:2] / f".tmp-{hexdigest[2:]}"):
        leftover.write_bytes(content)

    assert list(local.iter_digests()) == []
    assert not local.exists(digest)
    with pytest.raises(NotFound):
        local.get_bytes(digest)
    assert local.put_bytes(content) == digest
    assert list(local.iter_digests()) == [digest]
    assert local.get_bytes(digest) == content


def test_a_truncated_blob_is_rewritten_by_the_next_put(local: ArtifactStore) -> None:
    data = b"complete content" * 1000
    digest = local.put_bytes(data)
    path = blob_path(local, digest)
    path.chmod(0o644)
    path.write_bytes(data[:100])
    assert local.put_bytes(data) == digest
    assert local.get_bytes(digest) == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_put_file_errors_name_the_path(local: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"missing\.bin"):
        local.put_file(tmp_path / "missing.bin")
    with pytest.raises(InvalidInput, match="put_dir"):
        local.put_file(tmp_path)
    with pytest.raises(NotFound, match="no-dir"):
        local.put_dir(tmp_path / "no-dir")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InvalidInput, match="put_file"):
        local.put_dir(tmp_path / "file.txt")


def test_get_file_replaces_an_existing_file(local: ArtifactStore, tmp_path: Path) -> None:
    dest = tmp_path / "out" / "model.bin"
    dest.parent.mkdir()
    dest.write_bytes(b"old")
    assert local.get_file(local.put_bytes(b"new"), dest) == dest
    assert dest.read_bytes() == b"new"
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.bin"]
    with pytest.raises(InvalidInput, match="directory"):
        local.get_file(local.put_bytes(b"new"), dest.parent)


def test_get_dir_into_an_existing_empty_directory(local: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")
    dest = tmp_path / "dest"
    dest.mkdir()
    assert local.get_dir(local.put_dir(src), dest) == dest
    assert (dest / "a.txt").read_text() == "a"


def test_put_dir_follows_file_symlinks_and_refuses_dir_symlinks(
    local: ArtifactStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "weights.bin").write_bytes(b"weights")
    src = tmp_path / "src"
    src.mkdir()
    os.symlink(outside / "weights.bin", src / "weights.bin")
    files = local.read_manifest(local.put_dir(src))["files"]
    assert list(files) == ["weights.bin"]
    assert local.get_bytes(files["weights.bin"]["digest"]) == b"weights"

    os.symlink(outside, src / "linked-dir")
    with pytest.raises(InvalidInput, match="linked-dir"):
        local.put_dir(src)
