"""Data-quality checks: each check fires on its fault, and clean data passes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from modelyard.data import synthetic
from modelyard.errors import InvalidInput
from modelyard.monitoring import (
    DriftDetector,
    ReferenceProfile,
    build_reference,
    check_quality,
    summarize,
)


@pytest.fixture(scope="module")
def reference(reference_frame: pd.DataFrame) -> ReferenceProfile:
    return build_reference(reference_frame)


def _issues(report) -> set[tuple[str, str | None, str]]:
    return {(i.check, i.column, i.severity) for i in report.issues}


@pytest.mark.parametrize("scenario", ["none", "income_shift", "utilisation_shift", "concept_drift"])
def test_clean_data_passes(reference: ReferenceProfile, scenario: str) -> None:
    report = check_quality(
        synthetic.generate(10_000, seed=31, scenario=scenario),
        reference,
        id_column="application_id",
    )
    assert report.issues == [] and report.passed and report.rows == 10_000


def test_scenario_faults_are_caught(reference: ReferenceProfile) -> None:
    unit = check_quality(synthetic.generate(10_000, seed=32, scenario="unit_change"), reference)
    assert ("unit_change", "income", "error") in _issues(unit)
    (msg,) = [i.message for i in unit.find("unit_change")]
    assert msg.startswith("unit change suspected: values ~1000x smaller")
    assert unit.find("range", "income")[0].value == 1.0
    new = check_quality(synthetic.generate(10_000, seed=32, scenario="new_category"), reference)
    assert _issues(new) == {("unseen_category", "loan_purpose", "error")}
    assert synthetic.NEW_CATEGORY in new.issues[0].message
    assert new.issues[0].value == pytest.approx(0.1, abs=0.02)
    missing = check_quality(
        synthetic.generate(10_000, seed=32, scenario="missing_values"), reference
    )
    assert _issues(missing) == {("nulls", "employment_years", "error")}
    assert not missing.passed


def test_partial_unit_change(reference: ReferenceProfile) -> None:
    current = synthetic.generate(10_000, seed=33, scenario="unit_change", severity=0.2)
    (issue,) = check_quality(current, reference).find("unit_change")
    assert "unit change suspected in 2" in issue.message and "~1000x smaller" in issue.message


def test_schema_constant_duplicates_and_nulls(reference: ReferenceProfile) -> None:
    current = synthetic.generate(5_000, seed=34)
    current = pd.concat([current, current.head(3)], ignore_index=True)
    current["age"] = current["age"].astype(float)  # same kind: a warning
    current["term"] = 36
    current["region"] = current["region"].where(current.index % 100 != 0)  # 1% new nulls
    current["home_ownership"] = "RENT"
    current["interest_rate"] = current["interest_rate"].astype(str)
    current = current.drop(columns=["utilisation"]).assign(extra=1)
    report = check_quality(current, reference, id_column="application_id")
    assert _issues(report) == {
        ("schema", "age", "warning"),
        ("schema", "interest_rate", "error"),
        ("schema", "utilisation", "error"),
        ("schema", "extra", "warning"),
        ("constant", "term", "warning"),
        ("constant", "home_ownership", "warning"),
        ("nulls", "region", "warning"),
        ("duplicate_ids", "application_id", "error"),
    }
    (dup,) = report.find("duplicate_ids")
    assert dup.message.startswith("3 rows repeat")
    assert "double" in report.find("schema", "age")[0].message
    json.dumps(report.to_dict(), allow_nan=False)


def test_range_and_non_finite_values(reference: ReferenceProfile) -> None:
    current = synthetic.generate(5_000, seed=35)
    current.loc[:99, "loan_amount"] = 90_000.0  # 2% above the reference maximum
    current.loc[0, "utilisation"] = np.inf
    report = check_quality(current, reference)
    assert _issues(report) == {
        ("range", "loan_amount", "warning"),
        ("non_finite", "utilisation", "warning"),
    }
    assert report.find("range")[0].value == pytest.approx(0.02)
    tolerant = check_quality(current, reference, range_tolerance=0.05)
    assert not tolerant.find("range")


def test_null_rate_rise_in_a_column_that_had_nulls(reference_frame: pd.DataFrame) -> None:
    ref = reference_frame.copy()
    ref.loc[ref.index % 20 == 0, "income"] = np.nan  # 5% nulls
    current = synthetic.generate(5_000, seed=36)
    current.loc[current.index % 5 == 0, "income"] = np.nan  # 20%
    (issue,) = check_quality(current, build_reference(ref)).issues
    assert issue.check == "nulls" and "rose from 5% to 20%" in issue.message


def test_one_pass_serves_drift_and_quality(reference: ReferenceProfile, tmp_path: Path) -> None:
    current = synthetic.generate(20_000, seed=37, scenario="new_category")
    current = pd.concat([current, current.tail(2)], ignore_index=True)
    path = tmp_path / "current.parquet"
    pq.write_table(pa.Table.from_pandas(current, preserve_index=False), path, row_group_size=5000)
    summary = summarize(path, reference, id_column="application_id", n_jobs=1)
    assert summary.rows == 20_002 and summary.duplicate_ids == 2
    drift = DriftDetector(exclude=[synthetic.TARGET]).fit(reference).score(summary)
    assert drift.drifted_features() == ["loan_purpose"]
    quality = check_quality(summary, reference, id_column="application_id")
    assert _issues(quality) == {
        ("unseen_category", "loan_purpose", "error"),
        ("duplicate_ids", "application_id", "error"),
    }
    # the id strings are read only for duplicates; other identifiers get nulls from
    # the Parquet statistics
    lean = summarize(path, reference)
    assert lean.columns["application_id"].nulls == 0 and lean.duplicate_ids is None


def test_integer_ids_are_compared_exactly(rng: np.random.Generator) -> None:
    frame = pd.DataFrame({"id": np.arange(1000), "x": rng.normal(size=1000)})
    ref = build_reference(frame)
    current = frame.assign(id=np.r_[np.arange(999), 5])
    (issue,) = check_quality(current, ref, id_column="id").issues
    assert issue.check == "duplicate_ids" and issue.value == pytest.approx(1 / 1000)


def test_bad_parameters_are_refused(
    reference: ReferenceProfile, reference_frame: pd.DataFrame
) -> None:
    with pytest.raises(InvalidInput, match="unit_ratio"):
        check_quality(reference_frame, reference, unit_ratio=1)
    with pytest.raises(InvalidInput, match="range_tolerance"):
        check_quality(reference_frame, reference, range_tolerance=-0.1)
    with pytest.raises(InvalidInput, match="'id_column'"):
        check_quality(reference_frame, reference, id_column="nope")
    summary = summarize(reference_frame.head(100), reference)
    with pytest.raises(InvalidInput, match="without id_column"):
        check_quality(summary, reference, id_column="application_id")
