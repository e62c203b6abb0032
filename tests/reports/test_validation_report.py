"""validate_model: figures checked against independent computations, sections, and the HTML."""

from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs
from scipy.stats import ks_2samp
from sklearn.calibration import calibration_curve
from sklearn.compose import ColumnTransformer
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

from modelyard.data import synthetic
from modelyard.demo.credit_models import CATEGORICAL, NUMERIC
from modelyard.errors import InvalidInput
from modelyard.reports import ValidationResult, validate_model
from modelyard.reports.validation import SECTION_TITLES

FEATURES = list(synthetic.FEATURES)
TARGET = synthetic.TARGET


def _scores(model: Any, frame: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(frame[FEATURES])[:, 1]


def _labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[TARGET].to_numpy()


# --- headline figures agree with scikit-learn and scipy --------------------------------------


@pytest.mark.parametrize("which", ["lightgbm", "logistic"])
def test_discrimination_and_calibration_match_sklearn(
    which: str, request: pytest.FixtureRequest, frames: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    report: ValidationResult = request.getfixturevalue(f"{which}_report")
    model = request.getfixturevalue(f"{which}_model")
    _, holdout = frames
    y, s = _labels(holdout), _scores(model, holdout)

    m = report.metrics
    assert m["auc"] == roc_auc_score(y, s)
    assert m["brier"] == brier_score_loss(y, s)
    assert m["gini"] == 2 * m["auc"] - 1
    assert m["log_loss"] == pytest.approx(log_loss(y, s), rel=1e-12)
    bads, goods = s[y == 1], s[y == 0]
    ks = ks_2samp(bads, goods).statistic
    assert abs(m["ks"] - ks) < 1e-9
    assert abs(report.sections["ks"]["ks"] - ks) < 1e-9
    assert m["n_rows"] == len(holdout) and m["n_defaults"] == y.sum()
    assert m["default_rate"] == pytest.approx(y.mean())
    assert m["approval_rate"] == pytest.approx(np.mean(s < report.sections["meta"]["threshold"]))


def test_calibration_bins_are_sklearn_quantile_bins_and_ece_is_their_weighted_gap(
    lightgbm_report: ValidationResult, lightgbm_model: Any, frames: tuple[pd.DataFrame, ...]
) -> None:
    _, holdout = frames
    y, s = _labels(holdout), _scores(lightgbm_model, holdout)
    bins = lightgbm_report.sections["calibration"]["bins"]
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="quantile")
    np.testing.assert_allclose([b["default_rate"] for b in bins], prob_true, rtol=1e-12)
    np.testing.assert_allclose([b["mean_score"] for b in bins], prob_pred, rtol=1e-12)
    assert sum(b["count"] for b in bins) == len(y)
    ece = sum(b["count"] * abs(b["mean_score"] - b["default_rate"]) for b in bins) / len(y)
    assert lightgbm_report.metrics["calibration_error"] == pytest.approx(ece, rel=1e-12)
    # LightGBM on the generator's smooth truth is close to calibrated.
    assert lightgbm_report.metrics["calibration_error"] < 0.05


def test_roc_points_run_corner_to_corner_and_are_monotone(
    lightgbm_report: ValidationResult,
) -> None:
    roc = lightgbm_report.sections["roc"]
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0)
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(roc["fpr"]) >= 0) and np.all(np.diff(roc["tpr"]) >= 0)
    assert len(roc["fpr"]) <= 301


def test_score_histogram_shares_sum_to_one_per_class(lightgbm_report: ValidationResult) -> None:
    hist = lightgbm_report.sections["score_histogram"]
    assert sum(hist["goods_share"]) == pytest.approx(1.0, abs=1e-4)  # points keep 6 decimals
    assert sum(hist["bads_share"]) == pytest.approx(1.0, abs=1e-4)
    assert len(hist["edges"]) == len(hist["goods_share"]) + 1


# --- population stability ---------------------------------------------------------------------


def test_score_psi_against_itself_is_zero(
    frames: tuple[pd.DataFrame, ...], logistic_model: Any
) -> None:
    _, holdout = frames
    result = validate_model(
        logistic_model.predict_proba, holdout, target=TARGET, features=FEATURES,
        model_name="m", version=1, reference_data=holdout, max_rows_for_importance=200,
    )  # fmt: skip
    assert result.metrics["psi_scores"] == 0.0
    assert result.metrics["n_reference_rows"] == len(holdout)


