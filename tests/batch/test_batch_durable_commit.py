"""A part's marker never reaches the disk before the part's own bytes and name.

Resumption trusts the markers: a part with one is never scored again. After a
power loss or a node crash (the page cache gone, not just the process), a
marker that reached the disk before its part's data would name an empty or
truncated file, and the job would resume "complete" with rows missing. So, on
a local disk, each file's bytes are synced before its rename, the folder is
synced after the rename, and only then is the marker written (and synced the
same way). The test records the real ``fsync`` and ``rename`` calls a part
makes, in order (they still go through to the system).
"""

from __future__ import annotations

import os

import pyarrow as pa
import pytest
from batch_helpers import MODEL, bundle_of, one_part_work

from modelyard.batch import _fs
from modelyard.batch._fs import OutputDir
from modelyard.batch.bundle import load_cached
from modelyard.batch.parts import read_part, score_part
from modelyard.data.out_of_time import generate_out_of_time


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names synced files by /proc")
def test_a_part_is_on_disk_before_its_marker(by, tmp_path, monkeypatch) -> None:
    late = generate_out_of_time(4_000, seed=23).tail(1_000)  # the months after the change
    table = pa.Table.from_pandas(late.drop(columns=["default"]), preserve_index=False)
    work = one_part_work(tmp_path, table, "durable")
    out = work.output
    model = load_cached(bundle_of(by, f"{MODEL}/1"))
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append(("rename", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(_fs.os, "fsync", fsync)
    monkeypatch.setattr(_fs.os, "replace", replace)
    result = score_part(model, work, work.parts[0], read_part(work, work.parts[0]))
    assert result.rows_out + result.rows_rejected == 1_000
    assert result.rows_rejected  # the out-of-time rows this version refuses: a rejects file
    root = tmp_path / "out"
    part, marker = str(root / out.part_name(0, 5)), str(root / out.marker_name(0, 5))
    rejects = str(root / out.rejects_name(0, 5))
    names = [(kind, os.path.relpath(path, root)) for kind, path in calls]

    def at(kind: str, prefix: str) -> int:
        """Index of the first call of ``kind`` on a path starting with ``prefix``."""
        return next(i for i, (k, p) in enumerate(calls) if k == kind and p.startswith(prefix))

    for committed in (rejects, part):
        folder, name = os.path.split(committed)
        data = at("fsync", os.path.join(folder, f".{name}.tmp-"))  # the temporary file's bytes
        renamed = calls.index(("rename", committed))
        synced = calls.index(("fsync", folder), renamed)  # the new name
        assert data < renamed < synced < at("fsync", os.path.dirname(marker) + "/."), names
    marker_name = os.path.basename(marker)
    assert names[-3:] == [
        ("fsync", next(p for k, p in names if p.startswith(f"_modelyard_parts/.{marker_name}"))),
        ("rename", os.path.relpath(marker, root)),
        ("fsync", "_modelyard_parts"),
    ], names


def test_a_folder_sync_that_fails_to_write_fails_the_commit(tmp_path, monkeypatch) -> None:
    """A filesystem that refuses to sync a folder is tolerated; a failed write-back is not."""
    import errno

    from modelyard.errors import BackendUnavailable

    out = OutputDir(str(tmp_path / "out"))
    out.makedirs()
    real_fsync = os.fsync
    failure = {"errno": errno.EINVAL}

    def fsync(fd: int) -> None:
        if os.path.isdir(os.readlink(f"/proc/self/fd/{fd}")):
            raise OSError(failure["errno"], os.strerror(failure["errno"]))
        real_fsync(fd)

    monkeypatch.setattr(_fs.os, "fsync", fsync)
    out.write_atomic("a.json", b"{}")  # EINVAL: the folder cannot be synced; the rename stands
    assert (tmp_path / "out" / "a.json").read_bytes() == b"{}"
    failure["errno"] = errno.EIO
    with pytest.raises(BackendUnavailable, match=r"b\.json: OSError: \[Errno 5\]"):
        out.write_atomic("b.json", b"{}")
