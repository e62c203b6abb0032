"""``yard.monitors`` end to end: references, windows of the prediction log, quality faults,
labels (feedback, a target column, a labels file), stored results, the report, alerts
reaching a real webhook once per cooldown, Prometheus gauges and permissions."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import monitor_helpers
import numpy as np
import pandas as pd
import pytest
from monitor_helpers import (
    START,
    T0,
    Clock,
    feedback_table,
    free_port,
    log_table,
    register_version,
    write_feedback,
    write_log,
)
from prometheus_client import generate_latest

import modelyard
from modelyard.data import synthetic
from modelyard.data.synthetic import FEATURES, TARGET
from modelyard.errors import InvalidInput, NotFound, PermissionDenied
from modelyard.monitoring.profiles import PROFILE_FILE
from modelyard.monitoring.prometheus import registry_for, serve_metrics

train_frame = monitor_helpers.train_frame
holdout_frame = monitor_helpers.holdout_frame
credit_model = monitor_helpers.credit_model
receiver = monitor_helpers.receiver

DAY_ROWS = 1_500
# The module's yard is shared: keep its tests on one xdist worker, in order.
pytestmark = pytest.mark.xdist_group("monitoring-service")


@pytest.fixture(scope="module")
def myard(tmp_path_factory, credit_model, train_frame, holdout_frame):
    """A SQLite yard with credit-risk/1 registered (training and holdout datasets)."""
    root = tmp_path_factory.mktemp("monitor-yard")
    y = modelyard.connect(
        f"sqlite:///{root / 'yard.db'}",
        artifact_root=str(root / "artifacts"),
        user="alice",
        home=str(root / "home"),
    )
    register_version(y, credit_model, train_frame, holdout_frame)
    yield y
    y.close()


@pytest.fixture(scope="module")
def monitored(myard, credit_model):
    """Three days of served traffic (day 1 undrifted, days 2-3 income_shift), outcomes
    as feedback a day later, monitored one day at a time."""
    root = myard.settings.resolved_artifact_root
    for day, scenario in enumerate(["none", "income_shift", "income_shift"]):
        frame = synthetic.generate(DAY_ROWS, seed=500 + day, scenario=scenario)
        scores = credit_model.predict_proba(frame[list(FEATURES)])[:, 1]
        start = START + timedelta(days=day)
        log = log_table(frame, scores, model="credit-risk", version=1, start=start, seconds=50)
        write_log(root, log)
        later = start + timedelta(days=1)
        fb = feedback_table(log, frame[TARGET], later)
        write_feedback(root, "credit-risk", fb, later.date().isoformat())
    return myard.monitors.backfill(
        "credit-risk/1", since="2026-03-01", until="2026-03-04", step="1d", rules=False
    )


def test_reference_built_on_demand_and_stored_with_the_version(
    yard, credit_model, train_frame, holdout_frame
) -> None:
    version = register_version(yard, credit_model, train_frame, holdout_frame)
    ref = yard.monitors.reference(version.ref)
    assert ref.source == {"kind": "dataset", "ref": "credit-risk-train/1", "role": "training",
                          "description": "training dataset credit-risk-train/1 (role 'training')",
                          "rows": len(train_frame)}  # fmt: skip
    assert ref.warning is None
    assert ref.features == list(FEATURES) and ref.target == TARGET and ref.threshold == 0.5
    assert ref.profile.rows == len(train_frame) and set(ref.profile.columns) == set(FEATURES)
    assert ref.score_quantiles is not None and ref.score_quantiles.size == 1001
    assert ref.calibration.method == "platt" and ref.calibration.source == "credit-risk-holdout/1"
    assert ref.baseline["source"] == "holdout credit-risk-holdout/1"
    assert 0.65 < ref.baseline["metrics"]["auc"] < 0.85
    record = yard.models.get(version.ref).artifact(PROFILE_FILE)
    assert record.kind == "reference" and record.digest == ref.digest
    assert yard.monitors.reference(version.ref).digest == ref.digest  # stored, not rebuilt
    assert yard.audit.events(action="version.attach")[0].payload["name"] == PROFILE_FILE
    # no datasets: the input example, identity calibration, no baseline
    bare = yard.models.register("bare", credit_model, example=train_frame[list(FEATURES)])
    fallback = yard.monitors.reference(bare.ref)
    assert fallback.source["kind"] == "input_example" and fallback.profile.rows == 1000
    assert fallback.calibration.method == "identity" and fallback.baseline == {}


def test_income_shift_traffic_flags_income_and_debt_to_income_only(myard, monitored) -> None:
    assert [r.window.label() for r in monitored] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert [sorted(r.drifted_features()) for r in monitored] == [
        [],
        ["debt_to_income", "income"],
        ["debt_to_income", "income"],
    ]
    for r in monitored:
        assert r.rows == DAY_ROWS and r.source["endpoints"] == ["credit-risk"]
        assert r.quality.passed, r.quality.errors()
        assert r.performance["labels"]["labelled"] == DAY_ROWS  # feedback joined by request
        assert abs(r.performance["metrics"]["auc"] - r.estimated["metrics"]["auc"]) < 0.05
    stored = myard.monitors.results("credit-risk/1")
    assert len(stored) == 3 * 4
    drift = myard.monitors.results("credit-risk/1", kind="drift")
    assert [r.window_start for r in drift] == [T0 + d * 86_400_000 for d in (2, 1, 0)]
    assert drift[0].summary["drifted_features"] == ["income", "debt_to_income"]
    assert {f["feature"]: f["statistic"] for f in drift[0].summary["features"]}["region"] == (
        "js_distance"
    )
    detail = myard.monitors.detail(drift[0])
    assert detail["histograms"]["income"]["kind"] == "numeric"
    assert sum(detail["histograms"]["income"]["current"]) == pytest.approx(1.0)


def test_a_window_run_again_replaces_its_results(myard, monitored) -> None:
    again = myard.monitors.run("credit-risk/1", since="2026-03-02", window="1d", rules=False)
    assert again.result_ids["drift"] not in {r.result_ids["drift"] for r in monitored}
    assert len(myard.monitors.results("credit-risk/1", kind="drift")) == 3
    assert len(myard.monitors.results(model="credit-risk", since="2026-03-02")) == 2 * 4


def test_windows_without_rows_say_where_they_looked(myard, monitored) -> None:
    with pytest.raises(
        NotFound, match=r"no rows of credit-risk/1 in endpoint\(s\) credit-risk.*file_interval_s"
    ):
        myard.monitors.run("credit-risk/1", since="2026-02-01", window="1d")
    with pytest.raises(InvalidInput, match="not both"):
        myard.monitors.run("credit-risk/1", window="1d", since="2026-03-01", until="2026-03-02")


def test_quality_faults_are_caught_in_a_run(myard) -> None:
    unit = myard.monitors.run(
        "credit-risk/1", data=synthetic.generate(4_000, seed=9, scenario="unit_change"),
        rules=False, store=False,
    )  # fmt: skip
    assert "unit_change" in {i.check for i in unit.quality.find(column="income")}
    assert unit.summaries["quality"]["errors"] >= 1
    assert unit.quality.errors() and all(i.column == "income" for i in unit.quality.errors())
    new = myard.monitors.run(
        "credit-risk/1", data=synthetic.generate(4_000, seed=9, scenario="new_category"),
        rules=False, store=False,
    )  # fmt: skip
    (unseen,) = new.quality.find(check="unseen_category")
    assert unseen.column == "loan_purpose" and unseen.severity == "error"
    assert "crypto_investment" in unseen.message
    assert new.drifted_features() == ["loan_purpose"]
    # the model scores the unseen purpose (flagged, not refused), so the batch is estimated
    assert new.estimated is not None and new.estimated["rows"] == 4_000
    assert new.score is not None and new.score.n_current == 4_000
    (purpose,) = [f for f in new.summaries["drift"]["features"] if f["feature"] == "loan_purpose"]
    assert purpose["unseen_share"] == pytest.approx(unseen.value) and purpose["unseen_share"] > 0
    assert "crypto_investment" in purpose["unseen"]
    assert unseen.count == round(unseen.value * unseen.rows) and unseen.rows == 4_000


def test_labels_from_a_column_or_a_file(myard, tmp_path) -> None:
    frame = synthetic.generate(3_000, seed=12)
    with_target = myard.monitors.run("credit-risk/1", data=frame, rules=False, store=False)
    assert with_target.performance["labels"]["source"] == "target column of the data"
    path = tmp_path / "batch.parquet"
    frame.drop(columns=[TARGET]).to_parquet(path)
    labels = tmp_path / "labels.csv"
    frame[["application_id", TARGET]].head(2_000).to_csv(labels, index=False)
    joined = myard.monitors.run(
        "credit-risk/1", data=str(path), labels=str(labels), id_column="application_id",
        rules=False, store=False,
    )  # fmt: skip
    assert joined.performance["labels"]["labelled"] == 2_000
    assert joined.performance["coverage"] == pytest.approx(2 / 3)
    assert joined.performance["rows"] == 2_000
    with pytest.raises(InvalidInput, match="got 'nope'"):
        myard.monitors.run("credit-risk/1", data=str(path), labels=str(labels), id_column="nope",
                           rules=False, store=False)  # fmt: skip


def test_degrading_labels_alert_the_webhook_once_per_cooldown(
    yard, receiver, credit_model, train_frame, holdout_frame
) -> None:
    version = register_version(yard, credit_model, train_frame, holdout_frame)
    clock = Clock()
    yard.monitors.clock = clock
    rules = f"""