def test_score_psi_sees_a_shifted_population(
    frames: tuple[pd.DataFrame, ...], logistic_model: Any
) -> None:
    train, holdout = frames
    shifted = holdout.assign(debt_to_income=holdout["debt_to_income"] * 1.8)
    result = validate_model(
        logistic_model.predict_proba, shifted, target=TARGET, features=FEATURES,
        model_name="m", version=1, reference_data=train, max_rows_for_importance=200,
    )  # fmt: skip
    assert result.metrics["psi_scores"] > 0.1
    table = result.sections["psi"]["bins"]
    assert sum(b["reference_share"] for b in table) == pytest.approx(1.0)
    assert sum(b["current_share"] for b in table) == pytest.approx(1.0)
    assert sum(b["contribution"] for b in table) == pytest.approx(result.metrics["psi_scores"])


def test_train_vs_holdout_psi_is_small(lightgbm_report: ValidationResult) -> None:
    # Same generator, same period: the score distribution must be stable.
    assert 0 <= lightgbm_report.metrics["psi_scores"] < 0.1
    assert len(lightgbm_report.sections["psi"]["bins"]) == 10


def test_without_reference_the_stability_section_says_so(logistic_report: ValidationResult) -> None:
    assert "psi_scores" not in logistic_report.metrics
    assert logistic_report.sections["psi"]["available"] is False
    assert "no reference" in logistic_report.sections["psi"]["note"].lower()
    assert "no reference" in logistic_report.html.lower()


# --- segments and fairness ----------------------------------------------------------------------


def test_segment_table_matches_subsets(
    lightgbm_report: ValidationResult, lightgbm_model: Any, frames: tuple[pd.DataFrame, ...]
) -> None:
    _, holdout = frames
    s = _scores(lightgbm_model, holdout)
    rows = [r for r in lightgbm_report.sections["segments"] if r["column"] == "region"]
    assert {r["segment"] for r in rows} == set(holdout["region"])
    for row in rows:
        mask = (holdout["region"] == row["segment"]).to_numpy()
        assert row["count"] == mask.sum()
        assert row["default_rate"] == pytest.approx(holdout[TARGET][mask].mean())
        assert row["auc"] == pytest.approx(roc_auc_score(holdout[TARGET][mask], s[mask]))
    bands = [r for r in lightgbm_report.sections["segments"] if r["column"] == "income"]
    assert len(bands) == 5 and sum(r["count"] for r in bands) == len(holdout)
    assert bands[0]["segment"].startswith("[") and bands[-1]["segment"].endswith("]")


def _fairness_frame() -> pd.DataFrame:
    """Three groups with decisions and outcomes whose rates are known by construction.

    Group A: 100 rows, 80 approved (score 0.2), 20 declined (score 0.5, exactly the
    threshold: declined); 10 of the declined and 10 of the approved default -> TPR 0.5.
    Group B: 100 rows, 50 approved, 50 declined (0.9); 30 declined and 10 approved
    default -> TPR 0.75. Group C: 50 rows, 45 approved, no defaults -> TPR undefined.
    """
    rows = []
    for group, approved, declined, bad_declined, bad_approved in (
        ("A", 80, 20, 10, 10),
        ("B", 50, 50, 30, 10),
        ("C", 45, 5, 0, 0),
    ):
        high = 0.5 if group == "A" else 0.9
        rows += [(group, 0.2, int(i < bad_approved)) for i in range(approved)]
        rows += [(group, high, int(i < bad_declined)) for i in range(declined)]
    return pd.DataFrame(rows, columns=["group", "score", "bad"])


def test_fairness_figures_by_hand() -> None:
    frame = _fairness_frame()
    result = validate_model(
        lambda f: f["score"].to_numpy(), frame, target="bad", features=["score"],
        model_name="m", version=1, fairness_attribute="group", threshold=0.5,
        max_rows_for_importance=100,
    )  # fmt: skip
    groups = {g["group"]: g for g in result.sections["fairness"]["groups"]}
    assert groups["A"]["approval_rate"] == pytest.approx(0.8)
    assert groups["B"]["approval_rate"] == pytest.approx(0.5)
    assert groups["C"]["approval_rate"] == pytest.approx(0.9)
    assert groups["A"]["tpr"] == pytest.approx(0.5)
    assert groups["B"]["tpr"] == pytest.approx(0.75)
    assert groups["C"]["tpr"] is None
    assert result.metrics["approval_rate_ratio"] == pytest.approx(0.5 / 0.9)
    assert result.metrics["tpr_gap"] == pytest.approx(0.25)
    assert "Fairness" in result.html and "group" in result.html


