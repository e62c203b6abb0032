"""A batch frame's numpy columns are encoded without Python values, with the same answers.

The compiled scorer's per-column checks (types, float64 limits, whole numbers in
integer columns, the training range) are the reference: for every case here the
numpy path gives the same matrix, the same None and the same range reports as the
same values sent as Python lists.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from modelyard.compiled import compile_pipeline
from modelyard.compiled.rows import Columns
from modelyard.flavors._enforce import ColumnRule
from modelyard.flavors.signature import ColumnSpec, Signature

RULES = {
    "income": ColumnRule(minimum=10.0, maximum=100.0, unseen="score", nulls="score"),
    "term": ColumnRule(minimum=12, maximum=60, unseen="score", nulls="score"),
    "purpose": ColumnRule(categories=frozenset({"car", "home"}), unseen="score", nulls="score"),
}


@pytest.fixture(scope="module")
def scorers() -> dict[str, Any]:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "income": rng.uniform(10.0, 100.0, 300),
            "term": rng.choice([12, 36, 60], 300),
            "purpose": rng.choice(["car", "home"], 300),
        }
    )
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("num", "passthrough", ["income", "term"]),
                        ("cat", OrdinalEncoder(), ["purpose"]),
                    ]
                ),
            ),
            ("model", RandomForestRegressor(n_estimators=3, random_state=0)),
        ]
    ).fit(frame, frame["income"] / 10)
    signature = Signature(
        (
            ColumnSpec("income", "float", nullable=True),
            ColumnSpec("term", "integer"),
            ColumnSpec("purpose", "string"),
        )
    )
    plain, reason = compile_pipeline(model, signature, "regression")
    ruled, _ = compile_pipeline(model, signature, "regression", rules=RULES)
    assert plain is not None and ruled is not None, reason
    return {"plain": plain, "ruled": ruled}


CASES: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "clean": (np.array([20.0, 55.5, 99.0]), np.array([12, 36, 60])),
    "nan income": (np.array([20.0, np.nan, 99.0]), np.array([12, 36, 60])),
    "out of range": (np.array([5.0, 55.5, 99.0]), np.array([12, 36, 61])),
    "nan and out of range": (np.array([np.nan, 1e3, 99.0]), np.array([12, 36, 60])),
    "inf": (np.array([np.inf, 55.5, 99.0]), np.array([12, 36, 60])),
    "fraction in integer column": (np.array([20.0, 55.5, 99.0]), np.array([12.5, 36.0, 60.0])),
    "whole floats in integer column": (np.array([20.0, 55.5, 99.0]), np.array([12.0, 36.0, 60.0])),
    "huge integer": (np.array([20.0, 55.5, 99.0]), np.array([12, 2**60, 60])),
    "float32 income": (np.array([20.0, 55.5, 99.0], dtype=np.float32), np.array([12, 36, 60])),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("which", ["plain", "ruled"])
@pytest.mark.parametrize("with_ranges", [False, True])
def test_numpy_columns_encode_as_the_same_python_values(
    scorers: dict[str, Any], case: str, which: str, with_ranges: bool
) -> None:
    scorer = scorers[which]
    income, term = CASES[case]
    purpose = np.array(["car", "home", "car"], dtype=object)
    arrays = {"income": income, "term": term, "purpose": purpose}
    lists = {name: values.tolist() for name, values in arrays.items()}
    got_ranges: list[tuple[str, np.ndarray]] | None = [] if with_ranges else None
    want_ranges: list[tuple[str, np.ndarray]] | None = [] if with_ranges else None
    got = scorer.encode(Columns(arrays, 3), got_ranges)
    want = scorer.encode(Columns(lists, 3), want_ranges)
    if want is None:
        assert got is None
    else:
        assert got is not None
        assert np.array_equal(got, want, equal_nan=True)
    if with_ranges and want is not None:
        assert [n for n, _ in got_ranges or []] == [n for n, _ in want_ranges or []]
        for (_, a), (_, b) in zip(got_ranges or [], want_ranges or [], strict=True):
            assert np.array_equal(a, b, equal_nan=True)
