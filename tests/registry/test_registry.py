"""Models, versions, references, aliases, lineage and safe loading."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.data.synthetic import FEATURES
from modelyard.errors import Conflict, InvalidInput, NotFound


def _register(yard, model, frame, name="credit-risk", **kw):
    return yard.models.register(name, model, example=frame[list(FEATURES)].head(200), **kw)


def test_create_model_and_defaults(as_user) -> None:
    yard = as_user("alice")
    info = yard.models.create("credit-risk", description="PD model", risk_tier=1)
    assert (info.owner, info.risk_tier, info.latest_version) == ("alice", 1, None)
    with pytest.raises(Conflict, match="exists already"):
        yard.models.create("credit-risk")
    with pytest.raises(InvalidInput, match="risk_tier"):
        yard.models.create("other", risk_tier=5)
    with pytest.raises(InvalidInput, match="model name"):
        yard.models.create("no spaces allowed")


def test_register_from_run_links_metrics_and_datasets(as_user, small_model, credit_frame) -> None:
    yard = as_user("alice")
    train = yard.datasets.register("loans-train", credit_frame)
    with yard.start_run(experiment="credit", inputs=[train]) as run:
        run.log_metrics({"auc": 0.74, "ks": 0.36})
        version = _register(yard, small_model, credit_frame, run=run, metrics={"holdout_auc": 0.73})
    assert version.version == 1 and version.state == "registered"
    assert version.run_id == run.id
    assert version.metrics["training"] == {"auc": 0.74, "ks": 0.36}
    assert version.metrics["evaluation"] == {"holdout_auc": 0.73}
    assert version.datasets == (("loans-train/1", "input"),)
    assert version.flavor == "sklearn" and version.task == "classification"
    assert version.created_by == "alice"
    second = _register(yard, small_model, credit_frame)
    assert second.version == 2
    assert yard.models.get("credit-risk@latest").version == 2
    assert yard.models.get("credit-risk/1").run_id == run.id
    assert yard.models.get_model("credit-risk").risk_tier == 1  # created on first register


def test_references_and_clear_not_found(as_user, small_model, credit_frame) -> None:
    yard = as_user("alice")
    _register(yard, small_model, credit_frame)
    with pytest.raises(NotFound, match="no version 7 of model 'credit-risk'"):
        yard.models.get("credit-risk/7")
    with pytest.raises(NotFound, match="no alias 'staging'"):
        yard.models.get("credit-risk@staging")
    with pytest.raises(NotFound, match="no model 'fraud'"):
        yard.models.get("fraud@champion")
    with pytest.raises(InvalidInput, match="must be a number"):
        yard.models.get("credit-risk/x")


def test_unprotected_aliases_set_move_delete(as_user, small_model, credit_frame) -> None:
    yard = as_user("alice")
    _register(yard, small_model, credit_frame)
    _register(yard, small_model, credit_frame)
    yard.models.set_alias("credit-risk", "challenger", 1)
    assert yard.models.get("credit-risk@challenger").version == 1
    yard.models.set_alias("credit-risk", "challenger", 2)
    assert yard.models.get("credit-risk@challenger").version == 2
    assert yard.models.get_model("credit-risk").aliases == {"challenger": 2}
    yard.models.delete_alias("credit-risk", "challenger")
    with pytest.raises(NotFound):
        yard.models.get("credit-risk@challenger")
    with pytest.raises(InvalidInput, match="reserved"):
        yard.models.set_alias("credit-risk", "latest", 1)
    with pytest.raises(InvalidInput, match="alias"):
        yard.models.set_alias("credit-risk", "9lives", 1)


def test_load_round_trip_and_example(as_user, small_model, credit_frame) -> None:
    yard = as_user("alice")
    version = _register(yard, small_model, credit_frame)
    loaded = yard.models.load(version.ref)
    x = credit_frame[list(FEATURES)].head(50)
    assert np.array_equal(loaded.predict_proba(x), small_model.predict_proba(x))
    example = yard.models.input_example(version)
    assert list(example.columns) == list(FEATURES) and len(example) == 200


def test_lineage_backward_and_forward(as_user, small_model, credit_frame) -> None:
    yard = as_user("alice")
    raw = yard.datasets.register("raw", credit_frame)
    train = yard.datasets.register("train", credit_frame.iloc[:2000], parents=[raw])
    with yard.start_run(inputs=[train]) as run:
        version = _register(yard, small_model, credit_frame, run=run)
    tree = yard.models.lineage(version.ref)
    assert tree["run"]["id"] == run.id
    assert tree["datasets"][0]["ref"] == "train/1"
    assert tree["datasets"][0]["parents"][0]["ref"] == "raw/1"
    forward = yard.models.trained_on("raw/1")
    assert forward["derived_datasets"] == ["train/1"]
    assert [v["ref"] for v in forward["model_versions"]] == ["credit-risk/1"]


def test_archive_blocks_aliases(as_user, small_model, credit_frame) -> None:
    yard = as_user("alice")
    _register(yard, small_model, credit_frame)
    assert yard.models.archive("credit-risk/1").state == "archived"
    with pytest.raises(Conflict, match="archived"):
        yard.models.set_alias("credit-risk", "staging", 1)
