"""Which datasets are a version's training data (whatever the role word), and scoring for
validation and monitoring that never refuses a value for being outside the domain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.data import synthetic
from modelyard.data.synthetic import TARGET
from modelyard.demo.credit_models import split_xy
from modelyard.errors import InvalidInput
from modelyard.registry import scoring
from modelyard.registry.entities import ModelVersionInfo
from modelyard.registry.training_data import holdout_datasets, training_data


def _info(*datasets: tuple[str, str]) -> ModelVersionInfo:
    return ModelVersionInfo(
        id=1, name="m", version=1, artifact_digest="d", flavor="sklearn", task="classification",
        manifest={}, run_id=None, state="registered", description="", created_by="a",
        created_at=0, updated_at=0, datasets=tuple(datasets),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("datasets", "refs", "role"),
    [
        ((("loans/1", "input"),), ("loans/1",), "input"),  # start_run(inputs=[train])
        ((("loans/1", "training"),), ("loans/1",), "training"),
        ((("a/1", "input"), ("t/1", "Train")), ("t/1",), "Train"),  # a training word wins
        ((("h/1", "holdout"), ("x/1", "features")), ("x/1",), "features"),
        ((("h/1", "holdout"), ("v/1", "validation"), ("o/1", "oot")), (), None),
        ((), (), None),
    ],
)
def test_training_data_is_the_runs_inputs_whatever_the_role_word(datasets, refs, role) -> None:
    found = training_data(_info(*datasets))
    assert found.refs == refs and found.role == role


def test_training_data_describes_itself_and_holdouts_are_kept_apart() -> None:
    info = _info(("loans/1", "input"), ("loans/2", "holdout"), ("extra/1", "input"))
    assert training_data(info).describe() == (
        "training dataset loans/1 (input of the training run); also recorded: extra/1"
    )
    assert training_data(_info(("t/1", "training"))).describe() == (
        "training dataset t/1 (role 'training')"
    )
    assert training_data(_info()).describe() == "no training dataset recorded"
    assert holdout_datasets(info) == ["loans/2"]


@pytest.fixture
def registered(sqlite_yard, credit_frame, small_model):
    """The README's registration: a run with inputs=[train] (no role), example=x.head(5)."""
    train = sqlite_yard.datasets.register("loans-train", credit_frame)
    x, _ = split_xy(credit_frame)
    with sqlite_yard.start_run(experiment="credit", inputs=[train]) as run:
        run.log_params({"c": 1.0})
    version = sqlite_yard.models.register(
        "credit", small_model, run=run, example=x.head(5), target=TARGET
    )
    return sqlite_yard, version


def test_validate_measures_score_psi_against_the_runs_input(registered, credit_frame) -> None:
    yard, version = registered
    holdout = synthetic.generate(1_500, seed=6, scenario="new_category")
    outcome = yard.models.validate(version.ref, holdout)
    assert outcome.reference == "training dataset loans-train/1 (input of the training run)"
    assert outcome.metrics["n_reference_rows"] == len(credit_frame)
    assert 0 <= outcome.metrics["psi_scores"] < 0.25
    assert "reference: training dataset loans-train/1" in outcome.report_path.read_text()


class Refusing:
    """A loaded version whose input checks refuse out-of-domain values (serving's
    "reject" policy): ``scoring`` must score them all the same."""

    def __init__(self, loaded) -> None:
        self.loaded, self.signature = loaded, loaded.signature

    def predict_proba(self, frame: pd.DataFrame, *, validate: bool = True) -> np.ndarray:
        if validate:
            raise InvalidInput(
                "input does not match the model's signature (2 problems)",
                details=[
                    {"column": "loan_purpose", "problem": "unseen categories", "values": ["x"]},
                    {"column": "age", "problem": "null in a non-nullable column (1 row)"},
                ],
            )
        return self.loaded.predict_proba(frame, validate=False)


def test_lenient_scoring_scores_unseen_categories(registered, small_model) -> None:
    yard, version = registered
    loaded = yard.models.load(version.ref)
    frame = split_xy(synthetic.generate(50, seed=8))[0]
    frame.loc[:9, "loan_purpose"] = "crypto_investment"  # not among the example's 5 rows
    native = small_model.predict_proba(frame)
    np.testing.assert_allclose(scoring.predict_proba(loaded, frame), native, rtol=0, atol=1e-12)
    refusing = Refusing(loaded)
    np.testing.assert_allclose(scoring.predict_proba(refusing, frame), native, rtol=0, atol=1e-12)


def test_lenient_scoring_still_refuses_a_broken_contract(registered) -> None:
    yard, version = registered
    loaded = yard.models.load(version.ref)
    frame = split_xy(synthetic.generate(20, seed=8))[0]
    wrong = frame.assign(income="a lot")
    with pytest.raises(InvalidInput, match="income: wrong type"):
        scoring.predict_proba(loaded, wrong)
    with pytest.raises(InvalidInput, match="missing column"):
        scoring.predict_proba(loaded, frame.drop(columns=["age"]))


def test_lenient_scoring_names_a_null_the_model_cannot_take(registered) -> None:
    yard, version = registered
    loaded = yard.models.load(version.ref)
    frame = split_xy(synthetic.generate(20, seed=8))[0]
    frame.loc[0, "income"] = np.nan  # StandardScaler passes NaN; LogisticRegression cannot
    with pytest.raises(InvalidInput, match="cannot score values outside its training domain"):
        scoring.predict_proba(loaded, frame)


def test_lenient_scoring_maps_unseen_values_of_a_categorical_column_to_missing() -> None:
    from modelyard.flavors.signature import Signature

    class Loaded:  # the LoadedModel calls scoring uses, over a model that reads codes
        signature = Signature.infer(pd.DataFrame({"c": pd.Categorical(["a", "b"])}))
        seen: list[pd.DataFrame] = []

        def predict_proba(self, frame: pd.DataFrame, *, validate: bool = True) -> np.ndarray:
            if validate:
                frame = self.signature.enforce(frame)
            self.seen.append(frame)
            codes = frame["c"].cat.codes.to_numpy().astype(float)
            return np.column_stack([1 - codes / 10, codes / 10])

    loaded = Loaded()
    frame = pd.DataFrame({"c": ["a", "z", None]})
    scoring.predict_proba(loaded, frame)
    scored = loaded.seen[-1]["c"]
    assert scored.iloc[0] == "a" and pd.isna(scored).tolist() == [False, True, True]
