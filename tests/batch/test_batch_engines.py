"""The three engines give identical output for the same input (one Dask cluster, one Spark)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from batch_helpers import COMPARED, ID, MODEL, expected_scores, read_output, write_parts

DEFERRED = "numba tree kernel after 15,000 rows a process"
C_API = "LightGBM C API"

# Spark takes ~10 s to start and a LocalCluster ~2 s: one test uses both, so that a
# parallel run starts each once (xdist_group does not group under pytest 9 here).
pytestmark = [
    # PySpark's own modules still call APIs that newer pandas/NumPy/Python deprecate.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
]


@pytest.fixture(scope="module")
def engine_input(tmp_path_factory: pytest.TempPathFactory, loans: pd.DataFrame):
    """20,000 rows in 4 files, with a few bad rows so rejects are compared too."""
    frame = loans.copy()
    frame.loc[[17, 9_000], "region"] = "Atlantis"
    frame.loc[15_555, "income"] = np.nan
    folder = tmp_path_factory.mktemp("engines")
    write_parts(frame, folder, files=4, row_group=1_250)
    return frame, folder


def _run(by, folder, out, engine, **options):
    return by.batch.score(
        f"{MODEL}/1",
        folder,
        out,
        engine=engine,
        id_column=ID,
        passthrough=["application_date"],
        part_rows=2_500,
        batch_rows=1_000,
        quiet=True,
        **options,
    )


def test_local_dask_and_spark_score_identically_and_resume(
    by, fitted, engine_input, tmp_path, dask_scheduler, spark, monkeypatch
) -> None:
    frame, folder = engine_input
    # The job's break-even for the tree kernel, set where the job is submitted (the Dask
    # workers and Spark's Python workers started before it) and handed to every engine's
    # workers: local-1's share of 20,000 rows compiles it at load, the others' 10,000
    # defer it (one compilation only: each costs seconds). Scores are the same either way.
    monkeypatch.setenv("MODELYARD_BATCH_KERNEL_AFTER_ROWS", "15000")
    jobs = {
        "local-1": _run(by, folder, tmp_path / "local-1", "local", workers=1),
        "local-2": _run(by, folder, tmp_path / "local-2", "local", workers=2),
        "dask": _run(
            by, folder, tmp_path / "dask", "dask", engine_options={"scheduler": dask_scheduler}
        ),
        "spark": _run(by, folder, tmp_path / "spark", "spark", engine_options={"session": spark}),
    }
    for name, job in jobs.items():
        assert job.status == "FINISHED", name
        assert (job.rows_in, job.rows_out, job.rows_rejected) == (20_000, 19_997, 3), name
        assert job.params["parts_total"] == 8, name
        assert job.evaluator == (
            "numba tree kernel" if name == "local-1" else f"{DEFERRED} ({C_API} before)"
        ), name
    # Each engine loaded the model in every worker before scoring (Spark: a warm-up stage
    # of one task per core, whose Python workers the parts then reuse).
    for name in ("local-2", "spark"):
        assert len(jobs[name].params["engine_stats"]["worker_load_seconds"]) == 2, name
    # Spark: the parts ran in the Python workers the warm-up stage loaded (no part's task
    # had to load the model itself).
    assert jobs["spark"].params["engine_stats"]["model_loads_while_scoring"] == 0
    outputs = {name: read_output(tmp_path / name) for name in jobs}
    reference = outputs["local-1"]
    assert reference[ID].is_unique and len(reference) == 19_997
    expected = expected_scores(fitted, frame.drop(index=[17, 9_000, 15_555]))
    assert np.array_equal(reference["score"].to_numpy(), expected.loc[reference[ID]].to_numpy())
    for name, scored in outputs.items():
        pd.testing.assert_frame_equal(scored[COMPARED], reference[COMPARED], check_exact=True)
        assert scored.dtypes.equals(reference.dtypes), name
        assert sorted(p.name for p in (tmp_path / name).glob("part-*.parquet")) == [
            f"part-{i:05d}.parquet" for i in range(8)
        ], name
        rejects = pd.read_parquet(tmp_path / name / "_rejects").sort_values(ID)
        assert rejects["_reason"].tolist() == [
            "region: unseen category (got 'Atlantis')",
            "region: unseen category (got 'Atlantis')",
            "income: null in a non-nullable column",
        ], name

    # A job stopped part-way resumes on any engine: the manifest names the parts done.
    out = tmp_path / "local-2"
    for index in (1, 6):
        (out / f"part-{index:05d}.parquet").unlink()
    again = _run(by, folder, out, "dask", engine_options={"scheduler": dask_scheduler})
    assert again.id == jobs["local-2"].id and again.params["rows_this_attempt"] == 5_000
    assert again.evaluator == f"{DEFERRED} ({C_API} before)"
    (out / "part-00003.parquet").unlink()
    third = _run(by, folder, out, "spark", engine_options={"session": spark})
    assert third.id == jobs["local-2"].id and third.engine == "spark"
    assert third.params["rows_this_attempt"] == 2_500 and third.params["attempts"] == 3
    pd.testing.assert_frame_equal(read_output(out)[COMPARED], reference[COMPARED])
