"""Validation reports, model cards and ONNX compilation of registered versions."""

from __future__ import annotations

import re

import numpy as np
import pytest

from modelyard.data.synthetic import FEATURES, generate
from modelyard.demo.credit_models import lightgbm_pipeline, split_xy
from modelyard.errors import InvalidInput


@pytest.fixture(scope="module")
def frames():
    frame = generate(4_000, seed=21)
    return frame.iloc[:3000].reset_index(drop=True), frame.iloc[3000:].reset_index(drop=True)


@pytest.fixture(scope="module")
def lgbm(frames):
    x, y = split_xy(frames[0])
    return lightgbm_pipeline(n_estimators=40).fit(x, y)


@pytest.fixture
def version(sqlite_yard, lgbm, frames):
    train, _ = frames
    data = sqlite_yard.datasets.register("loans-train", train)
    with sqlite_yard.start_run(name="lgbm") as run:
        run.log_input(data, role="training")
        run.log_params({"n_estimators": 40})
        run.log_metrics({"auc": 0.7})
    return sqlite_yard.models.register(
        "credit-risk", lgbm, run=run, example=train[list(FEATURES)], target="default"
    )


def test_validate_writes_report_records_metrics_and_state(sqlite_yard, version, frames) -> None:
    _, holdout = frames
    sqlite_yard.datasets.register("loans-holdout", holdout)
    outcome = sqlite_yard.models.validate(
        version.ref, "loans-holdout", fairness_attribute="region", segment_by=["term"]
    )
    assert outcome.report_path.exists()
    html = outcome.report_path.read_text()
    assert "credit-risk" in html
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", html)  # offline
    after = sqlite_yard.models.get(version.ref)
    assert after.state == "validated"
    assert after.metrics["validation"]["auc"] == pytest.approx(outcome.metrics["auc"])
    assert "psi_scores" in outcome.metrics  # reference = the run's training dataset
    assert after.artifact("validation_report.html").digest == outcome.report_digest
    assert sqlite_yard.artifacts.get_bytes(outcome.report_digest) == html.encode()


def test_validate_needs_a_target(sqlite_yard, lgbm, frames) -> None:
    train, holdout = frames
    v = sqlite_yard.models.register("other", lgbm, example=train[list(FEATURES)])
    with pytest.raises(InvalidInput, match="no target column"):
        sqlite_yard.models.validate(v.ref, holdout)
    with pytest.raises(InvalidInput, match="'nope'"):
        sqlite_yard.models.validate(v.ref, holdout, target="nope")


def test_card_markdown_and_html(sqlite_yard, version, frames) -> None:
    sqlite_yard.models.validate(version.ref, frames[1])
    outcome = sqlite_yard.models.card(version.ref)
    markdown = outcome.markdown_path.read_text()
    assert "credit-risk" in markdown and "loans-train/1" in markdown
    assert outcome.html_path.read_text().lstrip().lower().startswith("<!doctype html")
    names = {a.name for a in sqlite_yard.models.get(version.ref).artifacts}
    assert {"model_card.md", "model_card.html", "validation_report.html"} <= names


def test_compile_onnx_parity_and_refusal(sqlite_yard, version, frames) -> None:
    parity = sqlite_yard.models.compile(version.ref, data=frames[1])
    assert parity.passed and parity.max_abs_diff <= 1e-5
    predictor = sqlite_yard.models.compiled(version.ref)
    x = frames[1][list(FEATURES)].head(100)
    native = sqlite_yard.models.load(version.ref).predict_proba(x)
    assert np.abs(predictor.predict_proba(x) - native).max() <= 1e-5


def test_broken_conversion_is_not_usable(sqlite_yard, frames) -> None:
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder, StandardScaler

    from modelyard.demo.credit_models import CATEGORICAL, NUMERIC

    # A scaler in front of trees: float32 thresholds in ONNX break parity.
    encode = ColumnTransformer(
        [("num", StandardScaler(), NUMERIC), ("cat", OrdinalEncoder(), CATEGORICAL)]
    )
    model = Pipeline(
        [("encode", encode), ("model", LGBMClassifier(n_estimators=200, n_jobs=1, verbose=-1))]
    )
    x, y = split_xy(frames[0])
    model.fit(x, y)
    v = sqlite_yard.models.register("scaled", model, example=x)
    parity = sqlite_yard.models.compile(v.ref, data=frames[1])
    if parity.passed:  # the conversion happened to be exact: corrupt it to prove refusal
        pytest.fail(f"expected the scaled tree pipeline to break parity; got {parity}")
    assert sqlite_yard.models.compiled(v.ref) is None
    record = sqlite_yard.models.get(v.ref).artifact("onnx")
    assert record.details["usable"] is False
