"""The quickstart's lifecycle stages: train to champion, alert-triggered retrain, decision."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pipelines_helpers import SMALL
from rich.console import Console

from modelyard.data import synthetic
from modelyard.demo import lifecycle_step
from modelyard.demo.credit_models import split_xy
from modelyard.demo.people import enrol
from modelyard.errors import InvalidInput


def test_train_retrain_on_alert_and_promote(pyard) -> None:
    console = Console(record=True, width=160)
    small = {k: v for k, v in SMALL.items() if k != "rows"}
    people = enrol(pyard, console)
    pyard = people.yard  # alice, the store's first admin, with her token

    trained = lifecycle_step.run_training_pipeline(people, console, rows=SMALL["rows"], **small)

    assert trained["ok"] and trained["version"] == "credit-risk/1"
    assert trained["alias"] == "champion" and trained["metrics"]["auc"] > 0.6
    assert set(trained["reports"]) == {"validation report", "model card"}
    assert any(
        "non_inferior.auc: no champion yet: nothing to compare" in g for g in trained["gates"]
    )
    assert pyard.models.get("credit-risk@champion").state == "deployed"

    alert = {"id": 101, "model_name": "credit-risk", "rule": "drift"}
    retrained = lifecycle_step.run_retraining(
        people, console, alert=alert, rows=SMALL["rows"], seed=7, **small
    )

    assert retrained["ok"], retrained["error"]
    assert retrained["reason"] == "alert:101"
    assert retrained["version"] == "credit-risk/2" and retrained["alias"] == "challenger"
    assert any("champion credit-risk/1" in g for g in retrained["gates"])
    spec = retrained["routes"]["spec"]
    assert [(r["name"], r["weight"]) for r in spec["routes"]] == [
        ("champion", 90.0),
        ("challenger", 10.0),
    ]

    traffic = synthetic.generate(4_000, seed=99, scenario="concept_drift", start_date="2026-05-01")
    x, y = split_xy(traffic)
    arm = np.where(np.arange(len(x)) % 2 == 0, "champion", "challenger")
    champion = pyard.models.load("credit-risk@champion").predict_proba(x)[:, 1]
    challenger = pyard.models.load("credit-risk@challenger").predict_proba(x)[:, 1]
    labelled = pd.DataFrame(
        {"arm": arm, "score": np.where(arm == "champion", champion, challenger), "label": y}
    )
    decision = lifecycle_step.decide_promotion(pyard, console, labelled)

    assert decision["decision"] == "promote", decision["reason"]
    assert pyard.models.get("credit-risk@champion").version == 2
    text = console.export_text()
    assert "credit-risk/2 is now credit-risk@challenger" in text
    assert "decision: promote" in text and "alert:101" in text
    # The people signed, visibly, with their own tokens; the pipeline did not.
    assert "signing off credit-risk/1 as validator 'vera' with their token" in text
    assert "signing off credit-risk/2 as approver 'aaron' with their token" in text
    signers = {(a.user, a.role) for a in pyard.models.get("credit-risk/2").approvals}
    assert signers == {("vera", "validator"), ("aaron", "approver")}

    # The same alert again (the quickstart run a second time on this store): the
    # trigger starts nothing for an alert it handled, so the demo retrains anyway,
    # and says why in words.
    again = lifecycle_step.run_retraining(
        people, console, alert=alert, rows=SMALL["rows"], seed=7, **small
    )
    assert again["reason"] == "quickstart: alert 101 (drift on credit-risk) still firing"
    assert again["run_id"] != retrained["run_id"]
    text = console.export_text()
    assert "alert 101 (drift on credit-risk) already started a retraining and still fires" in text

    # An alert no pipeline listens to is refused, named in words, not as a raw record.
    stray = {"id": 7, "model_name": "fraud", "model_version": 3, "rule": "auc-drop"}
    with pytest.raises(InvalidInput) as refused:
        lifecycle_step.run_retraining(people, console, alert=stray)
    message = refused.value.message
    assert message.startswith("no retraining pipeline listens to alert 7 (auc-drop on fraud/3)")
    assert "--on-alert fraud" in message and "{" not in message
