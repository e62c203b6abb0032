"""A batch worker whose share of the job repays the tree kernel compiles it at load.

Without a forecast a worker scores its first rows with the tree library's own
evaluator and compiles the numba kernel once it has scored the break-even
(``batch_kernel_after_rows``): the ski-rental rule. A job knows its rows, so
each engine tells its workers their share: a share at or above the break-even
compiles at load (the rows on the library would only have added to the
compilation's cost), a smaller one keeps the rule. The job records which
(``job.evaluator``). Scores are the same either way, bit for bit; the jobs
here score the generator's out-of-time months (nulls, unseen categories, new
ranges).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from batch_helpers import ID, cli_yard

from modelyard.batch.bundle import ModelBundle
from modelyard.batch.scoring import ScoringModel, kernel_after_rows_for
from modelyard.compiled import BATCH_KERNEL_AFTER_ROWS
from modelyard.data.out_of_time import FEATURES, TARGET, generate_out_of_time, split_at_change
from modelyard.demo.credit_models import lightgbm_pipeline

AT_LOAD = "numba tree kernel"
VARIABLE = "MODELYARD_BATCH_KERNEL_AFTER_ROWS"


@pytest.fixture(scope="module")
def months() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    early, late = split_at_change(generate_out_of_time(24_000, seed=17))
    x, y = early[list(FEATURES)].iloc[:5_000], early[TARGET].iloc[:5_000]
    return x, y, late.head(6_000).reset_index(drop=True)


@pytest.fixture(scope="module")
def pipeline(months: Any) -> Any:
    x, y, _ = months
    return lightgbm_pipeline(n_estimators=20).fit(x, y)


def test_the_share_decides_against_the_break_even(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    monkeypatch.delenv("MODELYARD_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no modelyard.toml here
    default = BATCH_KERNEL_AFTER_ROWS
    assert kernel_after_rows_for(None) == default  # no forecast: rent until it has paid
    assert kernel_after_rows_for(default - 1) == default  # too small to repay it
    assert kernel_after_rows_for(default) == 0  # repays it: compile at load
    monkeypatch.setenv(VARIABLE, "2000")  # the setting is the break-even
    assert kernel_after_rows_for(1_999) == 2_000
    assert kernel_after_rows_for(2_000) == 0
    assert kernel_after_rows_for(None) == 2_000
    monkeypatch.setenv(VARIABLE, "0")  # 0: always at load
    assert kernel_after_rows_for(None) == 0 and kernel_after_rows_for(1) == 0


def test_a_job_decides_for_its_workers_from_their_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, "3000")  # read where the job is submitted
    bundle = ModelBundle(digest="sha256:00", files={}, model_dir=str(tmp_path))
    assert bundle.kernel_after_rows is None  # a bundle outside a job: the worker's setting
    assert bundle.for_job(6_000, 2).kernel_after_rows == 0  # 3,000 each: at load
    assert bundle.for_job(6_001, 3).kernel_after_rows == 3_000  # 2,001 each: deferred
    assert bundle.for_job(6_000, 0).kernel_after_rows == 0  # no workers known yet: one
    assert bundle.for_job(None, 2).kernel_after_rows == 3_000  # CSV: rows unknown
    assert bundle.for_job(6_000, 2).key == bundle.key  # the same model for the cache


def test_a_model_loaded_for_a_large_share_evaluates_with_the_kernel_from_the_first_row(
    tmp_path: Path, months: Any, pipeline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, yard = cli_yard(tmp_path)
    version = yard.models.register("credit", pipeline, example=months[0])
    path = yard.models.local_path(version.ref)
    yard.close()
    monkeypatch.setenv(VARIABLE, "2000")  # the process's own setting, when the job is silent
    late = months[2][list(FEATURES)]
    deferred = ScoringModel.load(path)
    told = ScoringModel.load(path, kernel_after_rows=5_000)
    at_load = ScoringModel.load(path, kernel_after_rows=0)
    assert deferred.evaluator == f"{AT_LOAD} after 2,000 rows a process (LightGBM C API before)"
    assert told.evaluator == f"{AT_LOAD} after 5,000 rows a process (LightGBM C API before)"
    assert at_load.evaluator == AT_LOAD
    for model in (deferred, told, at_load):
        assert model.form == "lightgbm-compiled"
        got = model.predict(model.contract.enforce(late))
        assert np.array_equal(got, pipeline.predict_proba(late))  # bit for bit


@pytest.mark.slow
def test_a_local_job_tells_its_workers_their_share(
    tmp_path: Path, months: Any, pipeline: Any
) -> None:
    """6,000 out-of-time rows over 2 workers: 3,000 each, against a break-even of 2,000
    set where the job is submitted: the kernel at load; the scores are the model's.
    (Shares below the break-even, on every engine: test_batch_engines.)"""
    env, yard = cli_yard(tmp_path, **{VARIABLE: "2000"})
    yard.models.register("credit", pipeline, example=months[0])
    yard.close()
    late = months[2]
    (tmp_path / "in").mkdir()
    late.to_parquet(tmp_path / "in" / "late.parquet", row_group_size=1_000)
    command = [sys.executable, "-m", "modelyard.cli.main", "batch", "score", "credit/1",
               "-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--id-column", ID,
               "--workers", "2", "--part-rows", "1000", "--json"]  # fmt: skip
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    job = json.loads(done.stdout)
    assert job["status"] == "FINISHED" and job["rows_out"] == len(late)
    assert job["scorer"] == "lightgbm-compiled" and job["evaluator"] == AT_LOAD
    assert job["params"]["warnings"]  # the out-of-time rows were flagged, and scored
    scored = pd.read_parquet(tmp_path / "out").set_index(ID)
    expected = pipeline.predict_proba(late[list(FEATURES)])[:, 1]
    assert np.array_equal(scored.loc[late[ID], "score"].to_numpy(), expected)


def test_a_kept_model_is_loaded_again_when_a_job_wants_the_kernel_at_load(
    tmp_path: Path, months: Any, pipeline: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Spark Python worker keeps its model between jobs: one loaded for a small job
    (kernel deferred) is loaded again for a job whose share repays the kernel."""
    from batch_helpers import bundle_of

    from modelyard.batch.bundle import load_cached

    _, yard = cli_yard(tmp_path)
    version = yard.models.register("credit", pipeline, example=months[0])
    bundle = bundle_of(yard, version.ref)
    yard.close()
    monkeypatch.setenv(VARIABLE, "2000")
    small = load_cached(bundle.for_job(1_000, 1))
    assert small.kernel_deferred and load_cached(bundle.for_job(1_500, 1)) is small
    large = load_cached(bundle.for_job(6_000, 2))
    assert large is not small and large.evaluator == AT_LOAD and not large.kernel_deferred
    assert load_cached(bundle.for_job(1_000, 1)) is large  # kept: its kernel is compiled
