"""Monitoring the months after the regime change, for the four realistic pipelines
registered as the README does (``inputs=[train]``, ``example=x.head(5)``), through the
real CLI: the reference is the training dataset (and says so), drift shows the share of
values training never had, quality reports the new nulls with their size, a window of
one logged row is "insufficient data" and raises no alert, and an estimate calibrated
on a 100-row holdout says it is uncalibrated and why."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest
from realistic_pipelines import PIPELINES, split_xy
from registered_oot import TRAIN, cli, connect, model_name, register_all

from modelyard.data.out_of_time import FEATURES, LATE_CATEGORIES
from modelyard.serving.predlog import META_COLUMNS, ParquetSink

pytestmark = pytest.mark.xdist_group("realistic-monitor")

LATE_CATEGORICALS = ("application_month", "channel", "postcode_area", "branch_code")


@pytest.fixture(scope="module")
def site(tmp_path_factory, fitted_pipelines, early, late):
    """A yard on disk with the four versions, and the late part, one late row and a
    100-row holdout as Parquet files for the CLI."""
    root = tmp_path_factory.mktemp("oot-monitor")
    yard = connect(root)
    refs = register_all(yard, fitted_pipelines, early)
    files = {"late": root / "late.parquet", "holdout": root / "holdout-100.parquet"}
    late.to_parquet(files["late"], index=False)
    early.tail(100).to_parquet(files["holdout"], index=False)
    yield root, yard, refs, files
    yard.close()


def _log_one_row(root, yard, ref: str, row, scores: np.ndarray, at: datetime) -> None:
    """One prediction of ``ref`` in the serving log's layout, at ``at``."""
    info = yard.models.get(ref)
    table = pa.Table.from_pandas(row[list(FEATURES)], preserve_index=False)
    meta = {
        "_request_id": pa.array([uuid.uuid4().hex], pa.string()),
        "_row": pa.array([0], pa.int64()),
        "_ts": pa.array([at], pa.timestamp("ms", tz="UTC")),
        "_endpoint": pa.array([info.name], pa.string()),
        "_route": pa.array(["latest"], pa.string()),
        "_shadow": pa.array([False], pa.bool_()),
        "_model": pa.array([info.name], pa.string()),
        "_version": pa.array([info.version], pa.int64()),
        "_latency_ms": pa.array([1.0], pa.float64()),
        "_score": pa.array(scores.astype(np.float64), pa.float64()),
        "_label": pa.array(["1" if scores[0] >= 0.5 else "0"], pa.string()),
        "_entity": pa.array([None], pa.string()),
    }
    for name in META_COLUMNS:  # columns this test does not know (e.g. _warnings) are null
        table = table.append_column(name, meta.get(name, pa.nulls(1, pa.string())))
    ParquetSink(yard.settings.resolved_artifact_root).write(
        "predictions", info.name, at.date().isoformat(), table
    )


