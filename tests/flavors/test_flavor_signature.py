"""Signature inference, serialisation and JSON Schema."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import InvalidInput
from modelyard.flavors import ColumnSpec, ModelManifest, Signature
from modelyard.flavors.signature import MAX_CATEGORIES


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 50
    income = rng.normal(40_000, 5_000, n)
    income[3] = np.nan
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": income,
            "region": rng.choice(["North", "South", "Wales"], n),
            "grade": pd.Categorical(rng.choice(["A", "B"], n), categories=["A", "B", "C"]),
            "verified": rng.random(n) > 0.5,
            "opened": pd.date_range("2026-01-01", periods=n, freq="D"),
        }
    )


def test_infers_types_nullability_categories_and_ranges(frame: pd.DataFrame) -> None:
    sig = Signature.infer(frame)
    cols = {c.name: c for c in sig.inputs}
    assert [c.name for c in sig.inputs] == list(frame.columns)
    assert {n: c.type for n, c in cols.items()} == {
        "age": "integer",
        "income": "float",
        "region": "string",
        "grade": "category",
        "verified": "boolean",
        "opened": "datetime",
    }
    assert cols["income"].nullable and not cols["age"].nullable
    assert cols["region"].categories == ("North", "South", "Wales")
    assert cols["grade"].categories == ("A", "B", "C")  # the dtype's, including unseen "C"
    assert cols["age"].minimum == frame["age"].min() and cols["age"].maximum == frame["age"].max()
    assert isinstance(cols["age"].minimum, int)
    assert cols["income"].minimum == pytest.approx(np.nanmin(frame["income"]))
    assert cols["opened"].minimum == "2026-01-01T00:00:00"
    assert sig.outputs == ()


def test_high_cardinality_strings_get_no_allowed_set() -> None:
    ids = pd.DataFrame({"id": [f"APP-{i}" for i in range(MAX_CATEGORIES + 1)]})
    assert Signature.infer(ids).inputs[0].categories is None


def test_output_signature_from_predictions(frame: pd.DataFrame) -> None:
    sig = Signature.infer(frame, predictions=np.array([0, 1, 1]))
    assert [(c.name, c.type) for c in sig.outputs] == [("prediction", "integer")]
    labelled = Signature.infer(frame, predictions=pd.Series(["yes", "no"], name="label"))
    assert labelled.outputs[0].categories == ("no", "yes")


@pytest.mark.parametrize(
    ("values", "reason"),
    [([1, "a", 2.5], "mixed"), ([None, None], "all values are null")],
)
def test_uninferable_column_is_refused_with_its_name(values, reason) -> None:
    with pytest.raises(InvalidInput, match=f"'odd'.*{reason}"):
        Signature.infer(pd.DataFrame({"odd": pd.Series(values, dtype=object)}))


def test_object_columns_of_numbers_are_inferred_as_numbers() -> None:
    sig = Signature.infer(pd.DataFrame({"n": pd.Series([1, 2], dtype=object)}))
    assert sig.inputs[0].type == "integer"


def test_to_dict_round_trip_through_json(frame: pd.DataFrame) -> None:
    sig = Signature.infer(frame, predictions=np.array([0.1, 0.2]))
    again = Signature.from_dict(json.loads(json.dumps(sig.to_dict(), allow_nan=False)))
    assert again == sig
    # The rebuilt signature enforces like the original.
    assert again.enforce(frame) is frame


def test_manifest_round_trip(frame: pd.DataFrame) -> None:
    manifest = ModelManifest(
        flavor="sklearn",
        task="classification",
        classes=[0, 1],
        signature=Signature.infer(frame),
        framework={"scikit-learn": "1.9.1"},
        python_version="3.11.7",
        requirements=["scikit-learn==1.9.1"],
        files=["model.pkl"],
        created_at="2026-11-24T00:00:00+00:00",
        model_class="sklearn.pipeline.Pipeline",
    )
    data = json.loads(json.dumps(manifest.to_dict()))
    assert data["format"] == "modelyard.model/v1"
    assert ModelManifest.from_dict(data) == manifest
    with pytest.raises(InvalidInput, match="task"):
        ModelManifest.from_dict({**data, "task": "ranking"})
    with pytest.raises(InvalidInput, match="format"):
        ModelManifest.from_dict({**data, "format": "mlflow"})


def test_json_schema_of_one_record(frame: pd.DataFrame) -> None:
    schema = Signature.infer(frame).json_schema()
    props = schema["properties"]
    assert schema["type"] == "object"
    assert schema["required"] == list(frame.columns)
    assert schema["additionalProperties"] is False
    assert props["age"]["type"] == "integer"
    assert props["income"]["type"] == ["number", "null"]  # nullable
    assert props["region"] == {"type": "string", "enum": ["North", "South", "Wales"]}
    assert props["grade"]["enum"] == ["A", "B", "C"]
    assert props["verified"] == {"type": "boolean"}
    assert props["opened"]["type"] == "string"
    assert "observed in training" in props["age"]["description"]


def test_json_schema_nullable_enum_admits_null() -> None:
    spec = ColumnSpec("colour", "string", nullable=True, categories=("red",))
    assert spec.json_schema() == {"type": ["string", "null"], "enum": ["red", None]}


def test_column_spec_validation() -> None:
    with pytest.raises(InvalidInput, match="must be one of"):
        ColumnSpec("x", "decimal")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="categories"):
        ColumnSpec("x", "float", categories=("a",))
    with pytest.raises(InvalidInput, match="duplicate"):
        Signature((ColumnSpec("x", "float"), ColumnSpec("x", "integer")))


def test_signature_pickles_with_a_working_plan(frame: pd.DataFrame) -> None:
    import pickle

    sig = pickle.loads(pickle.dumps(Signature.infer(frame)))
    assert sig.enforce(frame) is frame
