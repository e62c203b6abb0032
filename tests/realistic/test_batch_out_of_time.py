"""Batch scoring the months after the regime change: out-of-domain rows are scored and
counted, only rows that truly cannot be scored are rejected, and too many rejects end
the job with its own exit code.

The CLI runs as a real subprocess (``python -m modelyard.cli.main batch score``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from realistic_pipelines import split_xy

import modelyard
from modelyard.batch.defaults import EXIT_TOO_MANY_REJECTS
from modelyard.data.out_of_time import FEATURES

ID = "application_id"
ROWS = 1_000
UNSEEN_SHARE = 0.2
WRONG_SHARE = 0.05


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("oot-batch")
    return {
        **os.environ,
        "MODELYARD_HOME": str(root / "home"),
        "MODELYARD_STORE_URL": f"sqlite:///{root / 'yard.db'}",
        "MODELYARD_ARTIFACT_ROOT": str(root / "artifacts"),
        "MODELYARD_USER": "alice",
        "COLUMNS": "200",
    }


@pytest.fixture(scope="module")
def registered(env: dict[str, str], fitted_pipelines: dict, early: pd.DataFrame) -> Any:
    """``lgbm`` and ``hgb`` as a new user registers them (``example=x.head(5)``), and
    ``lgbm-trained`` whose run had the early months as its input dataset."""
    yard = modelyard.connect(
        env["MODELYARD_STORE_URL"],
        artifact_root=env["MODELYARD_ARTIFACT_ROOT"],
        home=env["MODELYARD_HOME"],
        user="alice",
    )
    x, _ = split_xy(early)
    yard.models.register("lgbm", fitted_pipelines["ordinal_lightgbm"], example=x.head(5))
    yard.models.register("hgb", fitted_pipelines["native_categorical_hgb"], example=x.head(5))
    training = yard.datasets.register("loans-early", early)
    with yard.start_run(experiment="oot", inputs=[training]) as run:
        yard.models.register(
            "lgbm-trained", fitted_pipelines["ordinal_lightgbm"], run=run, example=x.head(5)
        )
    yield yard
    yard.close()


def _mixed(early: pd.DataFrame, late: pd.DataFrame) -> pd.DataFrame:
    """80% early rows and 20% late rows through the new 'app' channel."""
    unseen = int(ROWS * UNSEEN_SHARE)
    app = late[late["channel"] == "app"].head(unseen)
    assert len(app) == unseen
    frame = pd.concat([early.tail(ROWS - unseen), app], ignore_index=True)
    return frame[[ID, *FEATURES]]


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def test_unseen_categories_are_scored_not_rejected_by_the_cli(
    registered: Any,
    env: dict[str, str],
    early: pd.DataFrame,
    late: pd.DataFrame,
    fitted_pipelines: dict,
    tmp_path: Path,
) -> None:
    frame = _mixed(early, late)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    for model, name in (("lgbm", "ordinal_lightgbm"), ("hgb", "native_categorical_hgb")):
        run = _cli(
            env,
            tmp_path,
            "batch",
            "score",
            f"{model}@latest",
            "--input",
            "in.parquet",
            "--output",
            f"scores-{model}",
            "--id-column",
            ID,
            "--workers",
            "1",
            "--quiet",
            "--json",
        )
        assert run.returncode == 0, run.stderr[-3000:]
        job = json.loads(run.stdout)
        assert (job["rows_in"], job["rows_out"], job["rows_rejected"]) == (ROWS, ROWS, 0)
        assert job["rejects_exceeded"] is False
        # Every 'app' row is flagged (with a five-row example much else is too).
        assert job["warnings"]["channel: unseen_category"] >= int(ROWS * UNSEEN_SHARE)
        scores = pd.read_parquet(tmp_path / f"scores-{model}").set_index(ID)["score"]
        x = frame[list(FEATURES)]
        expected = pd.Series(fitted_pipelines[name].predict_proba(x)[:, 1], index=frame[ID])
        np.testing.assert_allclose(
            scores.loc[expected.index].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12
        )


def test_domain_from_the_training_dataset_flags_exactly_what_is_new(
    registered: Any, early: pd.DataFrame, late: pd.DataFrame, tmp_path: Path
) -> None:
    info = registered.models.get("lgbm-trained@latest")
    assert info.manifest["domain"]["source"] == "training"
    assert info.manifest["domain"]["datasets"] == ["loans-early/1"]
    frame = _mixed(early, late)
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    job = registered.batch.score(
        "lgbm-trained@latest", tmp_path / "in.parquet", tmp_path / "out", id_column=ID, quiet=True
    )
    assert (job.rows_out, job.rows_rejected) == (ROWS, 0)
    app = frame.tail(int(ROWS * UNSEEN_SHARE))
    assert job.warnings["channel: unseen_category"] == len(app)
    # Early rows are inside the training domain: only late rows are flagged.
    new_months = int((~app["application_month"].isin(early["application_month"])).sum())
    assert job.warnings["application_month: unseen_category"] == new_months
    assert "region: unseen_category" not in job.warnings


def test_wrong_types_over_the_limit_exit_with_the_distinct_code(
    registered: Any, env: dict[str, str], early: pd.DataFrame, late: pd.DataFrame, tmp_path: Path
) -> None:
    frame = _mixed(early, late)
    wrong = int(ROWS * WRONG_SHARE)
    # A fractional value in the integer column 'term': a wrong type, never scorable.
    frame["term"] = frame["term"].astype("float64")
    frame.loc[frame.index[:wrong], "term"] = 36.5
    frame.to_parquet(tmp_path / "in.parquet", index=False)
    run = _cli(
        env,
        tmp_path,
        "batch",
        "score",
        "lgbm@latest",
        "--input",
        "in.parquet",
        "--output",
        "scores",
        "--id-column",
        ID,
        "--workers",
        "1",
        "--quiet",
        "--max-reject-rate",
        "0.01",
    )
    assert run.returncode == EXIT_TOO_MANY_REJECTS, run.stdout + run.stderr
    assert f"{ROWS - wrong:,} rows scored, {wrong:,} rejected (5.00%)" in run.stdout
    assert "rejects by reason:" in run.stdout
    assert f"{wrong:,}  term: wrong type: expected integer" in run.stdout
    assert "scored with warnings" in run.stdout and "channel: unseen_category" in run.stdout
    assert "more than --max-reject-rate 1.00%" in run.stderr
    rejects = pd.read_parquet(tmp_path / "scores" / "_rejects")
    assert len(rejects) == wrong
    assert set(rejects["_reason"]) == {"term: wrong type: expected integer (got 36.5)"}
    # Under the limit the same rejects are summarised and the job exits 0.
    again = _cli(
        env,
        tmp_path,
        "batch",
        "score",
        "lgbm@latest",
        "--input",
        "in.parquet",
        "--output",
        "scores-lenient",
        "--id-column",
        ID,
        "--workers",
        "1",
        "--quiet",
        "--max-reject-rate",
        "0.10",
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"{wrong:,}  term: wrong type: expected integer" in again.stdout
