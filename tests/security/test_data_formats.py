"""Models stored as data register, load and serve with no pickle involved.

A scikit-learn pipeline with the usual transformers (skops), a pipeline holding
LightGBM (skops), a bare LightGBM (model text), an XGBoost (JSON) and an ONNX
model are registered, then served by the real serving app on uvicorn while
every pickle entry point refuses to run; their answers equal the in-memory
models'. A skops file naming a type outside the allow-list is refused on load
(and loads once the configuration trusts that type).
"""

from __future__ import annotations

import _pickle
import json
import pickle
import re
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from security_support import serving_config, start_server

import modelyard
from modelyard.data import synthetic
from modelyard.data.synthetic import FEATURES, TARGET
from modelyard.demo.credit_models import CATEGORICAL, NUMERIC
from modelyard.errors import PermissionDenied

ORDINAL = ["loan_purpose"]
ONE_HOT = [c for c in CATEGORICAL if c not in ORDINAL]


def double(values: Any) -> Any:
    """A company's own function: code the platform does not trust by default."""
    return values * 2.0


def _encoder() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), NUMERIC),
            ("onehot", OneHotEncoder(handle_unknown="ignore"), ONE_HOT),
            (
                "ordinal",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                ORDINAL,
            ),
        ]
    )


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    train = synthetic.generate(1_500, seed=1301)
    holdout = synthetic.generate(200, seed=1302)[list(FEATURES)]
    x = train[list(FEATURES)].copy()
    x.loc[x.index[::17], "income"] = np.nan  # the imputer has something to do
    return x, train[TARGET], holdout


@pytest.fixture(scope="module")
def models(data) -> dict[str, tuple[Any, pd.DataFrame]]:
    """name -> (fitted model, the columns it takes)."""
    from lightgbm import LGBMClassifier
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from xgboost import XGBClassifier

    from modelyard.flavors import compile_onnx

    x, y, _ = data
    numeric = x[NUMERIC]
    logistic = Pipeline([("encode", _encoder()), ("model", LogisticRegression(max_iter=500))])
    hgb = Pipeline([("encode", _encoder()), ("model", HistGradientBoostingClassifier(max_iter=30))])
    lgbm_args = {"n_estimators": 30, "n_jobs": 1, "verbose": -1, "random_state": 3}
    lgbm_pipeline = Pipeline([("encode", _encoder()), ("model", LGBMClassifier(**lgbm_args))])
    fitted = {
        "fmt-logistic": (logistic.fit(x, y), x),
        "fmt-hgb": (hgb.fit(x, y), x),
        "fmt-lgbm-pipeline": (lgbm_pipeline.fit(x, y), x),
        "fmt-lightgbm": (LGBMClassifier(**lgbm_args).fit(numeric, y), numeric),
        "fmt-xgboost": (
            XGBClassifier(n_estimators=30, max_depth=3, n_jobs=1).fit(numeric, y),
            numeric,
        ),
    }
    fitted["fmt-onnx"] = (compile_onnx(fitted["fmt-logistic"][0], x.head(300)), x)
    return fitted


EXPECTED_FORMAT = {
    "fmt-logistic": ("sklearn", "skops", ["model.skops"]),
    "fmt-hgb": ("sklearn", "skops", ["model.skops"]),
    "fmt-lgbm-pipeline": ("sklearn", "skops", ["model.skops"]),
    "fmt-lightgbm": ("lightgbm", "lightgbm-text", ["estimator.json", "model.txt"]),
    "fmt-xgboost": ("xgboost", "xgboost-json", ["model.json"]),
    "fmt-onnx": ("onnx", "onnx", ["model.onnx"]),
}


