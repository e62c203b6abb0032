"""Batch jobs score with the compiled form serving uses, and record which scorer predicted.

The compiler (:mod:`modelyard.compiled`) sits below batch and serving; a batch job
loads it in each worker, checks it against the native model on the version's
input example, and records the scorer — or why the pipeline was not compiled —
in the job (``job.scorer``, ``job.scorer_reason``, the CLI summary).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from batch_helpers import ID, read_output
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import KBinsDiscretizer, OrdinalEncoder, StandardScaler

from modelyard.demo.credit_models import split_xy

QUIET = {"quiet": True, "id_column": ID, "part_rows": 3_000, "batch_rows": 1_000, "workers": 1}


def _columns(x: pd.DataFrame) -> tuple[list[str], list[str]]:
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c])]
    return numeric, [c for c in x.columns if c not in numeric]


def _gradient_boosting(x: pd.DataFrame, y: pd.Series) -> Pipeline:
    numeric, categorical = _columns(x)
    encode = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                categorical,
            ),
        ]
    )
    model = GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=5)
    return Pipeline([("encode", encode), ("model", model)]).fit(x, y)


def _binned_forest(x: pd.DataFrame, y: pd.Series) -> Pipeline:
    numeric, categorical = _columns(x)
    encode = ColumnTransformer(
        [
            ("num", KBinsDiscretizer(n_bins=4, strategy="uniform", encode="ordinal"), numeric),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                categorical,
            ),
        ]
    )
    model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=5)
    return Pipeline([("encode", encode), ("model", model)]).fit(x, y)


@pytest.fixture
def registered(by, fitted, loans):
    """Versions ``gbdt/1`` (compiles) and ``binned/1`` (KBinsDiscretizer: does not)."""
    train = loans.tail(4_000)
    X, y = split_xy(train)
    pipelines = {"gbdt": _gradient_boosting(X, y), "binned": _binned_forest(X, y)}
    for name, pipeline in pipelines.items():
        by.models.register(name, pipeline, example=X)
    return pipelines


def test_a_batch_job_scores_a_compiled_shape_exactly_and_records_the_scorer(
    by, registered, loans, tmp_path
) -> None:
    frame = loans.head(6_000)
    source = tmp_path / "in.parquet"
    frame.to_parquet(source, index=False)
    job = by.batch.score("gbdt/1", source, tmp_path / "out", **QUIET)
    assert job.status == "FINISHED" and job.rows_out == 6_000
    assert (job.scorer, job.scorer_reason) == ("gbdt-compiled", "compiled")
    assert by.batch.status(job.id).scorer == "gbdt-compiled"  # stored with the job
    assert job.to_dict()["scorer"] == "gbdt-compiled"

    scored = read_output(tmp_path / "out")
    ordered = frame.sort_values(ID, kind="stable").reset_index(drop=True)
    expected = registered["gbdt"].predict_proba(split_xy(ordered)[0])[:, 1]
    assert (scored[ID] == ordered[ID]).all()
    assert np.array_equal(scored["score"].to_numpy(), expected)  # bit-identical

    native = by.batch.score("gbdt/1", source, tmp_path / "native", form="native", **QUIET)
    assert (native.scorer, native.scorer_reason) == ("native", "form='native' was asked for")
    assert np.array_equal(read_output(tmp_path / "native")["score"].to_numpy(), expected)


def test_a_batch_job_records_why_a_pipeline_is_not_compiled(
    by, registered, loans, tmp_path, capsys, monkeypatch
) -> None:
    from modelyard.cli import _context
    from modelyard.cli.main import main

    source = tmp_path / "in.parquet"
    loans.head(2_000).to_parquet(source, index=False)
    job = by.batch.score("binned/1", source, tmp_path / "out", **QUIET)
    assert job.scorer == "native"
    assert job.scorer_reason == "KBinsDiscretizer in transformer 'num' has no compiled form"
    scored = read_output(tmp_path / "out")
    ordered = loans.head(2_000).sort_values(ID, kind="stable")
    expected = registered["binned"].predict_proba(split_xy(ordered)[0])[:, 1]
    assert np.array_equal(scored["score"].to_numpy(), expected)

    settings = by.settings
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("MODELYARD_STORE_URL", settings.resolved_store_url)
    monkeypatch.setenv("MODELYARD_ARTIFACT_ROOT", settings.resolved_artifact_root)
    monkeypatch.setenv("MODELYARD_HOME", str(settings.home))
    monkeypatch.setenv("MODELYARD_USER", "alice")
    _context.yard.cache_clear()
    code = main(["batch", "status", job.id, "--json"])
    shown = capsys.readouterr().out
    _context.yard.cache_clear()
    assert code == 0, shown
    record = json.loads(shown)
    assert record["scorer"] == "native"
    assert record["scorer_reason"] == "KBinsDiscretizer in transformer 'num' has no compiled form"
