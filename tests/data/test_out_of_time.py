"""The out-of-time generator: what real data split in time order brings, on purpose."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.cli.main import main
from modelyard.data.out_of_time import (
    CATEGORICAL,
    CHANGE_DATE,
    FEATURES,
    TARGET,
    generate_out_of_time,
    split_at_change,
    true_default_probability,
)
from modelyard.errors import InvalidInput

ROWS = 20_000


@pytest.fixture(scope="module")
def generated() -> tuple[pd.DataFrame, np.ndarray]:
    return generate_out_of_time(ROWS, seed=3, with_truth=True)


def test_same_seed_same_frame(generated) -> None:
    frame, truth = generated
    again, again_truth = generate_out_of_time(ROWS, seed=3, with_truth=True)
    pd.testing.assert_frame_equal(frame, again)
    np.testing.assert_array_equal(truth, again_truth)
    other = generate_out_of_time(ROWS, seed=4)
    assert not frame["income"].equals(other["income"])


def test_rows_in_time_order_with_awkward_column_names(generated) -> None:
    frame, _ = generated
    assert frame["application_date"].is_monotonic_increasing
    assert list(frame.columns) == ["application_id", "application_date", *FEATURES, TARGET]
    assert "bureau.score" in frame.columns and "months since delinquency" in frame.columns
    assert frame["branch_code"].dtype == np.int64  # an integer-coded categorical
    assert frame["application_month"].str.fullmatch(r"\d{4}-\d{2}").all()


def test_categories_first_appear_after_the_change(generated) -> None:
    early, late = split_at_change(generated[0])
    assert early["application_date"].max() < pd.Timestamp(CHANGE_DATE)
    assert late["application_date"].min() >= pd.Timestamp(CHANGE_DATE)
    unseen = {c: set(late[c]) - set(early[c]) for c in CATEGORICAL}
    assert unseen["channel"] == {"app"}
    assert unseen["application_month"] == {"2025-10", "2025-11", "2025-12"}
    assert unseen["postcode_area"] == {"ZE", "HS", "KW"}
    assert unseen["branch_code"] == {131, 132, 133}
    assert not unseen["loan_purpose"] and not unseen["region"]
    assert 0.15 < (late["channel"] == "app").mean() < 0.35


def test_nulls_appear_late_in_a_complete_column(generated) -> None:
    early, late = split_at_change(generated[0])
    assert early["employment_years"].notna().all()
    assert 0.1 < late["employment_years"].isna().mean() < 0.2
    # Null by nature on both sides: never delinquent means no months since.
    for part in (early, late):
        never = part["delinquencies_2y"] == 0
        assert part.loc[never, "months since delinquency"].isna().all()
        assert part.loc[~never, "months since delinquency"].notna().all()


def test_regime_change_raises_risk_and_truth_is_the_target_rate(generated) -> None:
    frame, truth = generated
    late = (frame["application_date"] >= pd.Timestamp(CHANGE_DATE)).to_numpy()
    assert truth[late].mean() > truth[~late].mean() + 0.03
    assert frame.loc[late, "income"].median() < frame.loc[~late, "income"].median()
    for part in (late, ~late):
        observed = frame.loc[part, TARGET].mean()
        assert abs(observed - truth[part].mean()) < 0.02
    # The truth recomputes from clean rows (those not blanked after the change).
    clean = frame["employment_years"].notna().to_numpy()
    recomputed = true_default_probability(frame[clean])
    np.testing.assert_allclose(recomputed, truth[clean], rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 0}, "'rows' parameter must be an integer >= 1"),
        ({"rows": 10, "months": 1}, "'months' parameter must be an integer >= 2"),
        ({"rows": 10, "change_date": "2030-01-01"}, "'change_date' parameter must fall inside"),
        ({"rows": 10, "start_date": "not a date"}, "'start_date' parameter is not a date"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        generate_out_of_time(**kwargs)


def test_cli_writes_out_of_time_data(tmp_path, capsys) -> None:
    target = tmp_path / "oot.parquet"
    code = main(["data", "synth", "--out-of-time", "--rows", "3000", "-o", str(target)])
    assert code == 0, capsys.readouterr()
    assert "out-of-time, change on 2025-10-01" in capsys.readouterr().out
    frame = pd.read_parquet(target)
    assert len(frame) == 3000 and "bureau.score" in frame.columns


def test_cli_refuses_a_scenario_with_out_of_time(tmp_path, capsys) -> None:
    code = main(
        ["data", "synth", "--out-of-time", "-s", "income_shift", "-o", str(tmp_path / "x.pq")]
    )
    assert code != 0
    assert "cannot be combined with --out-of-time" in capsys.readouterr().err
    assert not (tmp_path / "x.pq").exists()
