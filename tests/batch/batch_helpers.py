"""Helpers shared by the batch tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from modelyard.demo.credit_models import split_xy

TRAIN_SEED = 31_001
INPUT_SEED = 31_002
MODEL = "credit"
ID = "application_id"
COMPARED = [ID, "score", "label", "model_name", "model_version"]


def write_parts(frame: pd.DataFrame, folder: Path, files: int, row_group: int) -> list[Path]:
    """Write ``frame`` as ``files`` Parquet files with row groups of ``row_group`` rows."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(frame) // files)
    paths = []
    for number in range(files):
        path = folder / f"loans-{number:02d}.parquet"
        chunk = frame.iloc[number * size : (number + 1) * size]
        chunk.to_parquet(path, index=False, row_group_size=row_group)
        paths.append(path)
    return paths


def read_output(folder: Path | str) -> pd.DataFrame:
    """The scored rows of a job's output, sorted by id."""
    frame = pd.read_parquet(str(folder))
    return frame.sort_values(ID, kind="stable").reset_index(drop=True)


def expected_scores(fitted, frame: pd.DataFrame) -> pd.Series:
    model, _ = fitted
    X, _ = split_xy(frame)
    return pd.Series(model.predict_proba(X)[:, 1], index=frame[ID].to_numpy())


def bundle_of(yard, ref: str):
    """The version's files as the batch service hands them to workers: a verified bundle."""
    from modelyard.batch.bundle import ModelBundle, manifest_files

    digest = yard.models.get(ref).artifact_digest
    return ModelBundle(
        digest=digest,
        files=manifest_files(yard.artifacts.read_manifest(digest)),
        model_dir=str(yard.models.local_path(ref).resolve()),
    )