def test_fairness_over_a_numeric_attribute_uses_bands(
    lightgbm_model: Any, frames: tuple[pd.DataFrame, ...]
) -> None:
    _, holdout = frames
    result = validate_model(
        lambda f: lightgbm_model.predict_proba(f)[:, 1], holdout, target=TARGET,
        features=FEATURES, model_name="m", version=1, fairness_attribute="age",
        threshold=0.15, max_rows_for_importance=200,
    )  # fmt: skip
    groups = result.sections["fairness"]["groups"]
    assert len(groups) == 5 and sum(g["count"] for g in groups) == len(holdout)
    rates = [g["approval_rate"] for g in groups]
    assert result.metrics["approval_rate_ratio"] == pytest.approx(min(rates) / max(rates))


# --- feature importance -------------------------------------------------------------------------


def test_lightgbm_pipeline_gets_shap_under_original_feature_names(
    lightgbm_report: ValidationResult,
) -> None:
    importance = lightgbm_report.sections["importance"]
    assert importance["method"] == "shap"
    assert importance["rows"] == 1000
    names = [f["feature"] for f in importance["features"]]
    assert sorted(names) == sorted(FEATURES)
    # The generator's strongest drivers (interest_rate is the lender's view of the same risk).
    assert {"debt_to_income", "utilisation"} & set(names[:4])
    values = [f["importance"] for f in importance["features"]]
    assert values == sorted(values, reverse=True) and values[0] > 0


def test_logistic_pipeline_gets_permutation_importance(logistic_report: ValidationResult) -> None:
    importance = logistic_report.sections["importance"]
    assert importance["method"] == "permutation"
    assert sorted(f["feature"] for f in importance["features"]) == sorted(FEATURES)
    assert all(f["std"] is not None for f in importance["features"])
    top = [f["feature"] for f in importance["features"][:5]]
    assert {"debt_to_income", "utilisation", "interest_rate", "income"} & set(top)


def test_without_a_native_model_permutation_goes_through_predict_proba(
    frames: tuple[pd.DataFrame, ...], logistic_model: Any
) -> None:
    _, holdout = frames
    result = validate_model(
        logistic_model.predict_proba, holdout, target=TARGET, features=FEATURES,
        model_name="m", version=1, max_rows_for_importance=300,
    )  # fmt: skip
    importance = result.sections["importance"]
    assert importance["method"] == "permutation" and importance["rows"] == 300
    assert max(f["importance"] for f in importance["features"]) > 0


