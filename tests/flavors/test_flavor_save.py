"""save_model / load_model: what is refused, what is recorded, and failures on load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flavors_testmodels import MeanRegressor, ScorecardModel

from modelyard.demo.credit_models import NUMERIC
from modelyard.errors import (
    BackendUnavailable,
    Conflict,
    IntegrityError,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from modelyard.flavors import Signature, compile_onnx, load_model, save_model


def test_existing_empty_directory_is_fine_non_empty_is_a_conflict(logistic, train, tmp_path):
    X = train[0]
    (tmp_path / "empty").mkdir()
    save_model(logistic, tmp_path / "empty", example=X)
    assert load_model(tmp_path / "empty").flavor == "sklearn"
    with pytest.raises(Conflict, match="not empty"):
        save_model(logistic, tmp_path / "empty", example=X)


def test_unfitted_model_is_refused_and_nothing_is_left_behind(tmp_path, train) -> None:
    from sklearn.linear_model import LogisticRegression

    X = train[0][NUMERIC]
    with pytest.raises(InvalidInput, match="cannot predict on the example"):
        save_model(LogisticRegression(), tmp_path / "m", example=X)
    assert list(tmp_path.iterdir()) == []


def test_objects_that_cannot_be_saved(tmp_path) -> None:
    class Local:
        def predict(self, frame):
            return frame

    with pytest.raises(InvalidInput, match="importable module"):
        save_model(Local(), tmp_path / "local", trusted_code=True)
    with pytest.raises(InvalidInput, match=r"is code, not data.*trusted_code=True"):
        save_model(ScorecardModel(), tmp_path / "scorecard")
    with pytest.raises(InvalidInput, match="no predict"):
        save_model(object(), tmp_path / "nothing")
    with pytest.raises(InvalidInput, match="flavor must be one of"):
        save_model(ScorecardModel(), tmp_path / "x", flavor="pytorch")
    assert list(tmp_path.iterdir()) == []


def test_task_override(tmp_path, bare_lgbm, train) -> None:
    X = train[0][NUMERIC]
    save_model(bare_lgbm, tmp_path / "as_regression", example=X, task="regression")
    loaded = load_model(tmp_path / "as_regression")
    assert loaded.task == "regression" and loaded.classes is None
    with pytest.raises(InvalidInput, match="predict_proba needs a classifier"):
        loaded.predict_proba(X.head(2))
    with pytest.raises(InvalidInput, match="no predict_proba"):
        save_model(MeanRegressor(1.0), tmp_path / "r", task="classification", trusted_code=True)
    with pytest.raises(InvalidInput, match="task must be one of"):
        save_model(MeanRegressor(1.0), tmp_path / "r", task="ranking", trusted_code=True)


def test_without_example_there_is_no_signature_and_no_enforcement(tmp_path, train) -> None:
    X = train[0]
    manifest = save_model(ScorecardModel(), tmp_path / "m", trusted_code=True)
    assert manifest.signature is None
    loaded = load_model(tmp_path / "m", trusted_code=True)
    assert loaded.predict(X.assign(anything=1)).shape == (len(X),)


def test_explicit_signature_and_extra_requirements(tmp_path, train) -> None:
    X = train[0]
    signature = Signature.infer(X[["debt_to_income", "utilisation"]])
    manifest = save_model(
        ScorecardModel(),
        tmp_path / "m",
        signature=signature,
        extra_requirements=["scipy>=1.11"],
        trusted_code=True,
    )
    assert manifest.signature == signature
    assert manifest.requirements[-1] == "scipy>=1.11"
    on_disk = json.loads((tmp_path / "m" / "modelyard.json").read_text())
    assert on_disk["signature"]["inputs"][0]["name"] == "debt_to_income"


def test_predict_enforces_the_signature_unless_told_not_to(tmp_path, lgbm_pipeline, train):
    X = train[0]
    save_model(lgbm_pipeline, tmp_path / "m", example=X)
    loaded = load_model(tmp_path / "m")
    bad = X.head(3).drop(columns=["income"]).assign(region="Atlantis")
    with pytest.raises(InvalidInput) as info:
        loaded.predict_proba(bad)
    # A missing column is a hard problem; the unseen region is not (the pipeline scores it).
    assert {d["column"] for d in info.value.details} == {"income"}
    unseen = X.head(3).assign(region="Atlantis")
    _, warnings = loaded.check(unseen)
    assert [(w["column"], w["kind"], w["value"]) for w in warnings] == [
        ("region", "unseen_category", "Atlantis")
    ]
    assert loaded.predict_proba(unseen).shape == (3, 2)
    # validate=False hands the frame to the pipeline untouched.
    assert loaded.predict(X.head(3), validate=False).shape == (3,)


def test_raw_booster_predicts_labels_and_probabilities(tmp_path, bare_lgbm, train) -> None:
    X = train[0][NUMERIC]
    save_model(bare_lgbm.booster_, tmp_path / "b", example=X)
    loaded = load_model(tmp_path / "b")
    proba = loaded.predict_proba(X.head(20))
    assert np.allclose(proba, bare_lgbm.predict_proba(X.head(20)))
    assert np.array_equal(loaded.predict(X.head(20)), bare_lgbm.predict(X.head(20)))


def test_onnx_model_proto_and_classes_from_the_graph(tmp_path, logistic, train) -> None:
    import onnx

    X = train[0]
    proto = onnx.load_from_string(compile_onnx(logistic, X.head(50)))
    del proto.metadata_props[:]  # as if converted elsewhere: labels come from the graph
    manifest = save_model(proto, tmp_path / "m", example=X)
    assert manifest.classes == [0, 1] and manifest.task == "classification"


def test_load_errors(tmp_path, train) -> None:
    with pytest.raises(NotFound, match="no saved model"):
        load_model(tmp_path / "nowhere")
    save_model(ScorecardModel(), tmp_path / "m", example=train[0], trusted_code=True)
    with pytest.raises(PermissionDenied, match="trusted code"):
        load_model(tmp_path / "m")  # a pickle is never loaded without the caller's say-so
    pickle_file = tmp_path / "m" / "model.pkl"
    pickle_file.write_bytes(b"cno_such_module_xyz\nThing\n.")
    with pytest.raises(BackendUnavailable, match="no_such_module_xyz"):
        load_model(tmp_path / "m", trusted_code=True)
    pickle_file.write_bytes(b"not a pickle")
    with pytest.raises(IntegrityError, match="not a readable pickle"):
        load_model(tmp_path / "m", trusted_code=True)
    pickle_file.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        load_model(tmp_path / "m", trusted_code=True)
    (tmp_path / "m" / "modelyard.json").write_text("{")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_model(tmp_path / "m")


def test_importing_flavors_does_not_import_heavy_frameworks() -> None:
    src = Path(__file__).resolve().parents[2] / "src"
    code = (
        "import sys, modelyard.flavors; "
        "print(sorted(m for m in ('lightgbm', 'xgboost', 'onnx', 'onnxruntime', 'skl2onnx') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert out.stdout.strip() == "[]"
