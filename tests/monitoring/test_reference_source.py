"""The monitoring reference is the training data, found as the README records it
(``start_run(..., inputs=[train])``), and says where it came from; without training data
it is built from the input example with a printed warning that names the fix; data the
version cannot fully score still gives a reference; a window below ``monitor_min_rows``
raises no alert."""

from __future__ import annotations

import json

import monitor_helpers
import pytest

import modelyard
from modelyard.cli import _context
from modelyard.cli.main import main
from modelyard.data import synthetic
from modelyard.data.synthetic import FEATURES, TARGET
from modelyard.errors import InvalidInput

train_frame = monitor_helpers.train_frame
credit_model = monitor_helpers.credit_model


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELYARD_USER", "alice")
    monkeypatch.setenv("COLUMNS", "240")

    def run(*args: str) -> tuple[int, str, str]:
        _context.yard.cache_clear()
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run
    _context.yard.cache_clear()


def _readme_registration(yard, model, train) -> str:
    data = yard.datasets.register("loans-train", train)
    with yard.start_run(experiment="credit-risk", inputs=[data]) as run:
        run.log_params({"n_estimators": 60})
    return yard.models.register(
        "credit-risk", model, run=run, example=train[list(FEATURES)].head(5), target=TARGET
    ).ref


def test_after_the_readme_snippet_the_reference_is_the_training_dataset(
    cli, credit_model, train_frame
) -> None:
    with modelyard.connect() as yard:
        ref = _readme_registration(yard, credit_model, train_frame)
    code, out, err = cli("monitor", "reference", ref)
    assert code == 0, err
    assert (
        f"Reference of {ref}: training dataset loans-train/1 (input of the training run), "
        f"{len(train_frame):,} rows"
    ) in out
    assert "warning" not in err
    assert "uncalibrated: no labelled holdout" in out
    code, out, _ = cli("monitor", "reference", ref, "--json")
    body = json.loads(out)
    assert body["source"]["kind"] == "dataset" and body["source"]["role"] == "input"
    assert body["warning"] is None and body["rows"] == len(train_frame)


def test_without_training_data_a_warning_names_what_was_used_and_the_fix(
    cli, credit_model, train_frame
) -> None:
    with modelyard.connect() as yard:
        ref = yard.models.register(
            "credit-risk", credit_model, example=train_frame[list(FEATURES)].head(600)
        ).ref
    code, out, err = cli("monitor", "reference", ref)
    assert code == 0, err
    warning = " ".join(err.split())
    assert "warning: credit-risk/1 records no training dataset" in warning
    assert "the 600-row input example stored with the version" in warning
    assert "(start_run(..., inputs=[train]))" in warning
    assert "'modelyard monitor reference credit-risk/1 --rebuild --data DATASET'" in warning
    assert "the input example stored with the version (600 rows)" in out

    frame = synthetic.generate(1_000, seed=31)
    path = f"{_context.yard().settings.home}/batch.parquet"
    frame.to_parquet(path)
    code, out, err = cli("monitor", "run", ref, "--data", path, "--no-alerts")
    assert code == 0, err
    assert "note: credit-risk/1 records no training dataset" in out

    code, out, err = cli("monitor", "reference", ref, "--rebuild", "--data", path)
    assert code == 0 and "warning" not in err and f"data given ({path})" in out


def test_a_reference_is_built_even_when_its_data_cannot_be_scored(
    credit_model, train_frame, tmp_path
) -> None:
    with modelyard.connect(home=str(tmp_path / "h")) as yard:
        ref = _readme_registration(yard, credit_model, train_frame)
        broken = train_frame.assign(age=train_frame["age"].astype(str))  # a wrong type
        reference = yard.monitors.reference(ref, data=broken)
        assert reference.profile.rows == len(train_frame)
        assert reference.score_quantiles is None
        assert "could not be scored" in reference.source["scores_error"]
        assert "age: wrong type" in reference.source["scores_error"]


def test_a_window_below_the_setting_is_insufficient_data_and_raises_no_alert(
    credit_model, train_frame, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MODELYARD_MONITOR_MIN_ROWS", "5000")
    with modelyard.connect(home=str(tmp_path / "h")) as yard:
        ref = _readme_registration(yard, credit_model, train_frame)
        frame = synthetic.generate(2_000, seed=33, scenario="new_category")
        result = yard.monitors.run(ref, data=frame)
        assert result.drift.verdict == "insufficient data" and result.drift.min_rows == 5_000
        assert result.quality.verdict == "insufficient data"
        assert result.summaries["estimated"]["verdict"] == "insufficient data"
        assert result.raised() == [] and yard.monitors.alerts(ref) == []
        assert any("drift: insufficient data (2,000 rows" in line for line in result.describe())
        judged = yard.monitors.run(ref, data=frame, min_rows=500)
        assert judged.drift.verdict == "drift" and judged.raised()
        with pytest.raises(InvalidInput, match="min_rows"):
            yard.monitors.run(ref, data=frame, min_rows=0)


def test_rows_served_with_out_of_domain_warnings_are_counted(
    credit_model, train_frame, tmp_path
) -> None:
    from monitor_helpers import START, log_table, write_log

    with modelyard.connect(home=str(tmp_path / "h")) as yard:
        ref = _readme_registration(yard, credit_model, train_frame)
        frame = synthetic.generate(800, seed=34, scenario="new_category")
        scores = credit_model.predict_proba(frame[list(FEATURES)])[:, 1]
        unseen = frame["loan_purpose"] == synthetic.NEW_CATEGORY
        warned = [
            '[{"column": "loan_purpose", "kind": "unseen_category"}]' if u else None for u in unseen
        ]
        table = log_table(
            frame, scores, model="credit-risk", version=1, start=START, warnings=warned
        )
        write_log(yard.settings.resolved_artifact_root, table)
        result = yard.monitors.run(ref, since="2026-03-01", until="2026-03-03", rules=False)
        served = result.summaries["quality"]["served_warnings"]
        assert served == {
            "rows": int(unseen.sum()),
            "by_column": {"loan_purpose": {"unseen_category": int(unseen.sum())}},
        }
        assert any(
            line.startswith("  served with out-of-domain warnings: ") for line in result.describe()
        )
