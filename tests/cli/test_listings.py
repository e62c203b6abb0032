"""Listings read in a terminal: ``runs list`` at 80 columns, ``datasets show``'s profile.

Run through the real command in a subprocess (so the terminal width comes
from ``COLUMNS`` as in a shell) against a real embedded store with the
out-of-time realistic data, tracked runs with long names and many metrics.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelyard
from modelyard.data.out_of_time import generate_out_of_time
from modelyard.demo.credit_models import lightgbm_pipeline, split_xy
from modelyard.metrics import binary_classification_metrics

RUN_NAMES = ("lightgbm-7-leaves-with-a-long-descriptive-name", "lightgbm-31-leaves")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("listings")
    frame = generate_out_of_time(12_000, seed=3)
    frame.to_parquet(root / "loans.parquet", index=False)
    yard = modelyard.connect(
        f"sqlite:///{root}/yard.db", artifact_root=str(root / "artifacts"), home=str(root)
    )
    yard.datasets.register("loans", str(root / "loans.parquet"))
    cutoff = frame["application_date"].quantile(0.75)
    x_train, y_train = split_xy(frame[frame["application_date"] < cutoff])
    x_hold, y_hold = split_xy(frame[frame["application_date"] >= cutoff])
    ids = []
    for name, leaves in zip(RUN_NAMES, (7, 31), strict=True):
        with yard.start_run(experiment="credit-risk-exploration-2026", name=name) as run:
            run.log_params({"num_leaves": leaves})
            model = lightgbm_pipeline(num_leaves=leaves, n_estimators=20).fit(x_train, y_train)
            run.log_metrics(
                binary_classification_metrics(y_hold, model.predict_proba(x_hold)[:, 1])
            )
        ids.append(run.id)
    metrics = sorted(yard.runs.get(ids[0]).metrics)
    yard.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env["PYTHONPATH"] = str(Path(modelyard.__file__).resolve().parents[1])
    env["MODELYARD_STORE_URL"] = f"sqlite:///{root}/yard.db"
    env["MODELYARD_ARTIFACT_ROOT"] = str(root / "artifacts")
    env["MODELYARD_HOME"] = str(root)
    return {"env": env, "ids": ids, "metrics": metrics}


def _run(store: dict, *args: str, columns: int = 80) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", *args],
        env={**store["env"], "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_runs_list_fits_80_columns_one_line_per_run(store: dict) -> None:
    assert len(store["metrics"]) > 4  # more metrics than an 80-column table holds
    text = _run(store, "runs", "list")
    lines = text.splitlines()
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    for run_id in store["ids"]:
        assert sum(line.startswith(run_id[:8]) for line in lines) == 1, text
    assert "auc" in lines[1] and "FINISHED" in text
    assert "--wide" in text  # says how to see the hidden metrics


def test_runs_list_order_by_metric_shows_that_metric(store: dict) -> None:
    text = _run(store, "runs", "list", "--order-by", "metrics.brier asc")
    header = text.splitlines()[1]
    assert "brier" in header
    assert all(len(line) <= 80 for line in text.splitlines())


def test_runs_list_wide_shows_every_column_in_full(store: dict) -> None:
    text = _run(store, "runs", "list", "--wide")
    header = next(line for line in text.splitlines() if " id " in line)
    for key in store["metrics"]:
        assert key in header, key
    for run_id in store["ids"]:
        assert run_id in text  # whole ids
    assert RUN_NAMES[0] in text and "…" not in text


def test_datasets_show_never_prints_none_distinct(store: dict) -> None:
    text = _run(store, "datasets", "show", "loans/1", columns=200)
    assert "None" not in text
    application_id = next(line for line in text.splitlines() if "application_id" in line)
    assert "over 10,000 distinct (high cardinality)" in application_id
    region = next(line for line in text.splitlines() if " region " in line)
    assert "distinct; top:" in region