def test_one_hot_tree_pipeline_reports_transformed_columns(
    frames: tuple[pd.DataFrame, ...],
) -> None:
    train, holdout = frames
    encode = ColumnTransformer(
        [
            ("num", "passthrough", NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    model = Pipeline(
        [("encode", encode), ("tree", DecisionTreeClassifier(max_depth=4, random_state=0))]
    )
    model.fit(train[FEATURES], train[TARGET])
    result = validate_model(
        lambda f: model.predict_proba(f)[:, 1], holdout, target=TARGET, features=FEATURES,
        model_name="m", version=1, model_for_importance=model, max_rows_for_importance=300,
    )  # fmt: skip
    importance = result.sections["importance"]
    assert importance["method"] == "shap"
    names = {f["feature"] for f in importance["features"]}
    assert "cat__region_London" in names and "region" not in names
    assert "transformed" in importance["note"]


def test_shap_failure_falls_back_to_permutation_and_says_why(
    frames: tuple[pd.DataFrame, ...], lightgbm_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelyard.reports import importance

    def broken(model: Any, x: pd.DataFrame) -> dict[str, Any]:
        raise ValueError("unsupported tree structure")

    monkeypatch.setattr(importance, "_shap", broken)
    _, holdout = frames
    result = validate_model(
        lightgbm_model.predict_proba, holdout, target=TARGET, features=FEATURES,
        model_name="m", version=1, model_for_importance=lightgbm_model,
        max_rows_for_importance=200,
    )  # fmt: skip
    section = result.sections["importance"]
    assert section["method"] == "permutation"
    assert "unsupported tree structure" in section["note"]
    assert "unsupported tree structure" in result.html


# --- the HTML document --------------------------------------------------------------------------

_EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I
)


@pytest.mark.parametrize("which", ["lightgbm", "logistic"])
def test_html_is_self_contained(which: str, request: pytest.FixtureRequest) -> None:
    report: ValidationResult = request.getfixturevalue(f"{which}_report")
    page = report.html
    assert page.startswith("<!DOCTYPE html>")
    assert not _EXTERNAL.search(page)
    assert page.count(get_plotlyjs()) == 1
    assert page.count("<script src") == 0
    for title in SECTION_TITLES.values():
        assert f">{html_lib.escape(title)}</h2>" in page


def test_html_has_every_chart_once(lightgbm_report: ValidationResult) -> None:
    page = lightgbm_report.html
    for chart in ("roc", "ks", "calibration", "scores", "fairness", "importance"):
        assert page.count(f'id="chart-{chart}"') == 1
    assert page.count("Plotly.newPlot(") == 6
    assert "credit-risk" in page and "v7" in page
    for label in ("AUC", "Gini", "KS", "Brier", "PSI (scores)", "Approval-rate ratio"):
        assert f'<div class="label">{label}</div>' in page


def test_html_escapes_user_text(frames: tuple[pd.DataFrame, ...], logistic_model: Any) -> None:
    _, holdout = frames
    result = validate_model(
        logistic_model.predict_proba, holdout.iloc[:400], target=TARGET, features=FEATURES,
        model_name="<script>alert(1)</script>", version=1, max_rows_for_importance=100,
    )  # fmt: skip
    assert "<script>alert(1)</script>" not in result.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in result.html


def test_sections_are_strict_json(lightgbm_report: ValidationResult) -> None:
    text = json.dumps(lightgbm_report.sections, allow_nan=False)
    assert json.loads(text)["meta"]["version"] == "7"
    assert all(isinstance(v, float) for v in lightgbm_report.metrics.values())


# --- bad input ----------------------------------------------------------------------------------


def _call(frame: pd.DataFrame, **overrides: Any) -> ValidationResult:
    params: dict[str, Any] = {
        "target": "bad", "features": ["score"], "model_name": "m", "version": 1,
        "max_rows_for_importance": 50,
    }  # fmt: skip
    params.update(overrides)
    return validate_model(lambda f: f["score"].to_numpy(), frame, **params)


@pytest.mark.parametrize(
    ("change", "overrides", "named"),
    [
        (lambda f: f.drop(columns="bad"), {}, "'bad'"),
        (lambda f: f.assign(bad=f["bad"] * 2), {}, "'bad'"),
        (lambda f: f.assign(bad=f["bad"].where(f.index > 0)), {}, "'bad'"),
        (lambda f: f.assign(bad=0), {}, "'bad'"),
        (lambda f: f.drop(columns="score"), {}, "'score'"),
        (lambda f: f, {"features": ["score", "salary"]}, "'salary'"),
        (lambda f: f, {"fairness_attribute": "gender"}, "'gender'"),
        (lambda f: f, {"segment_by": ["branch"]}, "'branch'"),
        (lambda f: f.iloc[:0], {}, "empty"),
        (lambda f: f, {"threshold": 1.5}, "'threshold'"),
        (lambda f: f, {"reference_data": pd.DataFrame({"other": [1.0]})}, "'score'"),
        (lambda f: f, {"features": []}, "'features'"),
        (lambda f: f, {"max_rows_for_importance": 0}, "'max_rows_for_importance'"),
    ],
    ids=[
        "no-target", "target-not-binary", "target-missing-value", "one-class", "feature-missing",
        "listed-feature-missing", "fairness-attribute", "segment-column", "empty", "threshold",
        "reference-lacks-feature", "no-features", "importance-rows",
    ],
)  # fmt: skip
def test_bad_input_is_named(change: Any, overrides: dict[str, Any], named: str) -> None:
    frame = _fairness_frame()
    with pytest.raises(InvalidInput, match=re.escape(named)):
        _call(change(frame), **overrides)


def test_bad_model_output_is_invalid_input() -> None:
    frame = _fairness_frame()
    with pytest.raises(InvalidInput, match="predict_proba"):
        validate_model(
            lambda f: np.ones((len(f), 3)), frame, target="bad", features=["score"],
            model_name="m", version=1,
        )  # fmt: skip
    with pytest.raises(InvalidInput, match="predict_proba"):
        validate_model(
            lambda f: f["score"].to_numpy() * 3, frame, target="bad", features=["score"],
            model_name="m", version=1,
        )  # fmt: skip
