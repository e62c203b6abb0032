"""score_batch and check_schema: the one scoring function and its checks, without engines."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from batch_helpers import ID, MODEL

from modelyard.batch import ScoringModel, ScoringSpec, score_batch
from modelyard.batch.scoring import REASON, BatchChecks, check_schema
from modelyard.demo.credit_models import split_xy
from modelyard.errors import InvalidInput


@pytest.fixture
def model(by) -> ScoringModel:
    return ScoringModel.load(by.models.local_path(f"{MODEL}/1"))


@pytest.fixture
def spec() -> ScoringSpec:
    return ScoringSpec(MODEL, 1, id_column=ID, passthrough=("application_date",), scored_at_ms=7)


def test_scores_equal_predict_proba(model, spec, fitted, loans) -> None:
    frame = loans.head(3_000)
    out, rejects = score_batch(model, pa.Table.from_pandas(frame, preserve_index=False), spec)
    assert model.form == "lightgbm-compiled"  # the serving compiler, proven equal at load
    assert rejects.num_rows == 0 and out.num_rows == 3_000
    assert out.column_names == [
        ID,
        "application_date",
        "score",
        "label",
        "model_name",
        "model_version",
        "scored_at",
    ]
    expected = fitted[0].predict_proba(split_xy(frame)[0])
    assert np.array_equal(out.column("score").to_numpy(), expected[:, 1])
    assert np.array_equal(out.column("label").to_numpy(), expected.argmax(axis=1))
    assert out.column(ID).to_pylist() == frame[ID].tolist()
    assert set(out.column("model_name").to_pylist()) == {MODEL}
    assert out.schema.field("scored_at").type == pa.timestamp("ms", tz="UTC")


def test_bad_rows_are_rejected_with_reasons(model, spec, fitted, loans) -> None:
    frame = loans.head(1_000).copy()
    frame["income"] = frame["income"].astype("float64")
    frame.loc[3, "income"] = np.nan  # null in a non-nullable column
    frame.loc[5, "region"] = "Atlantis"  # unseen category
    frame.loc[7, "region"] = None
    frame["age"] = frame["age"].astype("float64")
    frame.loc[9, "age"] = 36.5  # not an integer
    frame.loc[11, "age"] = 41.0  # a whole float is fine
    frame.loc[13, "home_ownership"] = "CASTLE"
    frame.loc[13, "term"] = None  # two problems on one row
    table = pa.Table.from_pandas(frame, preserve_index=False)
    out, rejects = score_batch(model, table, spec)
    assert out.num_rows + rejects.num_rows == 1_000
    reasons = dict(
        zip(rejects.column(ID).to_pylist(), rejects.column(REASON).to_pylist(), strict=True)
    )
    ids = frame[ID]
    assert reasons == {
        ids[3]: "income: null in a non-nullable column",
        ids[5]: "region: unseen category (got 'Atlantis')",
        ids[7]: "region: null in a non-nullable column",
        ids[9]: "age: wrong type: expected integer (got 36.5)",
        ids[13]: "home_ownership: unseen category (got 'CASTLE'); "
        "term: null in a non-nullable column",
    }
    # Rejects keep every original column; good rows score exactly as the model does.
    assert rejects.column_names == [*table.column_names, REASON]
    good = frame.drop(index=[3, 5, 7, 9, 13])
    X = split_xy(good)[0].astype({"age": "int64"})
    assert np.array_equal(out.column("score").to_numpy(), fitted[0].predict_proba(X)[:, 1])


def test_default_contract_scores_out_of_domain_values_and_counts_them(
    by, spec, fitted, loans
) -> None:
    """Without a policy, only rows that truly cannot be scored are rejected."""
    model, X = fitted
    version = by.models.register(MODEL, model, example=X)  # probed: LightGBM takes both
    scoring = ScoringModel.load(by.models.local_path(version.ref))
    frame = loans.head(1_000).copy()
    frame["income"] = frame["income"].astype("float64")
    frame.loc[3, "income"] = np.nan
    frame.loc[5, "region"] = "Atlantis"
    frame.loc[7, "region"] = None
    frame["age"] = frame["age"].astype("float64")
    frame.loc[9, "age"] = 36.5  # not an integer: the hard contract
    frame.loc[13, "home_ownership"] = "CASTLE"
    frame.loc[13, "term"] = None
    frame.loc[15, "loan_amount"] = 1e9  # far above anything seen in training
    checks = BatchChecks()
    out, rejects = score_batch(
        scoring, pa.Table.from_pandas(frame, preserve_index=False), spec, checks
    )
    assert rejects.column(REASON).to_pylist() == ["age: wrong type: expected integer (got 36.5)"]
    assert checks.rejects == {"age: wrong type: expected integer": 1}
    good = frame.drop(index=[9])
    outside = {}
    for column in X.select_dtypes("number").columns:
        values = good[column]
        n = int(((values < X[column].min()) | (values > X[column].max())).sum())
        if n:
            outside[f"{column}: out_of_range"] = n
    assert outside["loan_amount: out_of_range"] >= 1
    assert checks.warnings == {
        "income: null": 1,
        "region: unseen_category": 1,
        "region: null": 1,
        "home_ownership: unseen_category": 1,
        "term: null": 1,
        **outside,
    }
    expected = model.predict_proba(split_xy(good)[0])[:, 1]
    np.testing.assert_allclose(out.column("score").to_numpy(), expected, rtol=0, atol=1e-12)


def test_text_columns_are_parsed_per_row(model, spec, loans) -> None:
    """CSV input: signature columns arrive as text and bad values are rejected by row."""
    frame = loans.head(200).astype({"age": str, "income": str, "term": str})
    frame.loc[2, "age"] = "forty"
    frame.loc[4, "income"] = "12,000"
    frame.loc[6, "term"] = "36.0"  # whole: accepted as 36
    frame.loc[8, "income"] = " 55000.5 "  # surrounding blanks are fine
    out, rejects = score_batch(model, pa.Table.from_pandas(frame, preserve_index=False), spec)
    assert sorted(rejects.column(REASON).to_pylist()) == [
        "age: wrong type: expected integer (got 'forty')",
        "income: wrong type: expected float (got '12,000')",
    ]
    assert out.num_rows == 198


def test_empty_batch(model, spec, loans) -> None:
    out, rejects = score_batch(
        model, pa.Table.from_pandas(loans.head(0), preserve_index=False), spec
    )
    assert out.num_rows == 0 and rejects.num_rows == 0
    assert "score" in out.column_names


def test_schema_problems_are_listed_together(model, spec, loans) -> None:
    table = pa.Table.from_pandas(
        loans.drop(columns=["income", ID]).astype({"age": str}), preserve_index=False
    )
    with pytest.raises(InvalidInput) as caught:
        check_schema(model.signature, table.schema, spec, where="loans.parquet")
    problems = {(d["column"], d["problem"]) for d in caught.value.details}
    assert problems == {
        ("income", "missing column"),
        ("age", "wrong type: expected integer, the input has string"),
        (ID, "missing id column"),
    }
    assert "loans.parquet" in caught.value.message
    # CSV: text is acceptable in every column; it is parsed per row.
    text = pa.Table.from_pandas(loans.astype(str), preserve_index=False)
    check_schema(model.signature, text.schema, spec, where="loans.csv", text_input=True)
    with pytest.raises(InvalidInput, match="wrong type: expected integer"):
        check_schema(model.signature, text.schema, spec, where="loans.parquet")


def test_explaining_uses_the_model_the_verified_load_made(model, loans, monkeypatch) -> None:
    """No second, unverified load of the directory (nor a second run of trusted code)."""
    import modelyard.flavors

    def loaded_again(*args, **kwargs):
        raise AssertionError("explaining loaded the model directory a second time")

    monkeypatch.setattr(modelyard.flavors, "load_model", loaded_again)
    spec = ScoringSpec(MODEL, 1, id_column=ID, explain=2)
    out, rejects = score_batch(
        model, pa.Table.from_pandas(loans.head(50), preserve_index=False), spec
    )
    assert rejects.num_rows == 0 and out.num_rows == 50
    codes = [c for c in out.column("reason_1_code").to_pylist() if c is not None]
    assert codes and set(codes) <= set(model.signature.input_names)  # no table: codes are columns
