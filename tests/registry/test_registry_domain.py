"""The domain stored with a version comes from the training data the registry knows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder


def _data(seed: int, rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            # 30 branches: more than a profile lists (its top 20), so the set is completed.
            "branch": rng.choice([f"b{i:02d}" for i in range(30)], rows),
            "income": rng.normal(50.0, 10.0, rows),
            "default": rng.integers(0, 2, rows),
        }
    )


def _model(frame: pd.DataFrame):
    encode = make_column_transformer(
        (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan), ["branch"]),
        remainder="passthrough",
    )
    x = frame[["branch", "income"]]
    return make_pipeline(encode, HistGradientBoostingClassifier(max_iter=5)).fit(
        x, frame["default"]
    )


def test_domain_comes_from_the_run_inputs_whatever_their_role(sqlite_yard) -> None:
    train, holdout = _data(1), _data(2)
    holdout.loc[0, "branch"] = "b99"
    train_dv = sqlite_yard.datasets.register("loans", train)
    holdout_dv = sqlite_yard.datasets.register("loans-holdout", holdout)
    assert sqlite_yard.datasets.get("loans/1").profile["columns"]["branch"]["categories_truncated"]
    with sqlite_yard.start_run(experiment="e", inputs=[train_dv]) as run:
        run.log_input(holdout_dv, role="holdout")  # an evaluation split: not the domain
        version = sqlite_yard.models.register(
            "credit", _model(train), run=run, example=train[["branch", "income"]].head(5)
        )
    domain = version.manifest["domain"]
    assert domain["source"] == "training" and domain["datasets"] == ["loans/1"]
    assert domain["rows"] == 600
    assert domain["columns"]["branch"]["categories"] == sorted(set(train["branch"]))
    assert domain["columns"]["income"]["minimum"] == train["income"].min()
    assert version.manifest["probe"]["columns"]["branch"]["unseen"] == "scores"
    loaded = sqlite_yard.models.load(version.ref)
    _, warnings = loaded.check(pd.DataFrame({"branch": ["b29", "b99"], "income": [50.0, 50.0]}))
    assert [(w["column"], w["value"], w["rows"]) for w in warnings] == [("branch", "b99", [1])]


def test_without_training_data_the_example_is_the_domain(sqlite_yard) -> None:
    train = _data(3)
    version = sqlite_yard.models.register(
        "credit", _model(train), example=train[["branch", "income"]].head(5)
    )
    domain = version.manifest["domain"]
    assert domain["source"] == "example" and domain["rows"] == 5
    assert domain["columns"]["branch"]["categories"] == sorted(set(train["branch"].head(5)))


def test_deployment_input_policy_per_endpoint_and_route() -> None:
    import pytest

    from modelyard.errors import InvalidInput
    from modelyard.registry.deployments import parse_deployment

    spec = parse_deployment(
        {
            "name": "credit",
            "routes": [
                {"name": "champion", "model": "credit@champion", "weight": 90},
                {
                    "name": "challenger",
                    "model": "credit@challenger",
                    "weight": 10,
                    "input_policy": {"columns": {"branch": {"unseen": "score"}}},
                },
            ],
            "input_policy": {"unseen": "reject", "nulls": "score"},
        }
    )
    champion, challenger = (spec.policy_for(r) for r in spec.routes)
    assert (champion.action("branch", "unseen"), champion.action("income", "nulls")) == (
        "reject",
        "score",
    )
    assert challenger.action("branch", "unseen") == "score"
    assert challenger.action("income", "unseen") == "reject"
    assert spec.to_dict()["input_policy"] == {"unseen": "reject", "nulls": "score", "columns": {}}
    with pytest.raises(InvalidInput, match=r"input_policy\.unseen"):
        parse_deployment(
            {
                "name": "credit",
                "routes": [{"name": "main", "model": "credit@champion"}],
                "input_policy": {"unseen": "ignore"},
            }
        )
