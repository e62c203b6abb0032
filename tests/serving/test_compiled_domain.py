"""A compiled scorer (modelyard.compiled) never scores an out-of-domain value silently.

Given the version's training domain (``InputContract.rules``) it returns None for an
unseen category, a null training never had and a number outside the training range,
so the request takes the canonical path, which flags (or rejects) the value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from modelyard.compiled import compile_pipeline
from modelyard.flavors._enforce import ColumnRule
from modelyard.flavors.signature import ColumnSpec, Signature
from modelyard.serving.inputs import Payload


def _fitted() -> tuple[Pipeline, Signature]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "income": rng.uniform(10.0, 100.0, 200),
            "purpose": rng.choice(["car", "home"], 200),
        }
    )
    target = (frame["income"] > 50).astype(int)
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("num", StandardScaler(), ["income"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["purpose"]),
                    ]
                ),
            ),
            ("model", RandomForestClassifier(n_estimators=5, random_state=0)),
        ]
    ).fit(frame, target)
    signature = Signature(
        (
            ColumnSpec("income", "float", nullable=True),
            ColumnSpec("purpose", "string", nullable=True),
        )
    )
    return model, signature


RULES = {
    "income": ColumnRule(minimum=10.0, maximum=100.0, unseen="score", nulls="score"),
    "purpose": ColumnRule(categories=frozenset({"car", "home"}), unseen="score", nulls="score"),
}


def _encode(scorer, income, purpose):
    return scorer.encode(Payload.from_columns({"income": [income], "purpose": [purpose]}))


def test_a_compiled_scorer_leaves_out_of_domain_values_to_the_contract() -> None:
    model, signature = _fitted()
    scorer, reason = compile_pipeline(model, signature, "classification", [0, 1], rules=RULES)
    assert scorer is not None, reason
    assert _encode(scorer, 42.0, "car") is not None  # in domain: compiled
    assert _encode(scorer, 1000.0, "car") is None  # above the training range
    assert _encode(scorer, 1.0, "car") is None  # below it
    assert _encode(scorer, 42.0, "boat") is None  # an unseen category
    assert _encode(scorer, None, "car") is None  # a null training never had
    assert _encode(scorer, 42.0, None) is None


def test_without_a_domain_the_signature_alone_limits_the_compiled_scorer() -> None:
    model, signature = _fitted()
    scorer, reason = compile_pipeline(model, signature, "classification", [0, 1])
    assert scorer is not None, reason
    assert _encode(scorer, 1000.0, "boat") is not None  # the encoder ignores it, as natively


class _NullRefusingEncoder(OrdinalEncoder):
    """Takes unseen categories (code -1) but raises on a null, as a custom encoder may."""

    def transform(self, X):  # noqa: N803 - scikit-learn's name
        frame = pd.DataFrame(X)
        if frame.isna().any().any():
            raise ValueError("purpose: nulls are not allowed")
        return super().transform(X)


def test_an_encoder_that_refuses_nulls_leaves_them_to_the_canonical_path() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"income": rng.uniform(10.0, 100.0, 200), "purpose": rng.choice(["car", "home"], 200)}
    )
    encoder = _NullRefusingEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("num", "passthrough", ["income"]), ("cat", encoder, ["purpose"])]
                ),
            ),
            ("model", RandomForestClassifier(n_estimators=5, random_state=0)),
        ]
    ).fit(frame, (frame["income"] > 50).astype(int))
    signature = Signature(
        (
            ColumnSpec("income", "float", nullable=True),
            ColumnSpec("purpose", "string", nullable=True),
        )
    )
    scorer, reason = compile_pipeline(model, signature, "classification", [0, 1])
    assert scorer is not None, reason
    unseen = _encode(scorer, 42.0, "boat")
    assert unseen is not None  # the encoder's unknown value: compiled
    assert np.array_equal(
        scorer.predict(unseen),
        model.predict_proba(pd.DataFrame({"income": [42.0], "purpose": ["boat"]})),
    )
    assert _encode(scorer, 42.0, None) is None  # never given the unseen row's answer


def test_one_row_and_many_rows_are_checked_alike() -> None:
    """A one-row request takes scalar checks, a larger one array checks: for every row the
    same decision (scored or not), the same matrix row and the same out-of-range columns."""
    rng = np.random.default_rng(11)
    n = 300
    frame = pd.DataFrame(
        {
            "income": rng.uniform(10.0, 100.0, n),
            "age": rng.integers(18, 80, n),
            "debt": rng.uniform(0.0, 5.0, n),
            "purpose": rng.choice(["car", "home"], n),
        }
    )
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("num", make_pipeline(SimpleImputer(), StandardScaler()),
                         ["income", "age", "debt"]),
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["purpose"]),
                    ]
                ),
            ),
            ("model", RandomForestClassifier(n_estimators=5, random_state=0)),
        ]
    ).fit(frame, (frame["income"] > 50).astype(int))  # fmt: skip
    signature = Signature(
        (
            ColumnSpec("income", "float", nullable=True),
            ColumnSpec("age", "integer"),
            ColumnSpec("debt", "float", nullable=True),
            ColumnSpec("purpose", "string", nullable=True),
        )
    )
    rules = {
        "income": ColumnRule(minimum=10.0, maximum=100.0, nullable=True),
        "age": ColumnRule(minimum=18, maximum=79),
        "debt": ColumnRule(minimum=0.0, maximum=5.0),  # no nulls in training
        "purpose": ColumnRule(categories=frozenset({"car", "home"})),
    }
    scorer, reason = compile_pipeline(model, signature, "classification", [0, 1], rules=rules)
    assert scorer is not None, reason
    choices = {
        "income": [42.0, 10.0, 100.0, 5.0, 250.5, None, 60],
        "age": [18, 79, 40, 17, 120, 33.0, 33.5, None, True, 2**60],
        "debt": [0.0, 2.5, 5.0, 7.5, -1.0, None, 3],
        "purpose": ["car", "home"],
    }
    records = [{k: v[int(rng.integers(len(v)))] for k, v in choices.items()} for _ in range(400)]
    scored = 0
    for record in records:
        one_ranges: list = []
        one = scorer.encode(Payload.from_records([record]), one_ranges)
        both_ranges: list = []
        both = scorer.encode(Payload.from_records([record, record]), both_ranges)
        assert (one is None) == (both is None), record
        if one is None:
            continue
        scored += 1
        assert np.array_equal(one[0], both[0]) and np.array_equal(one[0], both[1])
        assert [name for name, _ in one_ranges] == [name for name, _ in both_ranges]
        for (_, a), (_, b) in zip(one_ranges, both_ranges, strict=True):
            assert np.array_equal(a, b[:1], equal_nan=True)
    assert 50 < scored < len(records)
