"""Round trip for every flavor: save here, load in a NEW process, identical predictions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from flavors_testmodels import MeanRegressor, ScorecardModel

from modelyard.demo.credit_models import NUMERIC
from modelyard.flavors import compile_onnx, load_model, save_model

SRC = Path(__file__).resolve().parents[2] / "src"
HERE = Path(__file__).resolve().parent

CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd
    from modelyard.flavors import load_model

    root = sys.argv[1]
    frame = pd.read_parquet(f"{root}/holdout.parquet")
    out = {}
    for name in sys.argv[2:]:
        model = load_model(f"{root}/{name}", trusted_code=name.startswith("python"))
        inputs = frame[model.signature.input_names]
        out[name + ".predict"] = model.predict(inputs)
        if model.task == "classification":
            out[name + ".proba"] = model.predict_proba(inputs)
    np.savez(f"{root}/child.npz", **out)
    """
)

REGRESSION_INPUTS = [c for c in NUMERIC if c != "interest_rate"]


def _models(train, lgbm_pipeline, logistic, bare_lgbm, bare_xgb) -> dict[str, tuple[Any, dict]]:
    """name -> (model, save_model keyword arguments)."""
    from lightgbm import LGBMRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _ = train
    rate = X["interest_rate"]
    ridge = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X[REGRESSION_INPUTS], rate)
    lgbm_regressor = LGBMRegressor(n_estimators=30, n_jobs=1, verbose=-1, random_state=1)
    lgbm_regressor.fit(X[REGRESSION_INPUTS], rate)
    return {
        "sklearn_lightgbm_pipeline": (lgbm_pipeline, {"example": X}),
        "sklearn_logistic_onehot": (logistic, {"example": X}),
        "lightgbm": (bare_lgbm, {"example": X[NUMERIC]}),
        "lightgbm_booster": (bare_lgbm.booster_, {"example": X[NUMERIC]}),
        "xgboost": (bare_xgb, {"example": X[NUMERIC]}),
        "sklearn_ridge_regression": (ridge, {"example": X[REGRESSION_INPUTS]}),
        "lightgbm_regression": (lgbm_regressor, {"example": X[REGRESSION_INPUTS]}),
        "onnx": (compile_onnx(logistic, X.head(200)), {"example": X}),
        "python": (ScorecardModel(), {"example": X, "trusted_code": True}),
        "python_regression": (MeanRegressor(0.11), {"example": X[NUMERIC], "trusted_code": True}),
    }


EXPECTED_FLAVOR = {
    "sklearn_lightgbm_pipeline": ("sklearn", "classification"),
    "sklearn_logistic_onehot": ("sklearn", "classification"),
    "lightgbm": ("lightgbm", "classification"),
    "lightgbm_booster": ("lightgbm", "classification"),
    "xgboost": ("xgboost", "classification"),
    "sklearn_ridge_regression": ("sklearn", "regression"),
    "lightgbm_regression": ("lightgbm", "regression"),
    "onnx": ("onnx", "classification"),
    "python": ("python", "classification"),
    "python_regression": ("python", "regression"),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory, train, holdout, lgbm_pipeline, logistic, bare_lgbm, bare_xgb):
    root = tmp_path_factory.mktemp("roundtrip")
    holdout.to_parquet(root / "holdout.parquet")
    manifests = {}
    for name, (model, kwargs) in _models(
        train, lgbm_pipeline, logistic, bare_lgbm, bare_xgb
    ).items():
        manifests[name] = save_model(model, root / name, **kwargs)
    return root, manifests


def _in_process(root: Path, name: str, frame: pd.DataFrame) -> dict[str, np.ndarray]:
    model = load_model(root / name, trusted_code=name.startswith("python"))
    inputs = frame[model.signature.input_names]
    out = {"predict": model.predict(inputs)}
    if model.task == "classification":
        out["proba"] = model.predict_proba(inputs)
    return out


