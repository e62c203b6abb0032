"""A native (not compiled) model in a server runs on one thread: OpenMP and BLAS pools
limited, and every n_jobs inside the loaded pipeline set to 1."""

from __future__ import annotations

import httpx
import numpy as np
from serving_support import open_yard, records, serving_config, start_server
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from modelyard.demo.credit_models import CATEGORICAL, NUMERIC, split_xy
from modelyard.serving import create_app
from modelyard.serving.threads import native_pools, single_threaded


def _forest(train_frame) -> Pipeline:
    encode = ColumnTransformer(
        [
            # A function step has no compiled form: the forest is served natively.
            ("num", FunctionTransformer(np.abs), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    model = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=3, n_jobs=1)
    pipeline = Pipeline([("encode", encode), ("model", model)]).fit(*split_xy(train_frame))
    # As a team often ships it: every core asked for, at training and at prediction.
    return pipeline.set_params(encode__n_jobs=-1, model__n_jobs=-1)


def test_a_native_model_scores_with_one_thread_per_worker(tmp_path, train_frame, holdout) -> None:
    root = tmp_path / "yard"
    root.mkdir()
    with open_yard(root) as yard:
        yard.models.create("forest", risk_tier=3)
        yard.models.register("forest", _forest(train_frame), example=holdout.head(200))
        yard.models.set_alias("forest", "champion", 1)
    yard = open_yard(root)
    app = create_app("forest@champion", yard=yard, config=serving_config())
    server = start_server(app)
    try:
        answer = httpx.post(
            f"{server.url}/v1/models/forest/predict",
            json={"records": records(holdout.head(50))},
            timeout=120,
        )
        served = app.runtime.core.endpoint("forest").primary().served()
        pools = native_pools()
    finally:
        server.stop()
        yard.close()
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 50
    assert served.scorer == "native"
    assert "FunctionTransformer" in served.notes[0]
    pipeline = served.loaded.native
    assert pipeline.named_steps["model"].n_jobs == 1
    assert pipeline.named_steps["encode"].n_jobs == 1
    assert pools, "no OpenMP/BLAS pool is loaded: scikit-learn and numpy load them"
    assert {p["threads"] for p in pools} == {1}, pools


def test_single_threaded_reaches_nested_estimators_and_boosters() -> None:
    from lightgbm import LGBMClassifier
    from xgboost import XGBClassifier

    inner = ColumnTransformer([("num", "passthrough", ["a"])], n_jobs=4)
    pipeline = Pipeline([("encode", inner), ("model", LGBMClassifier(n_jobs=-1, num_threads=8))])
    single_threaded(pipeline)
    assert pipeline.named_steps["encode"].n_jobs == 1
    assert pipeline.named_steps["model"].get_params()["n_jobs"] == 1
    assert pipeline.named_steps["model"].get_params()["num_threads"] == 1
    booster = single_threaded(XGBClassifier(n_jobs=-1))
    assert booster.get_params()["n_jobs"] == 1
    histogram = single_threaded(HistGradientBoostingClassifier())  # OpenMP only: no parameter
    assert "n_jobs" not in histogram.get_params()
    assert single_threaded("passthrough") == "passthrough"
