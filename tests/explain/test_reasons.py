"""Reason tables: validation at the edge, and the top adverse reasons of a row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import InvalidInput
from modelyard.explain import (
    default_text,
    read_table_file,
    reason_columns,
    top_reasons,
    validate_table,
)

COLUMNS = ["income", "debt ratio", "age", "region"]
TABLE = {
    "reasons": {
        "income": {"code": "INC", "text": "Income is low for the amount", "direction": "lower"},
        "debt ratio": {
            "code": "DTI",
            "text": "Debt is high relative to income",
            "direction": "higher",
        },
        "region": {"code": "DTI", "text": "Shares the debt code on purpose"},
    },
    "excluded": {"age": "protected attribute"},
}
FRAME = pd.DataFrame(
    {
        "income": [20_000.0, 90_000.0],
        "debt ratio": [0.9, np.nan],
        "age": [19, 70],
        "region": ["north", "south"],
    }
)


def test_a_valid_table_is_kept_with_defaults() -> None:
    table = validate_table(TABLE, COLUMNS)
    assert table.adverse_outcome == "high"
    assert table.reasons["region"]["direction"] == "either"
    assert table.excluded == {"age": "protected attribute"}
    assert validate_table(table.to_dict(), COLUMNS) == table


def test_uncovered_and_unknown_columns_are_named() -> None:
    bad = {"reasons": {"income": TABLE["reasons"]["income"], "salary": {"code": "S", "text": "x"}}}
    with pytest.raises(InvalidInput) as info:
        validate_table(bad, COLUMNS)
    message = str(info.value)
    assert "['salary'] are not inputs of the model" in message
    assert "['debt ratio', 'age', 'region'] have no reason and are not excluded" in message


@pytest.mark.parametrize(
    ("table", "fragment"),
    [
        ([], "must be a mapping"),
        ({"reasons": {}, "extra": 1}, "unknown field(s) ['extra']"),
        ({**TABLE, "adverse_outcome": "bad"}, "adverse_outcome: must be one of"),
        ({**TABLE, "excluded": {"age": "", "income": ""}}, "both given a reason and excluded"),
        (
            {**TABLE, "reasons": {**TABLE["reasons"], "income": {"code": "", "text": "t"}}},
            "reasons['income'].code",
        ),
        (
            {
                **TABLE,
                "reasons": {
                    **TABLE["reasons"],
                    "income": {"code": "I", "text": "t", "direction": "up"},
                },
            },
            "reasons['income'].direction",
        ),
        ({**TABLE, "reasons": {**TABLE["reasons"], "income": "low"}}, "reasons['income']: must"),
    ],
)
def test_bad_tables_are_refused_naming_the_field(table: object, fragment: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_table(table, COLUMNS)
    assert fragment in str(info.value)


def test_top_reasons_are_adverse_strongest_first_and_skip_excluded() -> None:
    table = validate_table(TABLE, COLUMNS)
    values = np.array([[0.5, 1.5, 3.0, -0.2], [-0.1, 0.2, 0.1, 0.7]])
    reasons = top_reasons(values, COLUMNS, FRAME, table, 4)
    # Row 0: age is largest but excluded; then DTI, then INC; region pushes the other way.
    assert [r["code"] for r in reasons[0]] == ["DTI", "INC"]
    assert reasons[0][0] == {
        "code": "DTI",
        "text": "Debt is high relative to income",
        "column": "debt ratio",
        "value": 0.9,
        "contribution": 1.5,
    }
    # Row 1: region and debt ratio share the code DTI: it is given once, for the strongest.
    assert [(r["code"], r["column"]) for r in reasons[1]] == [("DTI", "region")]
    assert top_reasons(values, COLUMNS, FRAME, table, 1)[0][0]["code"] == "DTI"


def test_a_low_adverse_outcome_reverses_the_sign() -> None:
    table = validate_table({**TABLE, "adverse_outcome": "low"}, COLUMNS)
    values = np.array([[0.5, -1.5, 3.0, -0.2]])
    reasons = top_reasons(values, COLUMNS, FRAME.head(1), table, 4)
    # region pushes down too but shares debt ratio's code DTI, so it is not repeated.
    assert [(r["column"], r["contribution"]) for r in reasons[0]] == [("debt ratio", -1.5)]


def test_without_a_table_columns_are_the_codes() -> None:
    values = np.array([[0.0, 0.0, 0.3, 0.0], [0.0, 0.4, 0.0, 0.0]])
    reasons = top_reasons(values, COLUMNS, FRAME, None, 3)
    assert reasons[0] == [
        {
            "code": "age",
            "text": default_text("age"),
            "column": "age",
            "value": 19,
            "contribution": 0.3,
        }
    ]
    assert reasons[1][0]["value"] is None  # a null is given as null, not NaN
    assert top_reasons(values, COLUMNS, FRAME, None, 0) == [[], []]


def test_reason_columns_flatten_ranks() -> None:
    values = np.array([[0.0, 0.0, 0.3, 0.2], [0.0, 0.4, 0.0, 0.0]])
    flat = reason_columns(top_reasons(values, COLUMNS, FRAME, None, 2), 2)
    assert flat["reason_1_code"] == ["age", "debt ratio"]
    assert flat["reason_2_code"] == ["region", None]
    assert flat["reason_1_value"] == ["19", None]
    assert flat["reason_2_contribution"] == [0.2, None]


def test_a_table_file_is_read_as_json_or_yaml(tmp_path: Path) -> None:
    yaml_file = tmp_path / "reasons.yaml"
    yaml_file.write_text("reasons:\n  income: {code: INC, text: Low income}\nexcluded: [age]\n")
    assert read_table_file(yaml_file)["excluded"] == ["age"]
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(InvalidInput, match="mapping at the top level"):
        read_table_file(tmp_path / "list.json")
    with pytest.raises(InvalidInput, match="cannot read it"):
        read_table_file(tmp_path / "missing.json")
    (tmp_path / "broken.yaml").write_text("reasons: [unclosed")
    with pytest.raises(InvalidInput, match="not valid JSON or YAML"):
        read_table_file(tmp_path / "broken.yaml")
