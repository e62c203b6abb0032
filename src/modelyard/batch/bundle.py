"""A model version's files as workers receive them: hashed, verified, loaded once per process.

The driver resolves the version and materialises its verified directory (and
the compiled ONNX form, if any). A :class:`ModelBundle` names those files and
their SHA-256 digests from the artifact store's manifest. A local worker
loads from the same directory; a Dask worker or Spark executor receives the
bytes (a worker plugin, ``SparkContext.addFile``) and every copy is checked
against the digests before anything is unpickled.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from modelyard.batch.scoring import ScoringModel, kernel_after_rows_for
from modelyard.errors import IntegrityError

__all__ = ["ModelBundle", "load_cached"]

_CACHE: dict[tuple[str, str | None, str], ScoringModel] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class ModelBundle:
    """Model files (and an optional compiled form) with the digests they must have."""

    digest: str
    files: dict[str, str]  # relative path -> "sha256:<hex>"
    model_dir: str
    form: str = "auto"
    compiled_digest: str | None = None
    compiled_files: dict[str, str] = field(default_factory=dict)
    compiled_dir: str | None = None
    trusted_code: bool = False  # a pickle the submitting user may run (checked by the service)
    trusted_types: tuple[str, ...] = ()
    # Rows a worker scores through the tree library before it compiles the kernel, as the
    # job decided from each worker's share (None: the worker's own setting; 0: at load).
    # Not part of the key: a process that kept the model from an earlier job keeps it.
    kernel_after_rows: int | None = None

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.digest, self.compiled_digest, self.form)

    @property
    def short(self) -> str:
        return self.digest.removeprefix("sha256:")[:12]

    def verify(self) -> None:
        """Hash every file against the registry's digests.

        Raises:
            IntegrityError: A file is missing, extra or changed.
        """
        _verify(Path(self.model_dir), self.files, self.digest)
        if self.compiled_dir is not None:
            _verify(Path(self.compiled_dir), self.compiled_files, self.compiled_digest or "")

    def load(self) -> ScoringModel:
        self.verify()
        return ScoringModel.load(
            self.model_dir,
            self.compiled_dir,
            form=self.form,
            trusted_code=self.trusted_code,
            trusted_types=self.trusted_types,
            files=self.files,
            kernel_after_rows=self.kernel_after_rows,
        )

    def for_job(self, rows: int | None, processes: int) -> ModelBundle:
        """This bundle for a job of ``rows`` rows (None: unknown) over ``processes`` workers:
        the tree kernel at load when each one's share repays it (:func:`kernel_after_rows_for`,
        read here, on the job's side, so that every engine's workers follow the job's
        setting)."""
        share = None if rows is None else -(-rows // max(1, processes))
        return replace(self, kernel_after_rows=kernel_after_rows_for(share))

    def pack(self) -> dict[str, bytes]:
        """Every file's bytes, keyed ``model/<path>`` or ``compiled/<path>``, for shipping."""
        payload = {f"model/{rel}": (Path(self.model_dir) / rel).read_bytes() for rel in self.files}
        if self.compiled_dir is not None:
            for rel in self.compiled_files:
                payload[f"compiled/{rel}"] = (Path(self.compiled_dir) / rel).read_bytes()
        return payload

    def unpack(self, payload: dict[str, bytes], root: str | Path) -> ModelBundle:
        """Write a packed payload under ``root``; the returned bundle points there."""
        base = Path(root) / self.short
        for key, data in payload.items():
            target = base / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        compiled = str(base / "compiled") if self.compiled_dir is not None else None
        return replace(self, model_dir=str(base / "model"), compiled_dir=compiled)

    def at(self, model_dir: str, compiled_dir: str | None) -> ModelBundle:
        return replace(self, model_dir=model_dir, compiled_dir=compiled_dir)


def _verify(root: Path, files: dict[str, str], digest: str) -> None:
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    missing, extra = sorted(set(files) - present), sorted(present - set(files))
    if missing or extra:
        raise IntegrityError(
            f"model files at {root} do not match {digest}: "
            f"missing {missing or 'none'}, extra {extra or 'none'}; refusing to load them"
        )
    for rel, expected in files.items():
        actual = "sha256:" + hashlib.sha256((root / rel).read_bytes()).hexdigest()
        if actual != expected:
            raise IntegrityError(
                f"model file {rel} of {digest} has hash {actual}, expected {expected}; "
                "refusing to load it"
            )


_LOADS = [0]  # models this process has loaded (see loads_in_process)


def loads_in_process() -> int:
    """How many models this process has loaded through :func:`load_cached`: a worker
    warmed before a job scores it without adding one (the engines record the loads made
    while scoring, which a warm-up should leave at 0)."""
    return _LOADS[0]


def load_cached(bundle: ModelBundle) -> ScoringModel:
    """The bundle's model, loaded (and verified) at most once per process."""
    with _LOCK:
        model = _CACHE.get(bundle.key)
        # A model kept from an earlier job that deferred the tree kernel is loaded again
        # for a job whose share repays it at load (the other way round, it is kept: the
        # kernel is already compiled in this process).
        if model is None or (bundle.kernel_after_rows == 0 and model.kernel_deferred):
            model = bundle.load()
            _LOADS[0] += 1
            _CACHE.clear()  # one model per worker process at a time
            _CACHE[bundle.key] = model
        return model


def manifest_files(manifest: dict[str, Any]) -> dict[str, str]:
    """``{path: digest}`` from an artifact-store directory manifest."""
    return {rel: entry["digest"] for rel, entry in manifest["files"].items()}