class _NoUnpickling(pickle.Unpickler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("an Unpickler was created while loading or serving")


def _refuse_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("pickle.load/loads was called while loading or serving")

    for module in (pickle, _pickle):
        monkeypatch.setattr(module, "load", refuse)
        monkeypatch.setattr(module, "loads", refuse)
        monkeypatch.setattr(module, "Unpickler", _NoUnpickling)


def _expected(name: str, model: Any, frame: pd.DataFrame, columns: pd.DataFrame) -> np.ndarray:
    if name == "fmt-onnx":
        from modelyard.flavors import OnnxPredictor, Signature

        return OnnxPredictor(model, Signature.infer(columns), [0, 1]).predict_proba(frame)
    return model.predict_proba(frame)


def test_data_formats_register_and_serve_without_pickle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, models, data
) -> None:
    from modelyard.serving import create_app

    _, _, holdout = data
    root = tmp_path / "yard"
    yard = modelyard.connect(
        f"sqlite:///{root / 'yard.db'}",
        artifact_root=str(root / "artifacts"),
        user="alice",
        home=str(root / "home"),
    )
    try:
        for name, (model, columns) in models.items():
            version = yard.models.register(name, model, example=columns)
            flavor, model_format, files = EXPECTED_FORMAT[name]
            assert (version.flavor, version.manifest["model_format"]) == (flavor, model_format)
            stored = sorted(
                p.name for p in yard.models.local_path(version.ref).iterdir() if p.is_file()
            )
            assert stored == sorted([*files, "input_example.parquet", "modelyard.json"])
        types = yard.models.get("fmt-lgbm-pipeline/1").manifest["skops_types"]
        assert "lightgbm.sklearn.LGBMClassifier" in types and "lightgbm.basic.Booster" in types

        _refuse_pickle(monkeypatch)
        app = create_app([f"{name}@latest" for name in models], yard=yard, config=serving_config())
        server = start_server(app)
        try:
            for name, (model, columns) in models.items():
                frame = holdout[list(columns.columns)].head(50)
                response = httpx.post(
                    f"{server.url}/v1/models/{name}/predict",
                    json={"records": frame.to_dict(orient="records")},
                    timeout=60,
                )
                assert response.status_code == 200, (name, response.text)
                got = np.array(
                    [
                        [p["probabilities"]["0"], p["probabilities"]["1"]]
                        for p in response.json()["predictions"]
                    ]
                )
                expected = _expected(name, model, frame, columns)
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12, err_msg=name)
        finally:
            server.stop()
    finally:
        yard.close()


def test_loaded_models_equal_the_in_memory_ones(tmp_path: Path, models, data) -> None:
    _, _, holdout = data
    with modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}", artifact_root=str(tmp_path / "a"), user="alice"
    ) as yard:
        for name in ("fmt-hgb", "fmt-lightgbm", "fmt-xgboost"):
            model, columns = models[name]
            loaded = yard.models.load(yard.models.register(name, model, example=columns))
            frame = holdout[list(columns.columns)]
            assert type(loaded.native) is type(model)
            assert np.array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
            assert np.array_equal(loaded.predict(frame), model.predict(frame))


def test_a_skops_type_outside_the_allow_list_is_refused_on_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from modelyard.serving import create_app

    x, y, holdout = data
    columns = x[["debt_to_income", "utilisation"]]
    model = make_pipeline(FunctionTransformer(double), LogisticRegression()).fit(columns, y)
    store = f"sqlite:///{tmp_path / 'yard.db'}"
    with modelyard.connect(store, artifact_root=str(tmp_path / "a"), user="alice") as yard:
        version = yard.models.register("own-code", model, example=columns)
        own_type = f"{double.__module__}.double"
        assert version.manifest["skops_types"] == [own_type]
        with pytest.raises(PermissionDenied) as refused:
            yard.models.load(version.ref)
        assert own_type in refused.value.message
        assert refused.value.details == {"untrusted_types": [own_type]}
        assert "trusted_types" in refused.value.message
        with pytest.raises(PermissionDenied, match=re.escape(own_type)):
            create_app([version.ref], yard=yard, config=serving_config())
    # Reviewed and trusted by configuration: the same file now loads.
    monkeypatch.setenv("MODELYARD_TRUSTED_TYPES", json.dumps([own_type]))
    with modelyard.connect(store, artifact_root=str(tmp_path / "a"), user="bob") as yard:
        loaded = yard.models.load("own-code/1")
        frame = holdout[list(columns.columns)]
        assert np.array_equal(loaded.predict_proba(frame), model.predict_proba(frame))


def test_allow_list_patterns_and_configuration() -> None:
    from modelyard.flavors.trusted_types import check_trusted_types, untrusted_types

    assert untrusted_types(["numpy.dtype", "sklearn._loss.loss.HalfBinomialLoss"]) == []
    assert untrusted_types(["builtins.eval", "os.system"]) == ["builtins.eval", "os.system"]
    assert untrusted_types(["acme.features.Ratio"], ["acme.features.*"]) == []
    with pytest.raises(PermissionDenied, match=r"builtins\.exec"):
        check_trusted_types(["numpy.dtype", "builtins.exec"], what="the model")