defaults:
  webhook: {receiver.url}
  cooldown: 6h
rules:
  - name: calibration
    check: performance.calibration_error_drop
    threshold: 0.03
    severity: critical
  - name: auc-drop
    check: performance.auc_drop
    threshold: 0.05
    severity: critical
"""
    drifted = synthetic.generate(6_000, seed=77, scenario="concept_drift")
    seen = []
    for hours in (0, 1, 2, 3, 7):  # hourly checks, then one after the cooldown
        clock.ms = T0 + hours * 3_600_000
        result = yard.monitors.run(version.ref, data=drifted, window="1h", rules=rules)
        seen.append(len(receiver.bodies))
        events = {e.outcome.rule.name: e for e in result.alerts}
        assert events["calibration"].outcome.fired and not events["auc-drop"].outcome.fired
    assert seen == [1, 1, 1, 1, 2]
    body = receiver.bodies[0]
    assert body["rule"] == "calibration" and body["severity"] == "critical"
    assert body["kind"] == "performance" and body["model_name"] == "credit-risk"
    assert body["payload"]["value"] > 0.03 and body["payload"]["window"]
    assert [(a.status, a.count) for a in yard.monitors.alerts(version.ref)] == [
        ("firing", 1),
        ("expired", 4),
    ]
    assert len(yard.monitors.results(version.ref, kind="performance")) == 5


def test_report_is_self_contained_html_and_json(myard, monitored, tmp_path) -> None:
    path = myard.monitors.report("credit-risk/1", tmp_path / "out")
    assert path == tmp_path / "out" / "monitoring.html"
    html = path.read_text()
    assert not re.search(r"""src=["']?https?:""", html)
    assert not re.search(r"""<link[^>]+href=["']?https?:""", html)
    assert html.count("<script") >= 2 and "Plotly.newPlot" in html
    for section in ("features", "trends", "quality", "performance", "scores", "alerts"):
        assert f'id="{section}"' in html
    for chart in ("hist-0", "drift-trend", "drift-heatmap", "perf-auc", "score-hist"):
        assert f'id="{chart}"' in html
    assert "no concept drift" in html
    body = json.loads((tmp_path / "out" / "monitoring.json").read_text())
    assert body["format"] == "modelyard.monitoring.report/1" and body["ref"] == "credit-risk/1"
    assert [w["label"] for w in body["windows"]][:3] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert body["windows"][1]["drift"]["drifted_features"] == ["income", "debt_to_income"]
    assert {"performance", "estimated"} <= set(body["windows"][0])
    assert body["latest"]["histograms"] and body["reference"]["calibration"]["method"] == "platt"


