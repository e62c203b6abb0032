"""The input contract: training domain, registration probe and policy, and the warnings."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from modelyard.errors import InvalidInput
from modelyard.flavors import Signature, load_model, save_model
from modelyard.flavors.contract import InputContract
from modelyard.flavors.domain import Domain, training_profiles
from modelyard.flavors.policy import InputPolicy
from modelyard.flavors.probe import UNSEEN_MARKER, Probe, probe_model


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 300
    return pd.DataFrame(
        {
            "channel": rng.choice(["branch", "web"], n),
            "income": rng.normal(50.0, 10.0, n),
            "term": rng.choice([12, 36, 60], n),
        }
    )


def _target(frame: pd.DataFrame) -> np.ndarray:
    return (frame["income"] > 50).astype(int).to_numpy()


def _tolerant(frame: pd.DataFrame):
    """Scores unseen channels (ignored) and nulls everywhere (native NaN handling)."""
    encode = make_column_transformer(
        (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan), ["channel"]),
        remainder="passthrough",
    )
    return make_pipeline(encode, HistGradientBoostingClassifier(max_iter=10)).fit(
        frame, _target(frame)
    )


def _strict(frame: pd.DataFrame):
    """Raises on an unseen channel (handle_unknown='error') and on any NaN."""
    encode = make_column_transformer((OneHotEncoder(), ["channel"]), remainder="passthrough")
    return make_pipeline(encode, LogisticRegression()).fit(frame, _target(frame))


def test_probe_records_what_the_model_scores(frame) -> None:
    signature = Signature.infer(frame)
    tolerant = probe_model(_tolerant(frame).predict_proba, frame, signature)
    assert {n: (c.unseen, c.null) for n, c in tolerant.columns.items()} == {
        "channel": ("scores", "scores"),
        "income": ("scores", "scores"),
        "term": ("scores", "scores"),
    }
    strict = probe_model(_strict(frame).predict_proba, frame, signature)
    assert strict.columns["channel"].unseen == "fails"
    assert UNSEEN_MARKER in strict.columns["channel"].errors["unseen"]
    assert (
        strict.columns["income"].null == "fails"
        and "NaN" in strict.columns["income"].errors["null"]
    )
    assert strict.columns["income"].unseen == "scores"  # a number out of range is still a number
    assert Probe.from_dict(json.loads(json.dumps(strict.to_dict()))) == strict


def test_probe_counts_a_non_finite_score_as_a_failure(frame) -> None:
    signature = Signature.infer(frame)

    def predict(f: pd.DataFrame) -> np.ndarray:
        return np.where(f["income"].isna().to_numpy()[:, None], np.nan, 0.5) * np.ones((1, 2))

    probe = probe_model(predict, frame, signature)
    assert probe.columns["income"].null == "fails"
    assert probe.columns["channel"].null == "scores"


def test_save_model_stores_domain_probe_and_policy(tmp_path, frame) -> None:
    manifest = save_model(
        _strict(frame),
        tmp_path / "m",
        example=frame.head(5),
        input_policy={"columns": {"term": {"nulls": "score"}}},
    )
    stored = json.loads((tmp_path / "m" / "modelyard.json").read_text())
    assert stored["domain"]["source"] == "example" and stored["domain"]["rows"] == 5
    assert stored["probe"]["format"] == "modelyard.probe/v1"
    assert stored["policy"]["columns"] == {"term": {"nulls": "score"}}
    loaded = load_model(tmp_path / "m")
    assert loaded.manifest == manifest
    rules = loaded.contract.rules
    # The probe decides; an explicit 'score' never overrides a failed probe.
    assert (rules["channel"].unseen, rules["income"].nulls, rules["term"].nulls) == (
        "reject",
        "reject",
        "reject",
    )


def test_policy_over_probe(frame) -> None:
    signature = Signature.infer(frame.head(5))
    probe = probe_model(_tolerant(frame).predict_proba, frame, signature)
    domain = Domain.from_frame(frame, signature)
    default = InputContract(signature, domain, probe)
    assert {(r.unseen, r.nulls) for r in default.rules.values()} == {("score", "score")}
    version = InputPolicy(unseen="reject", columns={"income": {"nulls": "reject"}})
    contract = InputContract(signature, domain, probe, version)
    assert contract.rules["channel"].unseen == "reject"
    assert contract.rules["income"].nulls == "reject" and contract.rules["term"].nulls == "score"
    route = contract.with_policy({"columns": {"channel": {"unseen": "score"}}})
    assert route.rules["channel"].unseen == "score" and route.rules["term"].unseen == "reject"
    # Not probed (a model saved before probes existed): nothing shows it copes.
    legacy = InputContract(signature, domain)
    assert {(r.unseen, r.nulls) for r in legacy.rules.values()} == {("reject", "reject")}


def test_policy_errors_name_the_field() -> None:
    with pytest.raises(InvalidInput, match="'unseen' policy must be one of"):
        InputPolicy.from_dict({"unseen": "ignore"})
    with pytest.raises(InvalidInput, match=r"'channel\.nulls' policy"):
        InputPolicy.from_dict({"columns": {"channel": {"nulls": "drop"}}})
    with pytest.raises(InvalidInput, match="unknown key"):
        InputPolicy.from_dict({"unseen": "score", "missing": "score"})
    with pytest.raises(InvalidInput, match="column 'x': unknown key"):
        InputPolicy.from_dict({"columns": {"x": {"unknown": "score"}}})


def test_policy_naming_an_unknown_column_is_refused_at_save(tmp_path, frame) -> None:
    with pytest.raises(InvalidInput, match=r"columns the signature does not have: \['colour'\]"):
        save_model(
            _tolerant(frame),
            tmp_path / "m",
            example=frame,
            input_policy={"columns": {"colour": {"unseen": "reject"}}},
        )
    assert not (tmp_path / "m").exists()


def test_warnings_name_column_value_kind_and_rows(frame) -> None:
    signature = Signature.infer(frame)
    probe = probe_model(_tolerant(frame).predict_proba, frame, signature)
    contract = InputContract(signature, Domain.from_frame(frame, signature), probe)
    late = pd.DataFrame(
        {
            "channel": ["app", "web", "app", None],
            "income": [50.0, 1e6, np.nan, 40.0],
            "term": [36, 36, 84, 12],
        }
    )
    checked, warnings = contract.check(late)
    found = {(w["column"], w["kind"], w["value"]): (w["rows"], w["count"]) for w in warnings}
    assert found == {
        ("channel", "unseen_category", "app"): ([0, 2], 2),
        ("channel", "null", None): ([3], 1),
        ("income", "out_of_range", 1e6): ([1], 1),
        ("income", "null", None): ([2], 1),
        ("term", "out_of_range", 84): ([2], 1),
    }
    assert warnings.totals[("channel", "unseen_category")] == 2
    assert json.loads(warnings.per_row(4)[2]) == [
        {"column": "channel", "kind": "unseen_category"},
        {"column": "income", "kind": "null"},
        {"column": "term", "kind": "out_of_range"},
    ]
    assert warnings.per_row(4)[0] is not None and len(checked) == 4
    # The wrong type is still a hard problem, whatever the policy.
    with pytest.raises(InvalidInput) as info:
        contract.check(late.assign(term=["36", 36, 84, 12]))
    assert [d["column"] for d in info.value.details] == ["term"]


def test_domain_from_training_profiles() -> None:
    from modelyard.data.profile import profile_table

    signature = Signature.infer(pd.DataFrame({"channel": ["web"], "income": [1.0]}))
    first = profile_table(pd.DataFrame({"channel": ["web", "branch"], "income": [1.0, 5.0]}))
    second = profile_table(pd.DataFrame({"channel": ["phone", None], "income": [-2.0, np.nan]}))
    holdout = profile_table(pd.DataFrame({"channel": ["app"], "income": [99.0]}))
    chosen = training_profiles(
        [
            ("train/1", "train", first.to_dict()),
            ("more/2", "", second.to_dict()),
            ("holdout/1", "holdout", holdout.to_dict()),
        ]
    )
    assert [ref for ref, _ in chosen] == ["train/1", "more/2"]
    domain = Domain.from_profiles(chosen, signature)
    assert domain.source == "training" and domain.rows == 4
    assert domain.datasets == ("train/1", "more/2")
    channel, income = domain.columns["channel"], domain.columns["income"]
    assert channel.categories == ("branch", "phone", "web") and channel.nullable
    assert channel.null_rate == pytest.approx(0.25)
    assert (income.minimum, income.maximum) == (-2.0, 5.0)
    assert Domain.from_dict(json.loads(json.dumps(domain.to_dict()))) == domain
    # Only evaluation splits: better than nothing.
    assert [r for r, _ in training_profiles([("h/1", "test", holdout.to_dict())])] == ["h/1"]


def test_domain_without_complete_categories_flags_no_unseen_value() -> None:
    from modelyard.data.profile import profile_table

    signature = Signature.infer(pd.DataFrame({"code": ["a"]}))
    profile = profile_table(pd.DataFrame({"code": [f"c{i}" for i in range(50)]}), top_k=10)
    domain = Domain.from_profiles([("codes/1", profile.to_dict())], signature)
    assert domain.columns["code"].categories is None
    contract = InputContract(signature, domain, Probe({}))
    _, warnings = contract.check(pd.DataFrame({"code": ["never-seen"]}))
    assert list(warnings) == []