def test_every_flavor_round_trips_through_a_new_process(saved, holdout) -> None:
    root, manifests = saved
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(HERE)])}
    subprocess.run(
        [sys.executable, "-W", "error", "-c", CHILD, str(root), *manifests],
        check=True,
        env=env,
        timeout=120,
    )
    with np.load(root / "child.npz") as child:
        mismatched = []
        for name in manifests:
            here = _in_process(root, name, holdout)
            for kind, values in here.items():
                if not np.array_equal(child[f"{name}.{kind}"], values):
                    mismatched.append(f"{name}.{kind}")
    assert mismatched == []


def test_loaded_predictions_equal_the_original_objects(saved, holdout, lgbm_pipeline, bare_xgb):
    root, _ = saved
    X = holdout
    loaded = load_model(root / "sklearn_lightgbm_pipeline")
    assert np.array_equal(loaded.predict_proba(X), lgbm_pipeline.predict_proba(X))
    assert np.array_equal(loaded.predict(X), lgbm_pipeline.predict(X))
    xgb = load_model(root / "xgboost")
    assert np.array_equal(xgb.predict_proba(X[NUMERIC]), bare_xgb.predict_proba(X[NUMERIC]))
    scorecard = load_model(root / "python", trusted_code=True)
    assert np.array_equal(scorecard.predict_proba(X), ScorecardModel().predict_proba(X))


@pytest.mark.parametrize("name", sorted(EXPECTED_FLAVOR))
def test_manifest_records_flavor_task_and_files(saved, name: str) -> None:
    root, manifests = saved
    manifest = manifests[name]
    flavor, task = EXPECTED_FLAVOR[name]
    assert (manifest.flavor, manifest.task) == (flavor, task)
    assert manifest.classes == ([0, 1] if task == "classification" else None)
    assert manifest.signature is not None and manifest.signature.outputs
    assert manifest.python_version.count(".") == 2
    assert all((root / name / f).is_file() for f in manifest.files)
    assert (root / name / "modelyard.json").is_file()
    assert any(r.startswith("numpy==") for r in manifest.requirements)


def test_native_files_and_pinned_frameworks(saved) -> None:
    _, manifests = saved
    pipeline = manifests["sklearn_lightgbm_pipeline"]
    assert pipeline.model_class == "sklearn.pipeline.Pipeline"
    # A pipeline ending in LightGBM is flavor sklearn but needs lightgbm to load.
    assert {"scikit-learn", "lightgbm"} <= set(pipeline.framework)
    assert any(r.startswith("lightgbm==") for r in pipeline.requirements)
    assert (pipeline.files, pipeline.model_format) == (["model.skops"], "skops")
    assert "lightgbm.sklearn.LGBMClassifier" in pipeline.skops_types
    assert manifests["lightgbm"].files == ["estimator.json", "model.txt"]
    assert manifests["lightgbm"].model_format == "lightgbm-text"
    assert manifests["lightgbm_booster"].files == ["model.txt"]  # loaded without pickle
    assert manifests["xgboost"].files == ["model.json"]
    assert manifests["xgboost"].model_format == "xgboost-json"
    assert any(r.startswith("xgboost") for r in manifests["xgboost"].requirements)
    assert manifests["onnx"].files == ["model.onnx"]
    assert manifests["onnx"].model_class == "onnx.ModelProto"
    assert "onnxruntime" in manifests["onnx"].framework
    assert manifests["python"].model_class == "flavors_testmodels.ScorecardModel"
    assert (manifests["python"].files, manifests["python"].model_format) == (
        ["model.pkl"],
        "pickle",
    )
    assert manifests["python"].trusted_code and not pipeline.trusted_code


def test_output_signature_has_label_and_probabilities(saved) -> None:
    _, manifests = saved
    outputs = {c.name: c for c in manifests["sklearn_logistic_onehot"].signature.outputs}
    assert list(outputs) == ["prediction", "probability_0", "probability_1"]
    assert outputs["prediction"].type == "integer"
    assert outputs["probability_1"].type == "float"
    regression = manifests["sklearn_ridge_regression"].signature.outputs
    assert [c.name for c in regression] == ["prediction"]
