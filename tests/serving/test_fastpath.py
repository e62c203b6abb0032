"""The compiled LightGBM path gives exactly the scikit-learn pipeline's probabilities."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard.data import synthetic
from modelyard.data.synthetic import FEATURES
from modelyard.demo.credit_models import lightgbm_pipeline, logistic_pipeline, split_xy
from modelyard.flavors.signature import Signature
from modelyard.serving.fastpath import compile_fast_scorer
from modelyard.serving.inputs import Payload


@pytest.fixture(scope="module")
def big_holdout():
    return synthetic.generate(10_000, seed=7_331)[list(FEATURES)]


def _scorer(model, example):
    scorer, reason = compile_fast_scorer(model, Signature.infer(example), [0, 1], "classification")
    assert scorer is not None, reason
    return scorer


def test_compiled_path_equals_predict_proba_on_10000_rows(credit_models, train_frame, big_holdout):
    for model in credit_models:
        scorer = _scorer(model, train_frame[list(FEATURES)])
        expected = model.predict_proba(big_holdout)
        by_records = scorer.encode(Payload.from_records(big_holdout.to_dict(orient="records")))
        assert by_records is not None
        assert np.array_equal(scorer.predict(by_records), expected)
        by_columns = scorer.encode(
            Payload.from_columns({c: big_holdout[c].to_numpy() for c in FEATURES})
        )
        assert np.array_equal(scorer.predict(by_columns), expected)
        shuffled = list(reversed(FEATURES))
        by_rows = scorer.encode(Payload.from_rows(shuffled, big_holdout[shuffled].values.tolist()))
        assert np.array_equal(scorer.predict(by_rows), expected)
        one_by_one = [
            scorer.predict(scorer.encode(Payload.from_records([r])))[0]
            for r in big_holdout.head(200).to_dict(orient="records")
        ]
        assert np.array_equal(np.array(one_by_one), expected[:200])


def test_unknown_categories_follow_the_encoder(train_frame, big_holdout):
    """A category the signature allows but the encoder never saw scores as 'unknown' (-1)."""
    x, y = split_xy(train_frame)
    seen = x["region"] != "Wales"
    model = lightgbm_pipeline(n_estimators=20).fit(x[seen], y[seen])
    scorer = _scorer(model, x)  # the signature comes from all rows: Wales is allowed
    wales = big_holdout[big_holdout["region"] == "Wales"].head(50)
    assert len(wales) > 10
    matrix = scorer.encode(Payload.from_records(wales.to_dict(orient="records")))
    assert np.array_equal(scorer.predict(matrix), model.predict_proba(wales))


@pytest.mark.parametrize("rows", [1, 12])  # row by row, and column by column
def test_values_it_is_not_sure_of_take_the_canonical_path(credit_models, train_frame, rows):
    scorer = _scorer(credit_models[0], train_frame[list(FEATURES)])
    good = train_frame[list(FEATURES)].head(1).to_dict(orient="records")[0]

    def payload(record):
        return Payload.from_records([good] * (rows - 1) + [record])

    assert scorer.encode(payload(good)) is not None
    as_float = {**good, "age": float(good["age"])}  # 41.0 is a valid integer
    matrix = scorer.encode(payload(as_float))
    assert matrix is not None and np.array_equal(matrix, scorer.encode(payload(good)))
    for change in (
        {"age": 41.5},
        {"age": True},
        {"income": None},
        {"income": "52000"},
        {"region": "Atlantis"},
        {"region": 3},
        {"term": 2**60},
        {"income": 2**60},
        {"income": 1.5e308},  # beyond the documented bound of 1e308
        {"extra": 1},
    ):
        assert scorer.encode(payload({**good, **change})) is None, change
    missing = dict(good)
    del missing["term"]
    assert scorer.encode(payload(missing)) is None


def test_other_models_get_the_general_compiler_or_no_compiled_path(train_frame):
    from sklearn.neighbors import KNeighborsClassifier

    x, y = split_xy(train_frame)
    logistic = logistic_pipeline().fit(x, y)
    scorer, reason = compile_fast_scorer(logistic, Signature.infer(x), [0, 1], "classification")
    assert scorer is not None and scorer.kind == "linear-compiled", reason
    scorer, reason = compile_fast_scorer(logistic, None, [0, 1], "classification")
    assert scorer is None and "signature" in reason
    numbers = x.select_dtypes("number")
    knn = KNeighborsClassifier().fit(numbers, y)
    scorer, reason = compile_fast_scorer(knn, Signature.infer(numbers), [0, 1], "classification")
    assert scorer is None and reason == "KNeighborsClassifier has no compiled form"


def test_served_version_uses_compiled_path_and_drops_it_when_not_exact(yard_root, train_frame):
    from serving_support import open_yard, serving_config

    from modelyard.serving.models import load_version

    with open_yard(yard_root) as yard:
        served = load_version(yard, "credit-risk@champion", serving_config())
        assert served.scorer == "lightgbm-compiled"
        _, _, lut, _ = next(p for p in served.fast._plan if p[0] == "region")
        codes = sorted(set(lut.values()))
        lut.update({k: codes[(codes.index(v) + 1) % len(codes)] for k, v in lut.items()})
        served.warm(train_frame[list(FEATURES)], 500)
        assert served.fast is None and served.scorer == "native"
        assert "not exact" in served.notes[-1]
        faulty = load_version(yard, "faulty@champion", serving_config())
        assert faulty.scorer == "native" and "no compiled path" in faulty.notes[0]


def test_out_of_range_numbers_stay_on_the_compiled_path_with_the_contracts_warnings(
    yard_root, credit_models, big_holdout
):
    """The LightGBM plan passes numbers through: beyond the training range it still gives
    the native answers exactly, and the warnings are the contract's own."""
    from serving_support import open_yard, serving_config

    from modelyard.serving.models import MATRIX, load_version

    with open_yard(yard_root) as yard:
        served = load_version(yard, "credit-risk@champion", serving_config())
    assert served.scorer == "lightgbm-compiled"
    rules = served.contract.rules
    numeric = [s for s in served.signature.inputs if s.type in ("float", "integer")]
    bounded = [s for s in numeric if rules[s.name].maximum is not None]
    assert len(bounded) >= 2
    frame = big_holdout.head(100).dropna().reset_index(drop=True)
    records = json.loads(frame.to_json(orient="records"))
    for row, spec in ((2, bounded[0]), (5, bounded[1]), (6, bounded[1])):
        high = rules[spec.name].maximum
        records[row][spec.name] = int(high) + 7 if spec.type == "integer" else high * 3 + 0.25
    prepared = served.prepare(Payload.from_records(records))
    _, canonical = served.contract.check_columns(Payload.from_records(records).as_columns())
    assert prepared.kind == MATRIX
    assert {bounded[0].name, bounded[1].name} <= {w["column"] for w in canonical}
    assert list(prepared.warnings) == list(canonical)
    assert prepared.warnings.totals == canonical.totals
    expected = credit_models[0].predict_proba(pd.DataFrame.from_records(records))
    assert np.array_equal(served.score([prepared]), expected)
