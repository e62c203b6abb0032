"""The demo's monitoring step: drifted traffic through the served champion, then the monitor."""

from __future__ import annotations

import io
import json
from pathlib import Path

import monitor_helpers
from monitor_helpers import register_version
from rich.console import Console

from modelyard.demo.monitoring_step import RETRAIN_RULE, run_monitoring_demo

train_frame = monitor_helpers.train_frame
holdout_frame = monitor_helpers.holdout_frame
credit_model = monitor_helpers.credit_model


def test_drifted_traffic_is_caught_and_reported(
    sqlite_yard, credit_model, train_frame, holdout_frame
) -> None:
    version = register_version(sqlite_yard, credit_model, train_frame, holdout_frame)
    sqlite_yard.models.set_alias("credit-risk", "champion", version.version)
    output = io.StringIO()
    got = run_monitoring_demo(
        sqlite_yard, Console(file=output, width=200), "credit-risk@champion", rows=1_500
    )
    text = output.getvalue()
    assert got["rows"] == 1_500 and got["labelled"] == 1_500
    assert got["drifted_features"] == got["expected_drifted"] == ["income", "debt_to_income"]
    assert got["quality_errors"] == []
    assert abs(got["auc"] - got["estimated_auc"]) < 0.05
    assert got["retrain_rule"] == RETRAIN_RULE
    assert got["retrain_alert"]["rule"] == RETRAIN_RULE
    assert got["retrain_alert"]["action"] == "raised"
    assert got["retrain_alert"]["model_name"] == "credit-risk"
    assert Path(got["report"]).is_file()
    assert json.loads(Path(got["report_json"]).read_text())["ref"] == "credit-risk/1"
    assert "drifted features: income, debt_to_income" in text
    assert f"monitoring report: {got['report']}" in text
    # retraining is left to the caller: the rule names a pipeline but none was started
    assert sqlite_yard.audit.events(action="pipeline.trigger") == []