def test_prometheus_gauges_of_the_latest_results(myard, monitored) -> None:
    myard.monitors.run(
        "credit-risk/1", since="2026-03-03", window="1d",
        rules=[{"name": "drift", "check": "drift.count", "threshold": 0}],
    )  # fmt: skip
    text = generate_latest(registry_for(myard.store)).decode()
    assert re.search(
        r'modelyard_monitor_drift_score\{feature="income",model="credit-risk",'
        r'model_version="1",statistic="wasserstein_norm"\} 0\.[1-9]',
        text,
    )
    assert 'modelyard_monitor_feature_drifted{feature="income",model="credit-risk",' in text
    assert re.search(r'modelyard_monitor_performance\{kind="estimated",metric="auc"', text)
    assert re.search(r'modelyard_monitor_performance\{kind="realised",metric="auc"', text)
    assert 'modelyard_monitor_alerts{kind="drift",model="credit-risk",model_version="1"} 1.0' in (
        text
    )
    assert "modelyard_monitor_last_run_timestamp_seconds{" in text
    port = free_port()
    server = serve_metrics(myard.store, port, addr="127.0.0.1", models=["credit-risk"])
    try:
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        server.shutdown()
        server.server_close()
    assert "modelyard_monitor_drift_share" in scraped
    # the names the generated dashboards and alert rules read (modelyard.deploy)
    from modelyard.deploy.alerts import MONITORING_METRICS

    exported = set(re.findall(r"^(modelyard_monitor_\w+)\{", scraped, flags=re.M))
    assert set(MONITORING_METRICS) <= exported


