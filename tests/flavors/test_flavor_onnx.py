"""ONNX compilation: parity with the native model, and refusal when parity fails."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from flavors_testmodels import ScorecardModel

from modelyard.demo.credit_models import CATEGORICAL, NUMERIC
from modelyard.errors import IntegrityError, InvalidInput
from modelyard.flavors import (
    OnnxPredictor,
    ParityResult,
    check_parity,
    compile_onnx,
    load_compiled,
    load_model,
    save_compiled,
    save_model,
)

TOLERANCE = 1e-5


def _loaded(model, example: pd.DataFrame, tmp_path):
    save_model(model, tmp_path / "model", example=example)
    return load_model(tmp_path / "model")


@pytest.mark.parametrize(
    ("fixture", "columns"),
    [
        ("lgbm_pipeline", None),  # OrdinalEncoder + LightGBM inside a Pipeline
        ("logistic", None),  # OneHotEncoder + StandardScaler + LogisticRegression
        ("bare_lgbm", NUMERIC),
        ("bare_xgb", NUMERIC),
    ],
)
def test_compiled_model_matches_native_on_holdout(
    request, fixture, columns, train, holdout, tmp_path
) -> None:
    model = request.getfixturevalue(fixture)
    X = train[0] if columns is None else train[0][columns]
    sample = holdout if columns is None else holdout[columns]
    loaded = _loaded(model, X, tmp_path)
    onnx_bytes = compile_onnx(model, X.head(200))
    parity = check_parity(loaded, onnx_bytes, sample)
    assert parity.passed, parity
    assert parity.labels_equal and parity.rows == len(sample)
    assert parity.max_abs_diff <= TOLERANCE
    save_compiled(
        tmp_path / "compiled",
        onnx_bytes,
        parity,
        signature=loaded.signature,
        classes=loaded.classes,
    )
    fast = load_compiled(tmp_path / "compiled")
    np.testing.assert_allclose(fast.predict_proba(sample), loaded.predict_proba(sample), atol=1e-5)
    assert np.array_equal(fast.predict(sample), loaded.predict(sample))


def test_one_onnx_input_per_column_and_a_plain_probability_tensor(lgbm_pipeline, train) -> None:
    X = train[0]
    predictor = OnnxPredictor(compile_onnx(lgbm_pipeline, X.head(50)))
    assert predictor.input_names == list(X.columns)
    assert predictor.task == "classification" and predictor.classes == [0, 1]
    proba = predictor.predict_proba(X.head(5))
    assert proba.shape == (5, 2) and proba.dtype == np.float64


def test_fast_path_from_columns_equals_the_frame_path(logistic, train, holdout) -> None:
    from modelyard.flavors import Signature

    X = train[0]
    signature = Signature.infer(X)
    predictor = OnnxPredictor(compile_onnx(logistic, X.head(50)), signature)
    record = holdout.iloc[:1]
    columns = signature.enforce_columns({c: record[c].to_numpy() for c in X.columns})
    assert np.array_equal(predictor.predict_proba_columns(columns), predictor.predict_proba(record))


def test_regressor_parity_is_relative(train, holdout, tmp_path) -> None:
    from lightgbm import LGBMRegressor

    inputs = [c for c in NUMERIC if c != "interest_rate"]
    X = train[0][inputs]
    model = LGBMRegressor(n_estimators=30, n_jobs=1, verbose=-1).fit(X, train[0]["interest_rate"])
    loaded = _loaded(model, X, tmp_path)
    parity = check_parity(loaded, compile_onnx(model, X.head(100)), holdout[inputs])
    assert parity.passed and parity.measure == "relative predictions"


def test_float32_thresholds_behind_a_scaler_fail_parity_and_are_refused(
    train, holdout, tmp_path
) -> None:
    """The deliberately broken conversion: StandardScaler in front of trees.

    The converted scaler computes in float32, so scaled values land on the
    other side of LightGBM's float64 thresholds for some held-out rows.
    """
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder, StandardScaler

    X, y = train
    encode = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
        ]
    )
    model = Pipeline(
        [("encode", encode), ("model", LGBMClassifier(n_estimators=50, n_jobs=1, verbose=-1))]
    ).fit(X, y)
    loaded = _loaded(model, X, tmp_path)
    onnx_bytes = compile_onnx(model, X.head(200))
    parity = check_parity(loaded, onnx_bytes, holdout)
    assert not parity.passed
    assert parity.max_abs_diff > TOLERANCE
    save_compiled(tmp_path / "compiled", onnx_bytes, parity, signature=loaded.signature)
    record = json.loads((tmp_path / "compiled" / "parity.json").read_text())
    assert record["usable"] is False and record["parity"]["passed"] is False
    with pytest.raises(IntegrityError, match="failed its parity check"):
        load_compiled(tmp_path / "compiled")


def test_corrupted_graph_weights_fail_parity(logistic, train, holdout, tmp_path) -> None:
    import onnx

    X = train[0]
    loaded = _loaded(logistic, X, tmp_path)
    proto = onnx.load_from_string(compile_onnx(logistic, X.head(200)))
    (node,) = [n for n in proto.graph.node if n.op_type == "LinearClassifier"]
    (coefficients,) = [a for a in node.attribute if a.name == "coefficients"]
    coefficients.floats[0] += 0.5  # a conversion bug in miniature
    broken = proto.SerializeToString()
    parity = check_parity(loaded, broken, holdout)
    assert not parity.passed
    save_compiled(tmp_path / "compiled", broken, parity)
    with pytest.raises(IntegrityError):
        load_compiled(tmp_path / "compiled")


def test_swapped_graph_after_the_check_is_refused(logistic, train, holdout, tmp_path) -> None:
    X = train[0]
    loaded = _loaded(logistic, X, tmp_path)
    onnx_bytes = compile_onnx(logistic, X.head(200))
    parity = check_parity(loaded, onnx_bytes, holdout.head(200))
    save_compiled(tmp_path / "compiled", onnx_bytes, parity, signature=loaded.signature)
    path = tmp_path / "compiled" / "model.onnx"
    path.write_bytes(path.read_bytes().replace(b"modelyard.model_class", b"modelyard.model_klass"))
    with pytest.raises(IntegrityError, match="hash differs"):
        load_compiled(tmp_path / "compiled")


def test_missing_parity_record_is_refused(tmp_path) -> None:
    (tmp_path / "compiled").mkdir()
    (tmp_path / "compiled" / "model.onnx").write_bytes(b"")
    with pytest.raises(IntegrityError, match="parity"):
        load_compiled(tmp_path / "compiled")


def test_unsupported_model_is_refused_by_name(train) -> None:
    with pytest.raises(InvalidInput, match="ScorecardModel"):
        compile_onnx(ScorecardModel(), train[0].head(10))


def test_converter_failure_names_the_model(train) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = train
    model = HistGradientBoostingClassifier(max_iter=3).fit(X[NUMERIC].head(300), y.head(300))
    with pytest.raises(InvalidInput, match="HistGradientBoostingClassifier"):
        compile_onnx(model, X[NUMERIC].head(10))


def test_bare_model_with_string_columns_needs_an_encoder(train) -> None:
    from lightgbm import LGBMClassifier

    X, y = train
    example = X[NUMERIC].assign(region=X["region"].astype("category"))
    model = LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1).fit(example, y)
    with pytest.raises(InvalidInput, match="region"):
        compile_onnx(model, example.head(10))


def test_parity_result_json_round_trip() -> None:
    failed = ParityResult(float("inf"), False, 10, False, 1e-5)
    data = json.loads(json.dumps(failed.to_dict(), allow_nan=False))
    assert data["max_abs_diff"] is None
    assert ParityResult.from_dict(data) == failed
