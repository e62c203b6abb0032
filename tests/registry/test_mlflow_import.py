"""Importing MLflow model directories.

The directories are written here in MLflow's documented on-disk format
(``MLmodel`` YAML + pickled model or LightGBM text file + ``input_example.json``)
because MLflow itself cannot be installed beside Modelyard's pins; the
benchmarks run the real MLflow in its own environment.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import yaml

from modelyard.data.synthetic import FEATURES
from modelyard.errors import InvalidInput

TYPES = {"float64": "double", "int64": "long", "object": "string"}


def _signature(frame) -> str:
    return json.dumps(
        [{"type": TYPES[str(frame[c].dtype)], "name": c, "required": True} for c in frame.columns]
    )


def _write_mlflow_dir(path: Path, flavors: dict, frame) -> None:
    path.mkdir()
    mlmodel = {
        "artifact_path": "model",
        "flavors": flavors,
        "mlflow_version": "3.17.2",
        "run_id": "0123456789abcdef",
        "signature": {"inputs": _signature(frame), "outputs": '[{"type": "long"}]', "params": None},
    }
    (path / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    example = {"columns": list(frame.columns), "data": frame.head(3).values.tolist()}
    (path / "input_example.json").write_text(json.dumps(example, default=str))


def test_import_sklearn_flavor(sqlite_yard, small_model, credit_frame, tmp_path) -> None:
    x = credit_frame[list(FEATURES)]
    target = tmp_path / "mlflow-sklearn"
    _write_mlflow_dir(
        target,
        {
            "python_function": {"loader_module": "mlflow.sklearn", "model_path": "model.pkl"},
            "sklearn": {"pickled_model": "model.pkl", "serialization_format": "cloudpickle"},
        },
        x,
    )
    (target / "model.pkl").write_bytes(pickle.dumps(small_model))
    version = sqlite_yard.models.import_mlflow("credit-risk", target)
    assert version.tags["mlflow_flavor"] == "sklearn"
    assert version.tags["imported_from"].startswith("mlflow:")
    names = [c["name"] for c in version.signature["inputs"]]
    assert names == list(FEATURES)
    loaded = sqlite_yard.models.load(version.ref)
    assert np.array_equal(loaded.predict_proba(x.head(20)), small_model.predict_proba(x.head(20)))
    with pytest.raises(InvalidInput, match="income"):
        loaded.predict_proba(x.head(2).drop(columns=["income"]))


def test_import_lightgbm_booster(sqlite_yard, credit_frame, tmp_path) -> None:
    import lightgbm

    numeric = [f for f in FEATURES if credit_frame[f].dtype != object]
    x = credit_frame[numeric]
    booster = lightgbm.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1},
        lightgbm.Dataset(x, credit_frame["default"]),
        num_boost_round=20,
    )
    target = tmp_path / "mlflow-lgb"
    _write_mlflow_dir(
        target, {"lightgbm": {"data": "model.lgb", "model_class": "lightgbm.basic.Booster"}}, x
    )
    booster.save_model(str(target / "model.lgb"))
    version = sqlite_yard.models.import_mlflow("booster", target)
    loaded = sqlite_yard.models.load(version.ref)
    assert loaded.task == "classification"
    assert np.array_equal(loaded.predict_proba(x.head(10))[:, 1], booster.predict(x.head(10)))


def test_import_refuses_what_it_cannot_read(sqlite_yard, tmp_path) -> None:
    with pytest.raises(InvalidInput, match="no MLmodel file"):
        sqlite_yard.models.import_mlflow("x", tmp_path)
    bad = tmp_path / "pt"
    bad.mkdir()
    (bad / "MLmodel").write_text(yaml.safe_dump({"flavors": {"pytorch": {}}}))
    with pytest.raises(InvalidInput, match="not supported"):
        sqlite_yard.models.import_mlflow("x", bad)
    skops = tmp_path / "skops"
    skops.mkdir()
    (skops / "MLmodel").write_text(
        yaml.safe_dump({"flavors": {"sklearn": {"serialization_format": "skops"}}})
    )
    with pytest.raises(InvalidInput, match="skops"):
        sqlite_yard.models.import_mlflow("x", skops)
