"""Sample sizes are part of every verdict: drift, score drift, quality, alerts and the
estimate's calibration say how many rows they stand on, and too few give "insufficient
data" (shown, never alerting) instead of a verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.config import load_settings
from modelyard.data import synthetic
from modelyard.errors import InvalidInput
from modelyard.monitoring import DriftDetector, build_reference, check_quality, score_drift
from modelyard.monitoring.alerts import DEFAULT_RULES, evaluate, value_of
from modelyard.monitoring.performance import MIN_CALIBRATION_ROWS, Calibration, estimated

EXCLUDE = [synthetic.TARGET]


@pytest.fixture(scope="module")
def profile(reference_frame: pd.DataFrame):
    return build_reference(reference_frame)


def test_one_row_is_insufficient_data_for_every_feature(profile) -> None:
    one = synthetic.generate(1, seed=3, scenario="new_category")
    report = DriftDetector(exclude=EXCLUDE).fit(profile).score(one)
    assert report.verdict == "insufficient data"
    assert report.verdict_reason() == "1 rows in the window, 500 needed"
    assert report.drifted_features() == [] and not report.dataset_drift
    assert {f.verdict for f in report.features} == {"insufficient data"}
    # the statistics are still there to read
    income = report["income"]
    assert income.stat("wasserstein_norm").value is not None and not income.drifted
    assert income.verdict_reason == "insufficient data: 1 rows in the window, 500 needed"
    assert report.to_dict()["verdict"] == "insufficient data"


def test_the_minimum_is_a_parameter_and_enough_rows_judge_again(profile) -> None:
    frame = synthetic.generate(800, seed=4, scenario="income_shift")
    assert DriftDetector(exclude=EXCLUDE, min_rows=1000).fit(profile).score(frame).verdict == (
        "insufficient data"
    )
    judged = DriftDetector(exclude=EXCLUDE, min_rows=500).fit(profile).score(frame)
    assert judged.verdict == "drift" and "income" in judged.drifted_features()
    assert judged["income"].n_current == 800
    with pytest.raises(InvalidInput, match="'min_rows' parameter of DriftDetector"):
        DriftDetector(min_rows=-1).fit(profile)


def test_a_feature_with_few_values_is_judged_on_its_null_rate_only(profile) -> None:
    frame = synthetic.generate(2_000, seed=5)
    frame.loc[100:, "income"] = np.nan  # 100 values left: distribution unjudgeable
    report = DriftDetector(exclude=EXCLUDE).fit(profile).score(frame)
    income = report["income"]
    assert income.drifted and income.verdict == "drift"  # 95% nulls is drift whatever the size
    assert [s.name for s in income.statistics if s.drifted] == ["null_rate_change"]
    frame = synthetic.generate(2_000, seed=5, scenario="income_shift")
    frame.loc[100:, "income"] = np.nan
    ref = build_reference(synthetic.generate(5_000, seed=6).assign(income=np.nan))
    sparse = DriftDetector(exclude=EXCLUDE).fit(ref).score(frame)
    assert "income" in sparse.skipped  # no values in the reference: not tested at all


def test_unseen_share_is_reported_per_categorical_feature(profile) -> None:
    frame = synthetic.generate(5_000, seed=7, scenario="new_category")
    report = DriftDetector(exclude=EXCLUDE).fit(profile).score(frame)
    purpose = report["loan_purpose"]
    share = float((frame["loan_purpose"] == synthetic.NEW_CATEGORY).mean())
    assert purpose.unseen_share == pytest.approx(share) and share > 0.05
    assert purpose.to_dict()["unseen_share"] == pytest.approx(share)
    assert report["region"].unseen_share == 0.0 and report["income"].unseen_share is None


def test_integer_codes_can_be_profiled_as_categories() -> None:
    ref = pd.DataFrame({"branch": np.arange(2_000) % 30 + 100})
    current = pd.DataFrame({"branch": np.r_[np.arange(900) % 30 + 100, [131] * 100]})
    profile = build_reference(ref, categorical=["branch"])
    assert profile["branch"].kind == "categorical" and len(profile["branch"].categories) == 30
    report = DriftDetector().fit(profile).score(current)
    assert report["branch"].unseen_categories == {131: 0.1}
    quality = check_quality(current, profile)
    (issue,) = quality.find(check="unseen_category")
    assert issue.count == 100 and issue.rows == 1_000 and "(100 of 1,000)" in issue.message
    assert not quality.find(check="schema")  # int64 codes are still int64


def test_score_drift_needs_the_minimum_on_both_sides(rng) -> None:
    ref = rng.beta(2, 8, 5_000)
    assert score_drift(ref, rng.beta(2, 8, 10)).verdict == "insufficient data"
    # quantiles of a big reference stand for its rows; of a 5-row example they do not
    quantiles = np.quantile(ref, np.linspace(0, 1, 1001))
    current = rng.beta(4, 4, 2_000)
    assert score_drift(quantiles, current, reference_rows=5_000).verdict == "drift"
    assert score_drift(quantiles, current, reference_rows=5).verdict == "insufficient data"


def test_quality_issues_carry_their_size_and_few_rows_are_info(profile) -> None:
    frame = synthetic.generate(2_000, seed=8, scenario="new_category")
    frame.loc[:299, "employment_years"] = np.nan
    report = check_quality(frame, profile)
    (nulls,) = report.find(check="nulls", column="employment_years")
    assert (nulls.count, nulls.rows) == (300, 2_000) and "(300 of 2,000 rows)" in nulls.message
    (unseen,) = report.find(check="unseen_category")
    assert unseen.count == int((frame["loan_purpose"] == synthetic.NEW_CATEGORY).sum())
    assert report.verdict == "failed" and report.min_rows == 500

    few = check_quality(frame.head(3), profile)
    assert few.verdict == "insufficient data" and few.passed
    assert {i.severity for i in few.issues} == {"info"}
    assert few.to_dict()["verdict"] == "insufficient data"
    # a missing column is a fact about every row, whatever their number
    broken = check_quality(frame.head(3).drop(columns=["income"]), profile)
    assert broken.verdict == "failed"
    assert [i.check for i in broken.errors()] == ["schema"]
    with pytest.raises(InvalidInput, match="'min_rows' parameter of check_quality"):
        check_quality(frame, profile, min_rows=-2)


def test_rules_do_not_fire_or_resolve_on_insufficient_data() -> None:
    summaries = {
        "rows": 1,
        "drift": {
            "verdict": "insufficient data",
            "verdict_reason": "1 rows in the window, 500 needed",
            "drifted_features": [],
            "features": [{"feature": "income", "verdict": "insufficient data", "reason": "x"}],
            "score": {"verdict": "insufficient data", "psi": 3.0, "rows": 1, "min_rows": 500},
        },
        "quality": {"verdict": "insufficient data", "errors": 0, "rows": 1, "min_rows": 500},
        "estimated": {"verdict": "insufficient data", "rows": 1, "min_rows": 500, "drops": {}},
    }
    outcomes = evaluate(DEFAULT_RULES, summaries)
    assert not any(o.fired for o in outcomes)
    skipped = {o.rule.name: o.skipped for o in outcomes}
    assert skipped["feature-drift"] == (
        "insufficient data for drift: 1 rows in the window, 500 needed"
    )
    assert skipped["score-drift"] == "insufficient data for score drift: 1 rows, 500 needed"
    assert skipped["data-quality"] == "insufficient data for quality: 1 rows, 500 needed"
    assert value_of("drift.feature:income", summaries)[1].startswith("insufficient data")
    assert value_of("rows", summaries) == (1.0, None)


def test_calibration_says_why_it_is_the_identity(rng) -> None:
    p = rng.beta(2, 8, 1_000)
    y = (rng.random(p.size) < p).astype(int)
    small = Calibration.fit(y[:100], p[:100], source="loans-holdout/1")
    assert not small.calibrated
    assert small.describe() == (
        f"uncalibrated: holdout loans-holdout/1 has 100 rows, calibration needs "
        f"{MIN_CALIBRATION_ROWS}"
    )
    one_class = Calibration.fit(np.zeros(500), p[:500], source="h/1")
    assert one_class.describe() == "uncalibrated: holdout h/1 has one class only (every label is 0)"
    assert Calibration().describe().startswith("uncalibrated: no labelled holdout")
    fitted = Calibration.fit(y, p, source="h/2")
    assert fitted.calibrated and fitted.describe() == (
        "calibrated: Platt scaling on holdout h/2 (1,000 rows)"
    )
    again = Calibration.from_dict(small.to_dict())
    assert again == small and small.to_dict()["reason"].endswith("calibration needs 200")
    body = estimated(p[:300], calibration=small, n_sim=10)
    assert body["calibrated"] is False
    assert body["calibration"]["status"] == small.describe()


def test_the_minimum_is_a_setting(tmp_path, monkeypatch) -> None:
    assert load_settings().monitor_min_rows == 500
    monkeypatch.chdir(tmp_path)
    (tmp_path / "modelyard.toml").write_text("[modelyard]\nmonitor_min_rows = 2000\n")
    assert load_settings().monitor_min_rows == 2000
    monkeypatch.setenv("MODELYARD_MONITOR_MIN_ROWS", "50")
    assert load_settings().monitor_min_rows == 50
    assert load_settings().describe()["monitor_min_rows"] == 50
    monkeypatch.setenv("MODELYARD_MONITOR_MIN_ROWS", "0")
    with pytest.raises(InvalidInput, match="monitor_min_rows"):
        load_settings()
