"""Attribution drift beside feature drift: a model that starts relying on another feature."""

from __future__ import annotations

from typing import Any

import monitor_helpers
import pytest
from monitor_helpers import register_version

import modelyard
from modelyard.data import synthetic
from modelyard.monitoring.attributions import attribution_summary

train_frame = monitor_helpers.train_frame
credit_model = monitor_helpers.credit_model


@pytest.fixture
def myard(tmp_path: Any) -> Any:
    yard = modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}",
        artifact_root=str(tmp_path / "artifacts"),
        user="alice",
        home=str(tmp_path / "home"),
    )
    yield yard
    yard.close()


def test_a_window_that_leans_on_one_feature_shows_it(myard, credit_model, train_frame) -> None:
    version = register_version(myard, credit_model, train_frame, None)
    calm = myard.monitors.run(
        version.ref, data=synthetic.generate(2_000, seed=4), rules=False, store=False
    )
    steady = calm.summaries["drift"]["attribution"]
    assert steady["rows"] == 500
    assert steady["max_share_change"] < 0.1
    assert set(steady["features"]) == set(synthetic.FEATURES)
    # Every applicant's debt burden is now extreme: the model's decisions turn on it.
    skewed = synthetic.generate(2_000, seed=5)
    skewed["debt_to_income"] = 0.95
    result = myard.monitors.run(version.ref, data=skewed, rules=False)
    moved = result.summaries["drift"]["attribution"]
    assert moved["top_current"] == "debt_to_income"
    assert moved["most_changed"] == "debt_to_income"
    assert moved["features"]["debt_to_income"]["share_change"] > 0.1
    assert any("attributions: leading feature" in line for line in result.describe())
    stored = myard.monitors.results(version.ref, kind="drift")[0]
    assert stored.summary["attribution"]["top_current"] == "debt_to_income"


def test_a_model_that_cannot_be_explained_is_noted(myard, train_frame) -> None:
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    from modelyard.data.synthetic import FEATURES, TARGET

    frame = train_frame.head(400)
    from sklearn.compose import ColumnTransformer

    encode = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ["home_ownership", "region", "loan_purpose"],
            )
        ],
        remainder="passthrough",
    )
    model = make_pipeline(encode, GaussianNB()).fit(frame[list(FEATURES)], frame[TARGET])
    version = register_version(myard, model, frame, None, name="naive-bayes")
    result = myard.monitors.run(
        version.ref, data=synthetic.generate(300, seed=6), rules=False, store=False
    )
    assert "attribution" not in result.summaries["drift"]
    assert any("attributions not computed" in n and "GaussianNB" in n for n in result.notes)


def test_attribution_summary_shares() -> None:
    summary = attribution_summary({"a": 3.0, "b": 1.0}, {"a": 1.0, "b": 3.0}, 10)
    assert summary["top_reference"] == "a" and summary["top_current"] == "b"
    assert summary["max_share_change"] == pytest.approx(0.5)
    assert summary["features"]["b"]["share_change"] == pytest.approx(0.5)
