"""Safe loading of registered models.

Trust model: models are stored as data (skops, LightGBM text, XGBoost JSON,
ONNX); a pickled model is trusted code, loaded only where
:mod:`modelyard.registry.trusted_code` allows and then only from bytes whose
SHA-256 matches what the registry recorded at registration. The version row
holds the digest of the model directory's manifest; the manifest (itself
verified) lists the digest of every file. Files are materialised into a local
cache once, and every load re-hashes the cached files against the manifest
before anything is read — a file changed in the cache or in the artifact store is refused with an
IntegrityError. Who may *register* a model is governed by roles; what is
loaded is then exactly what was registered.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modelyard.artifacts import ArtifactStore
from modelyard.errors import Conflict, IntegrityError

_CHUNK = 1 << 20


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def verify_tree(artifacts: ArtifactStore, digest: str, root: Path) -> None:
    """Check every file under ``root`` against manifest ``digest``: none extra, none missing."""
    manifest = artifacts.read_manifest(digest)
    files = manifest["files"]
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    extra = sorted(present - set(files))
    missing = sorted(set(files) - present)
    if extra or missing:
        raise IntegrityError(
            f"model files at {root} do not match manifest {digest}: "
            f"extra {extra or 'none'}, missing {missing or 'none'}"
        )
    for rel, entry in files.items():
        actual = _sha256_file(root / rel)
        if actual != entry["digest"]:
            raise IntegrityError(
                f"model file {rel} of {digest} has hash {actual}, expected {entry['digest']}; "
                "refusing to load it"
            )


class ModelCache:
    """Materialised model directories on local disk plus loaded models in memory (LRU)."""

    def __init__(
        self,
        artifacts: ArtifactStore,
        root: Path,
        *,
        max_loaded: int = 8,
        trusted_types: Sequence[str] = (),
    ) -> None:
        self._artifacts = artifacts
        self._trusted_types = tuple(trusted_types)
        self._root = root
        self._loaded: OrderedDict[str, Any] = OrderedDict()
        self._max = max_loaded
        self._lock = threading.Lock()

    def directory(self, digest: str) -> Path:
        """A verified local copy of the model directory ``digest``."""
        target = self._root / digest.removeprefix("sha256:")
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Another process may materialise it first; either way it is verified below.
            with contextlib.suppress(FileExistsError, Conflict):
                self._artifacts.get_dir(digest, target)
        try:
            verify_tree(self._artifacts, digest, target)
        except IntegrityError:
            # A tampered or partial cache is rebuilt from the (verified) store once.
            shutil.rmtree(target, ignore_errors=True)
            self._artifacts.get_dir(digest, target)
            verify_tree(self._artifacts, digest, target)
        return target

    def load(self, digest: str, *, trusted_code: bool = False) -> Any:
        """The loaded model for ``digest``; loads at most once per process while cached.

        ``trusted_code``: the caller has checked that this user may run the
        version's code (``trusted_code.require_loadable``); a pickle is refused without it.
        """
        from modelyard.flavors import load_model

        with self._lock:
            if digest in self._loaded:
                self._loaded.move_to_end(digest)
                return self._loaded[digest]
        model = load_model(
            self.directory(digest), trusted_code=trusted_code, trusted_types=self._trusted_types
        )
        with self._lock:
            self._loaded[digest] = model
            while len(self._loaded) > self._max:
                self._loaded.popitem(last=False)
        return model
