"""The synthetic credit-risk generator: determinism, realism, ground truth, drift scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.data import synthetic
from modelyard.data.synthetic import (
    FEATURES,
    SCENARIOS,
    TARGET,
    generate,
    scenario_names,
    true_default_probability,
)
from modelyard.errors import InvalidInput

ROWS = 20_000
CATEGORICAL = ("home_ownership", "region", "loan_purpose")
INTEGER = ("age", "term", "num_open_accounts", "delinquencies_2y", TARGET)


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    return generate(ROWS, seed=7)


def test_same_seed_gives_same_frame(base: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(generate(ROWS, seed=7), base)


def test_different_seeds_differ(base: pd.DataFrame) -> None:
    other = generate(ROWS, seed=8)
    assert not other["income"].equals(base["income"])
    assert not other[TARGET].equals(base[TARGET])


def test_columns_and_dtypes(base: pd.DataFrame) -> None:
    assert list(base.columns) == ["application_id", "application_date", *FEATURES, TARGET]
    assert base["application_date"].dtype == np.dtype("datetime64[ns]")
    for column in INTEGER:
        assert base[column].dtype == np.int64, column
    for column in set(FEATURES) - set(INTEGER) - set(CATEGORICAL):
        assert base[column].dtype == np.float64, column
    for column in ("application_id", *CATEGORICAL):
        assert not isinstance(base[column].dtype, pd.CategoricalDtype), column
        assert pd.api.types.is_string_dtype(base[column]), column
    assert not base.isna().any().any()


def test_values_are_plausible(base: pd.DataFrame) -> None:
    assert base["application_id"].is_unique
    assert base["application_id"].iloc[0] == "APP-000000000"
    assert base["application_date"].is_monotonic_increasing
    assert base["application_date"].min() >= pd.Timestamp("2026-01-01")
    assert base["application_date"].max() < pd.Timestamp("2026-04-01")  # 90 days
    assert base["age"].between(18, 85).all()
    assert set(base["term"]) == {36, 60}
    assert set(base[TARGET]) == {0, 1}
    assert (base["income"] > 0).all()
    assert base["income"].mean() > base["income"].median()  # right-skewed
    assert 25_000 < base["income"].median() < 60_000
    assert base["loan_amount"].between(1_000, 40_000).all()
    assert np.corrcoef(np.log(base["income"]), np.log(base["loan_amount"]))[0, 1] > 0.3
    assert base["interest_rate"].between(4.5, 30).all()
    assert base["debt_to_income"].between(0, 2).all()
    assert base["utilisation"].between(0, 1.5).all()
    assert (base["employment_years"] <= base["age"] - 18).all()
    assert (base["delinquencies_2y"] == 0).mean() > 0.7
    assert (base["num_open_accounts"] >= 0).all()
    assert set(base["home_ownership"]) == {"RENT", "MORTGAGE", "OWN", "OTHER"}
    assert set(base["loan_purpose"]) == set(synthetic.LOAN_PURPOSES)
    assert 6 <= base["region"].nunique() <= 10


def test_batches_do_not_collide_and_follow_the_window() -> None:
    first = generate(100, seed=1)
    second = generate(100, seed=2, start_id=100, start_date="2026-04-01", days=7)
    assert not set(first["application_id"]) & set(second["application_id"])
    assert second["application_id"].iloc[0] == "APP-000000100"
    assert second["application_date"].between("2026-04-01", "2026-04-08").all()


def test_default_rate_and_riskier_applicants_default_more(base: pd.DataFrame) -> None:
    assert 0.08 <= base[TARGET].mean() <= 0.15
    by_rate = base.groupby(base["interest_rate"] > base["interest_rate"].median())[TARGET].mean()
    assert by_rate[True] > 1.5 * by_rate[False]


def test_true_probability_matches_observed_rate() -> None:
    frame = generate(200_000, seed=3)
    p = true_default_probability(frame)
    assert p.shape == (len(frame),)
    assert ((p > 0) & (p < 1)).all()
    assert abs(p.mean() - frame[TARGET].mean()) < 0.005
    # Calibrated by construction: observed rate tracks p within each decile.
    deciles = pd.qcut(p, 10, labels=False)
    observed = frame[TARGET].groupby(deciles).mean()
    expected = pd.Series(p).groupby(deciles).mean()
    assert np.allclose(observed, expected, atol=0.015)


@pytest.mark.parametrize("name", [n for n in scenario_names() if n != "none"])
def test_scenario_changes_only_its_drifted_features(base: pd.DataFrame, name: str) -> None:
    drifted = generate(ROWS, seed=7, scenario=name)
    scenario = SCENARIOS[name]
    assert list(drifted.columns) == list(base.columns)
    untouched = [c for c in base.columns if c not in (*scenario.drifted_features, TARGET)]
    pd.testing.assert_frame_equal(drifted[untouched], base[untouched])
    for column in scenario.drifted_features:
        assert not drifted[column].equals(base[column]), column


def test_none_scenario_is_the_default(base: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(generate(ROWS, seed=7, scenario="none"), base)
    assert SCENARIOS["none"].drifted_features == ()


def test_covariate_shifts_move_the_right_way(base: pd.DataFrame) -> None:
    income = generate(ROWS, seed=7, scenario="income_shift")
    assert SCENARIOS["income_shift"].drifted_features == ("income", "debt_to_income")
    assert 0.75 < income["income"].median() / base["income"].median() < 0.85
    assert income["debt_to_income"].mean() > 1.2 * base["debt_to_income"].mean()
    assert income[TARGET].mean() > base[TARGET].mean()  # the true model still holds
    util = generate(ROWS, seed=7, scenario="utilisation_shift")
    assert util["utilisation"].mean() > base["utilisation"].mean() + 0.1


def test_severity_scales_the_shift(base: pd.DataFrame) -> None:
    def mean_income(severity: float) -> float:
        return generate(ROWS, seed=7, scenario="income_shift", severity=severity)["income"].mean()

    assert mean_income(0.0) == pytest.approx(base["income"].mean())
    assert mean_income(0.5) > mean_income(1.0) > mean_income(2.0)


def test_new_category_appears_only_in_its_scenario() -> None:
    new = synthetic.NEW_CATEGORY
    for name in scenario_names():
        frame = generate(ROWS, seed=7, scenario=name)
        share = (frame["loan_purpose"] == new).mean()
        if name == "new_category":
            assert 0.08 < share < 0.12
        else:
            assert share == 0, name


def test_concept_drift_changes_the_target_but_no_feature(base: pd.DataFrame) -> None:
    drifted = generate(ROWS, seed=7, scenario="concept_drift")
    assert SCENARIOS["concept_drift"].drifted_features == ()
    pd.testing.assert_frame_equal(drifted.drop(columns=TARGET), base.drop(columns=TARGET))
    assert drifted[TARGET].mean() > 1.3 * base[TARGET].mean()
    p = true_default_probability(drifted, scenario="concept_drift")
    assert abs(p.mean() - drifted[TARGET].mean()) < 0.01


def test_quality_faults_keep_the_clean_target(base: pd.DataFrame) -> None:
    missing = generate(ROWS, seed=7, scenario="missing_values")
    share = missing["employment_years"].isna().mean()
    assert 0.22 < share < 0.28
    present = missing["employment_years"].notna()
    assert missing.loc[present, "employment_years"].equals(base.loc[present, "employment_years"])
    assert missing[TARGET].equals(base[TARGET])

    units = generate(ROWS, seed=7, scenario="unit_change")
    assert np.allclose(base["income"] / units["income"], 1000.0)
    assert units[TARGET].equals(base[TARGET])


def test_describe_scenarios_names_each_one() -> None:
    text = synthetic.describe_scenarios()
    assert all(name in text for name in scenario_names())
    assert all(
        s.kind in {"none", "covariate", "new_category", "concept", "quality"}
        for s in SCENARIOS.values()
    )


def test_unknown_scenario_names_the_valid_ones() -> None:
    with pytest.raises(InvalidInput, match="scenario") as info:
        generate(10, scenario="tsunami")
    assert all(name in info.value.message for name in scenario_names())
    assert "tsunami" in info.value.message


@pytest.mark.parametrize("rows", [0, -5, 2.5, True])
def test_bad_rows_are_rejected(rows: object) -> None:
    with pytest.raises(InvalidInput, match="rows"):
        generate(rows)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"days": 0}, "days"),
        ({"start_id": -1}, "start_id"),
        ({"severity": -1.0}, "severity"),
        ({"severity": float("nan")}, "severity"),
        ({"severity": "high"}, "severity"),
        ({"start_date": "not a date"}, "start_date"),
    ],
)
def test_bad_arguments_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        generate(10, **kwargs)  # type: ignore[arg-type]