def test_only_writers_record_results(yard, credit_model, train_frame) -> None:
    version = register_version(yard, credit_model, train_frame, None)
    admin = yard.with_token(yard.users.bootstrap("alice").secret)
    admin.users.add("victor", ["viewer"])
    frame = synthetic.generate(1_000, seed=4)
    admin.monitors.run(version.ref, data=frame, rules=False)
    viewer = modelyard.connect(
        yard.settings.resolved_store_url,
        artifact_root=yard.settings.resolved_artifact_root,
        token=admin.tokens.create("victor", expires_in="1h").secret,
    )
    try:
        with pytest.raises(PermissionDenied, match="record monitoring results"):
            viewer.monitors.run(version.ref, data=frame, rules=False)
        assert {r.kind for r in viewer.monitors.results(version.ref)} == {
            "drift",
            "quality",
            "estimated",
            "performance",
        }
        assert viewer.monitors.alerts() == []
    finally:
        viewer.close()


def test_scores_in_the_data_are_used_as_logged(myard, credit_model) -> None:
    frame = synthetic.generate(2_000, seed=21)
    scored = frame.assign(_score=np.full(len(frame), 0.5))
    result = myard.monitors.run("credit-risk/1", data=scored, rules=False, store=False)
    assert result.estimated["metrics"]["positive_rate"] == pytest.approx(
        float(np.mean(_calibrated(myard, 0.5))), abs=1e-9
    )
    assert result.score.drifted  # a constant score is far from the reference's


def _calibrated(myard, p: float) -> np.ndarray:
    ref = myard.monitors.reference("credit-risk/1")
    return ref.calibration.apply(np.array([p]))


def test_the_ui_dashboard_reads_these_results(myard, monitored) -> None:
    from modelyard.server.ui import monitoring

    board = monitoring.dashboard(myard, "credit-risk")
    assert board["enabled"] and board["heatmap"] and board["trend"]
    assert pd.Series([r["kind"] for r in board["results"]]).nunique() == 4


def test_report_of_a_version_registered_without_a_holdout(
    tmp_path, credit_model, train_frame
) -> None:
    """The README's path: a model registered from a notebook with only an input example."""
    with modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}", artifact_root=str(tmp_path / "a"), user="alice"
    ) as yard:
        x = train_frame[list(FEATURES)]
        yard.models.register("plain", credit_model, example=x.head(50), target=TARGET)
        yard.monitors.run("plain/1", data=synthetic.generate(3_000, seed=4), rules=False)
        html = yard.monitors.report("plain/1", tmp_path / "out").read_text()
    assert "Baseline: none" in html
