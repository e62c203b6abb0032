"""Data formats refuse what they cannot hold as data, and what is not data on load."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from modelyard.demo.credit_models import NUMERIC
from modelyard.errors import IntegrityError, InvalidInput, PermissionDenied
from modelyard.flavors import load_model, save_model


def negate(values):
    """A function of this module: code that the allow-list does not know."""
    return -values


def test_string_classes_survive_lightgbm_text(tmp_path, train) -> None:
    from lightgbm import LGBMClassifier

    X, y = train[0][NUMERIC], train[1]
    labels = np.where(y == 1, "default", "repaid")
    model = LGBMClassifier(n_estimators=10, n_jobs=1, verbose=-1).fit(X, labels)
    manifest = save_model(model, tmp_path / "m", example=X)
    assert manifest.classes == ["default", "repaid"]
    loaded = load_model(tmp_path / "m")
    assert np.array_equal(loaded.predict(X.head(50)), model.predict(X.head(50)))
    assert np.array_equal(loaded.predict_proba(X.head(50)), model.predict_proba(X.head(50)))


def test_a_lightgbm_objective_in_python_is_code(tmp_path, train) -> None:
    from lightgbm import LGBMRegressor

    def squared(y_true, y_pred):
        return y_pred - y_true, np.ones_like(y_pred)

    X, y = train[0][NUMERIC], train[1].astype(float)
    model = LGBMRegressor(objective=squared, n_estimators=5, n_jobs=1, verbose=-1).fit(X, y)
    with pytest.raises(InvalidInput, match="objective is a Python function"):
        save_model(model, tmp_path / "m", example=X)
    assert not (tmp_path / "m").exists()


def test_lightgbm_estimator_file_cannot_name_another_class(tmp_path, bare_lgbm, train) -> None:
    save_model(bare_lgbm, tmp_path / "m", example=train[0][NUMERIC])
    spec_file = tmp_path / "m" / "estimator.json"
    spec = json.loads(spec_file.read_text())
    spec_file.write_text(json.dumps({**spec, "estimator": "Thread"}))
    with pytest.raises(IntegrityError, match="estimator must be one of"):
        load_model(tmp_path / "m")
    spec_file.write_text("{")
    with pytest.raises(IntegrityError, match="not valid JSON"):
        load_model(tmp_path / "m")


def test_xgboost_manifest_cannot_name_another_class(tmp_path, bare_xgb, train) -> None:
    save_model(bare_xgb, tmp_path / "m", example=train[0][NUMERIC])
    manifest_file = tmp_path / "m" / "modelyard.json"
    manifest = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps({**manifest, "model_class": "xgboost.core.Booster"}))
    with pytest.raises(IntegrityError, match="is not one of"):
        load_model(tmp_path / "m")


def test_what_skops_cannot_describe_is_refused_as_data(tmp_path, train) -> None:
    from sklearn.tree import DecisionTreeClassifier

    X, y = train[0][NUMERIC], train[1]
    model = DecisionTreeClassifier(max_depth=3).fit(X, y)
    model.pending_ = (i for i in range(3))  # a generator: skops has no way to store it
    with pytest.raises(InvalidInput, match=r"cannot store .* with skops.*trusted_code=True"):
        save_model(model, tmp_path / "m", example=X)
    assert not (tmp_path / "m").exists()


def test_an_unreadable_skops_file_is_refused(tmp_path, logistic, train) -> None:
    save_model(logistic, tmp_path / "m", example=train[0])
    (tmp_path / "m" / "model.skops").write_bytes(b"not a zip file")
    with pytest.raises(IntegrityError, match="not a readable skops file"):
        load_model(tmp_path / "m")


def test_skops_types_are_checked_against_the_file_not_the_manifest(tmp_path, train) -> None:
    # A manifest edited to hide a type changes nothing: the file's own list is checked.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    X, y = train[0][NUMERIC], train[1]
    steps = (FunctionTransformer(negate), StandardScaler(), LogisticRegression())
    model = make_pipeline(*steps).fit(X, y)
    manifest = save_model(model, tmp_path / "m", example=X)
    own = f"{negate.__module__}.negate"
    assert manifest.skops_types == [own]
    manifest_file = tmp_path / "m" / "modelyard.json"
    data = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps({**data, "skops_types": []}))
    with pytest.raises(PermissionDenied, match=re.escape(own)):
        load_model(tmp_path / "m")
    assert load_model(tmp_path / "m", trusted_types=[own]).task == "classification"
