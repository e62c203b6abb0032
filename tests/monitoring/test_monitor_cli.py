"""``modelyard monitor``: run (log window, --step, --data, labels), report, results,
alerts, reference and watch, in-process against a yard in a temp folder."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import monitor_helpers
import pytest
from monitor_helpers import START, log_table, register_version, write_log

from modelyard.cli import _context
from modelyard.cli.main import main
from modelyard.data import synthetic
from modelyard.data.synthetic import FEATURES, TARGET

train_frame = monitor_helpers.train_frame
holdout_frame = monitor_helpers.holdout_frame
credit_model = monitor_helpers.credit_model
receiver = monitor_helpers.receiver


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys, credit_model, train_frame, holdout_frame):
    import modelyard

    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELYARD_USER", "alice")
    monkeypatch.setenv("COLUMNS", "200")
    with modelyard.connect() as y:
        register_version(y, credit_model, train_frame, holdout_frame)
        root = y.settings.resolved_artifact_root
    for day, scenario in enumerate(["none", "income_shift"]):
        frame = synthetic.generate(1_200, seed=900 + day, scenario=scenario)
        scores = credit_model.predict_proba(frame[list(FEATURES)])[:, 1]
        start = START + timedelta(days=day)
        write_log(root, log_table(frame, scores, model="credit-risk", version=1, start=start))

    def run(*args: str) -> tuple[int, str, str]:
        _context.yard.cache_clear()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run
    _context.yard.cache_clear()


def test_run_report_results_alerts(cli, tmp_path, receiver) -> None:
    code, out, err = cli(
        "monitor", "run", "credit-risk@latest", "--since", "2026-03-01", "--until", "2026-03-03",
        "--step", "1d", "--webhook", receiver.url,
    )  # fmt: skip
    assert code == 0, err
    assert "credit-risk/1 · 2026-03-01 · 1,200 rows (log of credit-risk)" in out
    assert "drift: 2 of 14 features drifted: income" in out
    assert "ALERT (warning) feature-drift: drift.count = 2 > 0" in out
    assert len(receiver.bodies) == 1 and receiver.bodies[0]["rule"] == "feature-drift"

    code, out, _ = cli("monitor", "results", "credit-risk/1", "--kind", "drift", "--json")
    assert code == 0
    assert [r["summary"]["drifted_features"] for r in json.loads(out)] == [
        ["income", "debt_to_income"],
        [],
    ]
    code, out, _ = cli("monitor", "alerts", "--json")
    (alert,) = json.loads(out)
    assert alert["rule"] == "feature-drift" and alert["status"] == "firing"
    code, out, _ = cli("monitor", "alerts", "credit-risk/1")
    assert code == 0 and "firing" in out  # a table (its width depends on the terminal)

    code, out, _ = cli("monitor", "report", "credit-risk/1", "-o", str(tmp_path / "r"), "--json")
    paths = json.loads(out)
    assert Path(paths["html"]).is_file() and json.loads(Path(paths["json"]).read_text())
    code, out, _ = cli("monitor", "reference", "credit-risk/1", "--json")
    assert json.loads(out)["calibration"]["method"] == "platt"


def test_run_over_a_batch_with_a_labels_file(cli, tmp_path) -> None:
    frame = synthetic.generate(2_000, seed=31, scenario="unit_change")
    data, labels = tmp_path / "batch.parquet", tmp_path / "labels.parquet"
    frame.drop(columns=[TARGET]).to_parquet(data)
    frame[["application_id", TARGET]].to_parquet(labels)
    code, out, err = cli(
        "monitor", "run", "credit-risk/1", "--data", str(data), "--labels", str(labels),
        "--id-column", "application_id", "--no-alerts", "--json",
    )  # fmt: skip
    assert code == 0, err
    body = json.loads(out)
    assert body["source"]["kind"] == "data" and body["rows"] == 2_000
    checks = {(i["check"], i["column"]) for i in body["summaries"]["quality"]["issues"]}
    assert ("unit_change", "income") in checks
    assert body["summaries"]["performance"]["labels"]["labelled"] == 2_000
    assert body["alerts"] == []


def test_errors_are_one_line_and_a_code(cli) -> None:
    code, _, err = cli("monitor", "run", "credit-risk/1", "--window", "1y")
    assert code == 2 and "positive duration" in err and "Traceback" not in err
    code, _, err = cli("monitor", "run", "credit-risk/1", "--since", "2025-01-01", "-w", "1d")
    assert code == 3 and "no rows of credit-risk/1" in err
    code, _, err = cli("monitor", "run", "credit-risk/1", "--rules", "missing.yaml")
    assert code == 2 and "missing.yaml does not exist" in err
    code, _, err = cli("monitor", "report", "nope/1")
    assert code == 3


def test_watch_survives_empty_windows(cli) -> None:
    # the log is from March; the last hour of now has no rows: each check reports and goes on
    code, _, err = cli("monitor", "watch", "credit-risk/1", "--every", "1s", "--max-runs", "2")
    assert code == 0
    assert err.count("check failed: no rows of credit-risk/1") == 2
