"""Helpers shared by the batch tests (fixtures live in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.demo.credit_models import split_xy

TRAIN_SEED = 31_001
INPUT_SEED = 31_002
MODEL = "credit"
ID = "application_id"
COMPARED = [ID, "score", "label", "model_name", "model_version"]
# Debian's libpostgresql-jdbc-java (installed by .ci/run) puts the driver here.
POSTGRES_JDBC_JAR = "/usr/share/java/postgresql.jar"


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


# ---------------------------------------------------------------- kill and resume


def cli_yard(tmp_path: Path, **extra: str):
    """``(env, yard)``: the environment a ``modelyard batch`` child process runs in
    (a SQLite store, artifacts and home under ``tmp_path``, user alice) and a Yard
    on the same store for the test itself. ``extra`` adds variables to ``env``."""
    import os

    import modelyard

    env = {
        **os.environ,
        "MODELYARD_HOME": str(tmp_path / "home"),
        "MODELYARD_STORE_URL": f"sqlite:///{tmp_path / 'yard.db'}",
        "MODELYARD_ARTIFACT_ROOT": str(tmp_path / "artifacts"),
        "MODELYARD_USER": "alice",
        "COLUMNS": "200",
        **extra,
    }
    yard = modelyard.connect(
        env["MODELYARD_STORE_URL"],
        artifact_root=env["MODELYARD_ARTIFACT_ROOT"],
        user="alice",
        home=env["MODELYARD_HOME"],
    )
    return env, yard


def part_markers(out: Path) -> dict[int, int]:
    """The job's completed parts under ``out``: part index -> marker mtime (ns)."""
    folder = out / "_modelyard_parts"
    if not folder.exists():
        return {}
    return {int(p.stem.removeprefix("part-")): p.stat().st_mtime_ns for p in folder.glob("*.json")}


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid`` (Linux /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def start_job(command: list[str], env: dict[str, str], cwd: Path, ready) -> Any:
    """Start ``command`` in a session of its own; return once ``ready()`` holds.

    A job that exits first fails the test with its output; five minutes is
    the ceiling on a loaded machine. The caller kills it (:func:`kill_group`).
    """
    import subprocess
    import time

    job = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300
        while not ready():
            assert job.poll() is None, job.communicate()
            assert time.monotonic() < deadline, "no part completed within 5 minutes"
            time.sleep(0.01)
    except BaseException:
        kill_group(job)
        raise
    return job


def kill_group(job: Any, settle_s: float = 60) -> None:
    """SIGKILL ``job`` and its whole process group; wait until the group is gone."""
    import os
    import signal
    import time

    os.killpg(job.pid, signal.SIGKILL)
    job.wait(timeout=60)
    deadline = time.monotonic() + settle_s
    while group_members(job.pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def one_part_work(tmp_path: Path, table: Any, job_id: str) -> Any:
    """A job's WorkSpec of one part: ``table`` written as ``tmp_path/in.parquet`` (one row
    group), scored into ``tmp_path/out`` (created) with id column ``ID``."""
    import pyarrow.parquet as pq

    from modelyard.batch import ScoringSpec
    from modelyard.batch._fs import OutputDir
    from modelyard.batch.job import InputFile, Part
    from modelyard.batch.parts import WorkSpec

    source = tmp_path / "in.parquet"
    pq.write_table(table, source)
    out = OutputDir(str(tmp_path / "out"))
    out.makedirs()
    rows = table.num_rows
    return WorkSpec(
        job_id=job_id,
        format="parquet",
        protocol="file",
        files=(InputFile(str(source), str(source), source.stat().st_size, "1", (rows,)),),
        parts=(Part(index=0, file=0, start=0, stop=1, rows=rows),),
        input_schema=table.schema,
        output=out,
        scoring=ScoringSpec(MODEL, 1, id_column=ID),
    )
