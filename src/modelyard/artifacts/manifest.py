"""Directory manifests: how a directory becomes one content address.

A directory is stored as one blob per file plus a manifest blob, and the
directory's identity is the manifest's digest. The manifest is canonical JSON
(sorted keys, no whitespace), so the same tree gives the same digest on any
machine::

    {"files":{"model.pkl":{"digest":"sha256:...","mode":420,"size":1234},
              "nested/config.json":{...}},
     "format":"modelyard.manifest/v1"}

Paths are relative, ``/``-separated and sorted. Modes are normalised like
git's: 0o755 when any execute bit is set, else 0o644, so a umask does not
change a directory's identity. Empty directories are not recorded.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypedDict

from modelyard.artifacts._digest import parse_digest
from modelyard.errors import InvalidInput

MANIFEST_FORMAT = "modelyard.manifest/v1"
_MODES = (0o644, 0o755)


class ManifestEntry(TypedDict):
    """One file of a directory manifest."""

    digest: str
    size: int
    mode: int


def file_mode(st_mode: int) -> int:
    """Normalise a file's mode to 0o755 (executable) or 0o644."""
    return 0o755 if st_mode & 0o111 else 0o644


def encode_manifest(files: Mapping[str, ManifestEntry]) -> bytes:
    """Serialise a manifest canonically: the same files give the same bytes."""
    body = {
        "format": MANIFEST_FORMAT,
        "files": {
            path: {"digest": e["digest"], "size": e["size"], "mode": e["mode"]}
            for path, e in files.items()
        },
    }
    # ASCII escapes keep non-UTF-8 file names (surrogate escapes) encodable.
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def decode_manifest(data: bytes, digest: str) -> dict[str, Any]:
    """Parse and validate a manifest blob.

    Every path is checked here, before anything is written, so a crafted
    manifest cannot make ``get_dir`` write outside its destination.

    Raises:
        InvalidInput: the blob is not a valid manifest; the message names it.
    """

    def invalid(problem: str) -> InvalidInput:
        return InvalidInput(
            f"Blob {digest} is not a valid directory manifest: {problem}.",
            details={"digest": digest},
        )

    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid("it is not JSON") from exc
    if not isinstance(body, dict) or body.get("format") != MANIFEST_FORMAT:
        raise invalid(f"its 'format' is not {MANIFEST_FORMAT!r}")
    files = body.get("files")
    if not isinstance(files, dict):
        raise invalid("its 'files' is not an object")
    for path, entry in files.items():
        _check_path(path, invalid)
        if not isinstance(entry, dict) or set(entry) != {"digest", "size", "mode"}:
            raise invalid(f"the entry of {path!r} must have exactly digest, size and mode")
        try:
            parse_digest(entry["digest"])
        except InvalidInput as exc:
            raise invalid(f"the entry of {path!r} has a bad digest {entry['digest']!r}") from exc
        size = entry["size"]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise invalid(f"the entry of {path!r} has a bad size {size!r}")
        if entry["mode"] not in _MODES:
            raise invalid(f"the entry of {path!r} has mode {entry['mode']!r}, not 0o644 or 0o755")
    for path in files:
        parts = path.split("/")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in files:
                raise invalid(f"{path!r} lies under {'/'.join(parts[:i])!r}, which is a file")
    return body


def _check_path(path: object, invalid: Callable[[str], InvalidInput]) -> None:
    """Reject paths that are absolute, escape the root or are spelled two ways."""
    if not isinstance(path, str) or not path:
        raise invalid(f"the path {path!r} is empty or not a string")
    parts = path.split("/")
    if "\\" in path or "\x00" in path or any(p in ("", ".", "..") for p in parts):
        raise invalid(f"the path {path!r} is not a plain relative path")


def walk_files(root: Path) -> list[tuple[str, Path]]:
    """List the regular files under ``root`` as sorted ``(relative path, path)`` pairs.

    Symlinks to files are followed (their content is stored, as with model
    caches that link into a blob folder). Symlinks to directories are refused
    rather than followed, because they can form cycles or pull in a tree from
    outside ``root``. Unreadable directories raise instead of being skipped,
    so an artifact is never silently incomplete.

    Raises:
        InvalidInput: a directory symlink, broken symlink or special file.
        OSError: a directory cannot be listed.
    """

    def fail(exc: OSError) -> None:
        raise exc

    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=fail):
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                raise InvalidInput(
                    f"{os.path.join(dirpath, name)} is a symlink to a directory; "
                    "copy the linked tree into the directory instead."
                )
        for name in filenames:
            path = Path(dirpath, name)
            try:
                mode = path.stat().st_mode
            except FileNotFoundError as exc:
                raise InvalidInput(f"{path} is a broken symlink.") from exc
            if not stat.S_ISREG(mode):
                raise InvalidInput(f"{path} is not a regular file (socket, FIFO or device).")
            found.append((path.relative_to(root).as_posix(), path))
    found.sort()
    return found