@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_reference_is_the_training_data_and_late_traffic_is_monitored(
    site, pipeline, early, late
) -> None:
    root, yard, refs, files = site
    ref = refs[pipeline]

    done = cli(root, "monitor", "reference", ref)
    assert done.returncode == 0, done.stderr[-3000:]
    said = f"Reference of {ref}: training dataset {TRAIN} (input of the training run), "
    assert said + f"{len(early):,} rows" in done.stdout
    assert "warning" not in done.stderr

    done = cli(root, "monitor", "run", ref, "--data", str(files["late"]), "--no-alerts")
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert f"{len(late):,} rows" in out and f"reference: training dataset {TRAIN}" in out
    assert "unseen categories (share of values):" in out
    assert "nulls employment_years:" in out and "in a column that had none" in out
    assert "insufficient data" not in out

    (drift,) = yard.monitors.results(ref, kind="drift")
    features = {f["feature"]: f for f in drift.summary["features"]}
    for column in LATE_CATEGORICALS:
        assert features[column]["unseen_share"] > 0, column
        assert features[column]["rows"] == len(late)
    assert features["application_month"]["unseen_share"] == 1.0  # every late month is new
    assert features["channel"]["unseen_share"] == pytest.approx(
        LATE_CATEGORIES["channel"], abs=0.03
    )
    assert features["channel"]["unseen"] == {"app": features["channel"]["unseen_share"]}
    assert drift.summary["verdict"] == "drift" and drift.summary["min_rows"] == 500

    (quality,) = yard.monitors.results(ref, kind="quality")
    nulls = [i for i in quality.summary["issues"] if i["check"] == "nulls"]
    (employment,) = [i for i in nulls if i["column"] == "employment_years"]
    expected = int(late["employment_years"].isna().sum())
    assert employment["count"] == expected and employment["rows"] == len(late)
    assert f"{expected:,} of {len(late):,} rows" in employment["message"]
    unseen = {i["column"]: i for i in quality.summary["issues"] if i["check"] == "unseen_category"}
    assert set(LATE_CATEGORICALS) <= set(unseen)
    assert unseen["channel"]["count"] == int((late["channel"] == "app").sum())

    (estimated,) = yard.monitors.results(ref, kind="estimated")
    assert estimated.summary["rows"] == len(late) and estimated.summary["verdict"] == "measured"
    native = yard.models.load(ref).native
    scores = native.predict_proba(split_xy(late)[0])[:, 1]
    assert estimated.summary["metrics"]["mean_score"] == pytest.approx(scores.mean(), rel=1e-9)


def test_a_window_of_one_logged_row_is_insufficient_data_and_raises_no_alert(
    site, late, fitted_pipelines
) -> None:
    root, yard, refs, _ = site
    pipeline = "ordinal_lightgbm"
    ref = refs[pipeline]
    row = late[late["channel"] == "app"].head(1)
    scores = fitted_pipelines[pipeline].predict_proba(split_xy(row)[0])[:, 1]
    at = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
    _log_one_row(root, yard, ref, row, scores, at)

    done = cli(
        root, "monitor", "run", ref, "--endpoint", model_name(pipeline),
        "--since", "2026-11-03", "--until", "2026-11-04",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert f"{ref} · 2026-11-03 · 1 rows (log of {model_name(pipeline)})" in out
    assert "drift: insufficient data (1 rows in the window, 500 needed)" in out
    assert "quality: insufficient data (1 rows, 500 needed)" in out
    assert "ALERT" not in out
    assert yard.monitors.alerts(ref) == []

    done = cli(root, "monitor", "results", ref, "--json")
    stored = {r["kind"]: r["summary"] for r in json.loads(done.stdout)}
    for kind in ("drift", "quality", "estimated"):
        assert stored[kind]["verdict"] == "insufficient data", kind
        assert stored[kind]["rows"] == 1 and stored[kind]["min_rows"] == 500
    assert stored["drift"]["drifted_features"] == []
    # the facts are still shown: the unseen channel, at its size
    channel = next(f for f in stored["drift"]["features"] if f["feature"] == "channel")
    assert channel["unseen"] == {"app": 1.0} and channel["verdict"] == "insufficient data"


def test_an_estimate_calibrated_on_100_rows_says_it_is_uncalibrated(site, late) -> None:
    root, yard, refs, files = site
    ref = refs["onehot_logistic"]
    holdout = str(files["holdout"])
    done = cli(root, "monitor", "reference", ref, "--rebuild", "--holdout", holdout)
    assert done.returncode == 0, done.stderr[-3000:]
    why = f"uncalibrated: holdout {holdout} has 100 rows, calibration needs 200"
    assert why in done.stdout.replace("\n", "")  # the table may wrap a long path

    done = cli(root, "monitor", "reference", ref, "--json")
    calibration = json.loads(done.stdout)["calibration"]
    assert calibration["calibrated"] is False and calibration["rows"] == 100
    assert calibration["reason"] == f"holdout {holdout} has 100 rows, calibration needs 200"

    result = yard.monitors.run(ref, data=late, rules=False)
    assert result.estimated["calibrated"] is False
    assert result.estimated["calibration"]["reason"] == calibration["reason"]
    assert any(why in note for note in result.notes)
    assert any(why in line for line in result.describe())
    report = yard.monitors.report(ref)
    assert why in report.read_text()
