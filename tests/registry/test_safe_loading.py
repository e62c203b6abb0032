"""A model whose stored bytes changed is never loaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import modelyard
from modelyard.data.synthetic import FEATURES
from modelyard.errors import IntegrityError


def _blob_files(root: Path) -> list[Path]:
    return [p for p in (root / "blobs").rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_replaced_blob_is_refused_at_load(sqlite_yard, small_model, credit_frame, tmp_path) -> None:
    version = sqlite_yard.models.register(
        "credit-risk", small_model, example=credit_frame[list(FEATURES)].head(20)
    )
    manifest = sqlite_yard.artifacts.read_manifest(version.artifact_digest)
    pickled = next(
        e["digest"] for p, e in manifest["files"].items() if p.endswith((".pkl", ".skops"))
    )
    hexdigest = pickled.removeprefix("sha256:")
    blob = next(p for p in _blob_files(tmp_path / "artifacts") if hexdigest.endswith(p.name))
    os.chmod(blob, 0o644)
    blob.write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")  # a malicious pickle
    fresh = modelyard.connect(
        sqlite_yard.settings.resolved_store_url,
        artifact_root=str(tmp_path / "artifacts"),
        home=str(tmp_path / "fresh-home"),
    )
    with pytest.raises(IntegrityError, match=hexdigest[:12]):
        fresh.models.load(version.ref)
    fresh.close()


def test_tampered_cache_is_rebuilt_from_verified_store(
    sqlite_yard, small_model, credit_frame
) -> None:
    version = sqlite_yard.models.register(
        "credit-risk", small_model, example=credit_frame[list(FEATURES)].head(20)
    )
    path = sqlite_yard.models.local_path(version.ref)
    target = next(p for p in path.rglob("model.*") if p.suffix in (".pkl", ".skops"))
    os.chmod(target, 0o644)
    target.write_bytes(b"tampered")
    loaded = sqlite_yard.models.load(version.ref)
    x = credit_frame[list(FEATURES)].head(5)
    assert (loaded.predict_proba(x) == small_model.predict_proba(x)).all()
