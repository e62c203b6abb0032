"""DriftDetector on the synthetic generator: exactly the injected drift, at any size."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps

from modelyard.data import synthetic
from modelyard.errors import InvalidInput
from modelyard.monitoring import (
    DriftDetector,
    DriftThresholds,
    FeatureThresholds,
    ReferenceProfile,
    build_reference,
    score_drift,
    summarize,
)
from modelyard.monitoring import stats as mstats

EXCLUDE = [synthetic.TARGET]  # the label: concept drift moves it, and it is no feature


@pytest.fixture(scope="module")
def detector(reference_frame: pd.DataFrame) -> DriftDetector:
    return DriftDetector(exclude=EXCLUDE).fit(reference_frame)


@pytest.mark.parametrize("rows", [5_000, 20_000])
@pytest.mark.parametrize("scenario", synthetic.scenario_names())
def test_each_scenario_flags_exactly_its_drifted_features(
    detector: DriftDetector, scenario: str, rows: int
) -> None:
    current = synthetic.generate(rows, seed=202, scenario=scenario)
    report = detector.score(current)
    assert set(report.drifted_features()) == set(synthetic.SCENARIOS[scenario].drifted_features)
    assert len(report.features) == len(synthetic.FEATURES)  # id, date and target skipped
    assert report.skipped == {
        "application_id": "identifier columns are not drift-tested",
        "application_date": "datetime columns are not drift-tested",
        synthetic.TARGET: "excluded",
    }


def test_verdicts_name_their_statistics(detector: DriftDetector) -> None:
    report = detector.score(synthetic.generate(10_000, seed=5, scenario="income_shift"))
    income = report["income"]
    assert income.kind == "numeric" and income.drifted
    assert [s.name for s in income.statistics] == [
        "wasserstein_norm",
        "psi",
        "ks",
        "wasserstein",
        "null_rate_change",
    ]
    w = income.stat("wasserstein_norm")
    assert w.threshold == 0.1 and w.drifted and w.p_value is None
    assert "wasserstein_norm" in income.verdict_reason
    ks = income.stat("ks")
    assert ks.threshold is None and not ks.drifted and ks.p_value < 1e-10  # reported only
    # a 20% shift of a skewed amount: decile PSI stays under 0.2, W1/std catches it
    assert income.stat("psi").value < 0.2 < 0.3 < w.value
    purpose = detector.score(synthetic.generate(10_000, seed=5, scenario="new_category"))[
        "loan_purpose"
    ]
    assert [s.name for s in purpose.statistics] == [
        "js_distance",
        "psi",
        "chi2",
        "unseen_share",
        "null_rate_change",
    ]
    assert set(purpose.unseen_categories) == {synthetic.NEW_CATEGORY}
    assert purpose.unseen_categories[synthetic.NEW_CATEGORY] == pytest.approx(0.1, abs=0.02)
    missing = detector.score(synthetic.generate(10_000, seed=5, scenario="missing_values"))
    emp = missing["employment_years"]
    assert emp.null_rate_ref == 0 and emp.null_rate_cur == pytest.approx(0.25, abs=0.02)
    assert emp.verdict_reason.startswith("null_rate_change")


def test_false_alarm_rate_per_feature_over_twenty_seeds(detector: DriftDetector) -> None:
    alarms = dict.fromkeys(detector.features_, 0)
    for seed in range(20):
        for name in detector.score(synthetic.generate(5_000, seed=1000 + seed)).drifted_features():
            alarms[name] += 1
    assert max(alarms.values()) / 20 <= 0.05, alarms


@pytest.mark.slow
def test_a_million_rows_flag_no_undrifted_feature() -> None:
    reference = synthetic.generate(1_000_000, seed=7)
    detector = DriftDetector(exclude=EXCLUDE).fit(reference)
    del reference
    current = synthetic.generate(1_000_000, seed=8)
    report = detector.score(current)
    assert report.drifted_features() == []
    # where a p-value would cry wolf, the effect sizes stay tiny
    assert max(f.statistics[0].value for f in report.features) < 0.01
    shifted = detector.score(synthetic.generate(200_000, seed=9, scenario="utilisation_shift"))
    assert shifted.drifted_features() == ["utilisation"]


def test_thresholds_per_feature_and_p_value_tests(
    reference_frame: pd.DataFrame, detector: DriftDetector
) -> None:
    current = synthetic.generate(10_000, seed=6, scenario="income_shift")
    relaxed = DriftDetector(
        exclude=EXCLUDE, per_feature={"income": FeatureThresholds(wasserstein=0.5, psi=math.inf)}
    ).fit(reference_frame)
    report = relaxed.score(current)
    assert report.drifted_features() == ["debt_to_income"]
    assert report["income"].stat("wasserstein_norm").threshold == 0.5
    assert report["income"].stat("psi").threshold is None  # inf: reported, never flags
    strict = DriftDetector(DriftThresholds(ks_p_value=0.05, chi2_p_value=0.05), exclude=EXCLUDE)
    flagged = strict.fit(reference_frame).score(current)
    assert {"income", "debt_to_income"} <= set(flagged.drifted_features())
    assert flagged["income"].stat("ks").threshold == 0.05


def test_dataset_level_verdict(reference_frame: pd.DataFrame) -> None:
    current = synthetic.generate(10_000, seed=4, scenario="income_shift")
    features = ["income", "debt_to_income", "age", "region"]
    half = DriftDetector(features=features, drift_share=0.5).fit(reference_frame).score(current)
    assert half.drifted_share == 0.5 and half.dataset_drift
    most = DriftDetector(features=features, drift_share=0.75).fit(reference_frame).score(current)
    assert not most.dataset_drift


def test_report_is_strict_json(detector: DriftDetector) -> None:
    current = synthetic.generate(5_000, seed=3, scenario="new_category")
    current.loc[:, "utilisation"] = np.nan  # a column with no values at all
    d = detector.score(current).to_dict()
    text = json.dumps(d, allow_nan=False)
    back = json.loads(text)
    assert back["drifted_features"] == ["loan_purpose", "utilisation"]
    util = next(f for f in back["features"] if f["feature"] == "utilisation")
    assert util["statistics"][0]["value"] is None and util["null_rate_cur"] == 1.0
    assert back["features"][5]["unseen_categories"] == {
        synthetic.NEW_CATEGORY: pytest.approx(0.1, abs=0.02)
    }


def test_stored_profile_gives_the_same_report(
    reference_frame: pd.DataFrame, detector: DriftDetector
) -> None:
    stored = json.loads(json.dumps(detector.reference_.to_dict()))
    current = synthetic.generate(5_000, seed=9, scenario="utilisation_shift")
    again = DriftDetector(exclude=EXCLUDE).fit(ReferenceProfile.from_dict(stored))
    assert again.score(current).to_dict() == detector.score(current).to_dict()
    assert DriftDetector(exclude=EXCLUDE).fit(stored).score(current).to_dict() == (
        detector.score(current).to_dict()
    )


def test_parquet_in_parallel_equals_in_memory(
    reference_frame: pd.DataFrame, detector: DriftDetector, tmp_path: Path
) -> None:
    current = synthetic.generate(30_000, seed=12, scenario="income_shift")
    path = tmp_path / "current.parquet"
    pq.write_table(pa.Table.from_pandas(current, preserve_index=False), path, row_group_size=3000)
    memory = detector.score(current).to_dict()
    summary = summarize(path, detector.reference_, columns=detector.features_, n_jobs=2)
    parallel = detector.score(summary).to_dict()
    assert parallel["drifted_features"] == memory["drifted_features"]
    for a, b in zip(parallel["features"], memory["features"], strict=True):
        for sa, sb in zip(a["statistics"], b["statistics"], strict=True):
            assert sa["value"] == pytest.approx(sb["value"], rel=1e-9, abs=1e-12)


def test_current_data_problems_are_skipped_with_a_reason(detector: DriftDetector) -> None:
    current = synthetic.generate(2_000, seed=1).drop(columns=["region"])
    current["age"] = current["age"].astype(str)
    report = detector.score(current)
    assert report.skipped["region"] == "missing from the current data"
    assert "cannot read string values as numeric" in report.skipped["age"]


def test_score_drift_is_exact_on_full_samples(rng: np.random.Generator) -> None:
    ref, cur = rng.beta(2, 8, 30_000), rng.beta(2, 6, 20_000)
    cur_with_gaps = np.concatenate([cur, [np.nan] * 100])
    result = score_drift(ref, pd.Series(cur_with_gaps))
    assert result.feature == "score" and result.drifted
    assert result.stat("wasserstein").value == pytest.approx(
        sps.wasserstein_distance(ref, cur), rel=1e-9
    )
    ks = sps.ks_2samp(ref, cur)
    assert result.stat("ks").value == pytest.approx(ks.statistic, rel=1e-9)
    assert result.stat("ks").p_value == pytest.approx(ks.pvalue, rel=1e-9, abs=1e-300)
    assert result.stat("wasserstein_norm").value == pytest.approx(
        sps.wasserstein_distance(ref, cur) / np.std(ref), rel=1e-9
    )
    assert result.stat("psi").value == pytest.approx(mstats.quantile_psi(ref, cur))
    assert result.null_rate_cur == pytest.approx(100 / 20_100)
    assert not score_drift(ref, rng.beta(2, 8, 20_000)).drifted


def test_binned_detector_agrees_with_score_drift(rng: np.random.Generator) -> None:
    ref, cur = rng.beta(2, 8, 30_000), rng.beta(2, 7, 20_000)
    exact = score_drift(ref, cur)
    binned = DriftDetector().fit(pd.DataFrame({"score": ref})).score(pd.DataFrame({"score": cur}))
    b = binned["score"]
    assert b.drifted == exact.drifted
    assert b.stat("wasserstein_norm").value == pytest.approx(
        exact.stat("wasserstein_norm").value, rel=1e-3
    )
    assert abs(b.stat("ks").value - exact.stat("ks").value) <= 1.5 / 1000


def test_bad_parameters_are_refused(reference_frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="'wasserstein' threshold"):
        DriftThresholds(wasserstein=-1)
    with pytest.raises(InvalidInput, match="p-value in"):
        FeatureThresholds(ks_p_value=2)
    with pytest.raises(InvalidInput, match="drift_share"):
        DriftDetector(drift_share=0).fit(reference_frame)
    with pytest.raises(InvalidInput, match="not columns of the reference"):
        DriftDetector(features=["nope"]).fit(reference_frame)
    with pytest.raises(InvalidInput, match="not columns of the reference"):
        DriftDetector(per_feature={"nope": FeatureThresholds()}).fit(reference_frame)
    with pytest.raises(InvalidInput, match="not a string"):
        DriftDetector(exclude="default").fit(reference_frame)
    with pytest.raises(InvalidInput, match="not fitted"):
        DriftDetector().score(reference_frame)
    with pytest.raises(InvalidInput, match="n_jobs"):
        DriftDetector(n_jobs=0).fit(reference_frame).score(reference_frame)
    with pytest.raises(InvalidInput, match="finite score"):
        score_drift([np.nan], [1.0])


def test_reference_of_scores_only(rng: np.random.Generator) -> None:
    ref = build_reference(pd.DataFrame({"score": rng.uniform(size=5000)}))
    report = DriftDetector().fit(ref).score(pd.DataFrame({"score": rng.uniform(0.2, 1, 5000)}))
    assert report.drifted_features() == ["score"] and report.dataset_drift


def test_summaries_of_parts_merge_into_the_whole(detector: DriftDetector) -> None:
    current = synthetic.generate(6_000, seed=13, scenario="new_category")
    ref = detector.reference_
    whole = summarize(current, ref)
    first, second = summarize(current.iloc[:2500], ref), summarize(current.iloc[2500:], ref)
    for name, col in first.columns.items():
        col.merge(second.columns[name])
        other = whole.columns[name]
        assert (col.count, col.nulls, col.n, col.min, col.max, col.unseen) == (
            other.count,
            other.nulls,
            other.n,
            other.min,
            other.max,
            other.unseen,
        )
        if col.counts is not None:
            np.testing.assert_array_equal(col.counts, other.counts)
        if col.offsets is not None:
            np.testing.assert_allclose(col.offsets, other.offsets, rtol=1e-12)


def test_boolean_features_and_one_shot_batch_iterators(rng: np.random.Generator) -> None:
    ref = pd.DataFrame({"flag": rng.random(10_000) < 0.3, "x": rng.normal(size=10_000)})
    detector = DriftDetector().fit(ref)
    cur = pd.DataFrame({"flag": rng.random(8_000) < 0.6, "x": rng.normal(size=8_000)})
    batches = iter(pa.Table.from_pandas(cur).to_batches(max_chunksize=1000))
    report = detector.score(batches)
    assert report.drifted_features() == ["flag"]
    assert report["flag"].kind == "boolean"
    assert report["flag"].stat("js_distance").value > 0.1
    with pytest.raises(InvalidInput, match="yielded no record batches"):
        summarize(batches, detector.reference_)  # the iterator is spent
