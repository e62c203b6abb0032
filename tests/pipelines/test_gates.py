"""Gates: verdicts with margins, text forms, and a worse candidate stopped in the example."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipelines_helpers import EXAMPLE_REF, SMALL, use_store

import modelyard
from modelyard.demo.people import enrol
from modelyard.errors import InvalidInput
from modelyard.pipelines import run_pipeline
from modelyard.pipelines.gates import (
    Evidence,
    evaluate_gates,
    fairness,
    non_inferior,
    parse_gate,
    quality_pass,
    stability,
    threshold,
)
from modelyard.pipelines.loading import load_pipeline


def test_threshold_reports_by_how_much() -> None:
    passed, failed = evaluate_gates(
        [threshold("auc", ">=", 0.75), threshold("auc", ">=", 0.9)], Evidence({"auc": 0.8})
    )
    assert passed.passed and passed.margin_by == pytest.approx(0.05)
    assert not failed.passed and failed.margin_by == pytest.approx(-0.1)
    assert failed.observed == 0.8 and failed.required == 0.9
    assert "failed by 0.1000" in failed.detail


def test_non_inferiority_against_the_champion_on_the_same_holdout() -> None:
    gate = non_inferior("auc", margin=0.005)
    evidence = Evidence({"auc": 0.74}, candidate="m/2", champion="m/1")
    evidence.champion_metrics = {"auc": 0.76}
    result = gate.evaluate(evidence)
    assert not result.passed
    assert result.required == pytest.approx(0.755)
    assert result.margin_by == pytest.approx(-0.015)
    assert "champion m/1 0.7600 - 0.005" in result.detail and "failed by 0.0150" in result.detail
    evidence.champion_metrics = {"auc": 0.742}
    assert gate.evaluate(evidence).passed  # within the margin
    assert gate.evaluate(Evidence({"auc": 0.5})).passed  # no champion: nothing to compare


def test_lower_is_better_metrics_flip_non_inferiority() -> None:
    gate = non_inferior("brier", margin=0.001)
    assert gate.op == "<=" and gate.describe() == "brier <= champion.brier + 0.001"
    evidence = Evidence({"brier": 0.090}, champion="m/1", champion_metrics={"brier": 0.085})
    result = gate.evaluate(evidence)
    assert not result.passed and result.margin_by == pytest.approx(-0.004)


def test_unmeasured_figures_fail_the_gate() -> None:
    results = evaluate_gates(
        [fairness("approval_rate_ratio", ">=", 0.8), quality_pass()], Evidence({"auc": 0.8})
    )
    assert [r.passed for r in results] == [False, False]
    assert "not measured" in results[0].detail


def test_quality_and_stability_gates() -> None:
    evidence = Evidence({"psi_scores": 0.3}, quality_errors=["range income: 5% outside"])
    quality, stable = evaluate_gates([quality_pass(), stability()], evidence)
    assert not quality.passed and "range income" in quality.detail
    assert not stable.passed and stable.margin_by == pytest.approx(-0.2)


def test_gates_from_text() -> None:
    assert parse_gate("auc >= 0.75") == threshold("auc", ">=", 0.75)
    assert parse_gate("auc >= champion.auc - 0.005") == non_inferior("auc", margin=0.005)
    assert parse_gate("psi_scores <= 0.1").kind == "stability"
    assert parse_gate("approval_rate_ratio >= 0.8").kind == "fairness"
    assert parse_gate("quality") == quality_pass()
    with pytest.raises(InvalidInput, match="METRIC OP NUMBER"):
        parse_gate("auc is good")
    with pytest.raises(InvalidInput, match="loosen"):
        parse_gate("auc >= champion.auc + 0.005")
    with pytest.raises(InvalidInput, match="operator"):
        threshold("auc", "=>", 0.7)


@pytest.fixture(scope="module")
def champion_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A store whose credit-risk champion the example pipeline made (small data)."""
    root = tmp_path_factory.mktemp("champion")
    yard = modelyard.connect(
        f"sqlite:///{root / 'yard.db'}",
        artifact_root=str(root / "artifacts"),
        user="alice",
        home=str(root / "home"),
    )
    try:
        people = enrol(yard)  # alice registers; vera and aaron sign with their tokens
        result = run_pipeline(people.yard, load_pipeline(EXAMPLE_REF), SMALL)
        assert result.ok, result.failure_message()
        people.sign_off("credit-risk/1")
        result = run_pipeline(people.yard, load_pipeline(EXAMPLE_REF), SMALL)
        assert result.output("promote", "alias") == "champion"
    finally:
        yard.close()
    return root


def test_unchanged_example_reruns_no_step(champion_home, cli, monkeypatch) -> None:
    use_store(monkeypatch, champion_home)
    again = cli("pipeline", "run", EXAMPLE_REF, *_args(SMALL), "--json")
    assert again.code == 0, again.err
    steps = again.json()["steps"]
    assert len(steps) == 10 and {s["status"] for s in steps} == {"cached"}
    assert "cache hit: not re-run" in again.err  # the log says so (progress goes to stderr)


def _args(params: dict) -> list[str]:
    return [item for k, v in params.items() for item in ("-p", f"{k}={v}")]


def test_worse_candidate_is_stopped_by_non_inferiority(champion_home, cli, monkeypatch) -> None:
    use_store(monkeypatch, champion_home)
    weak = {**SMALL, "n_estimators": 2, "num_leaves": 2, "learning_rate": 0.01}

    result = cli("pipeline", "run", EXAMPLE_REF, *_args(weak))

    assert result.code == 1
    assert "✗ gates" in result.out and "skipped" in result.out
    assert "non_inferior:auc" in result.err and "failed by" in result.err
    assert "champion credit-risk/1" in result.err
    assert "threshold:auc" not in result.err  # the absolute gate held; only this one failed
    with modelyard.connect() as yard:
        assert yard.models.get("credit-risk@champion").version == 1
        candidate = yard.models.get("credit-risk/2")
        assert candidate.aliases == () and candidate.tags["gates"] == "failed: non_inferior:auc"
        events = yard.audit.events(action="gate.fail", subject="model/credit-risk")
        assert len(events) == 1
        payload = events[0].payload
        assert payload["candidate"] == "credit-risk/2" and payload["champion"] == "credit-risk/1"
        verdict = next(r for r in payload["results"] if r["name"] == "non_inferior:auc")
        assert not verdict["passed"] and verdict["margin_by"] < 0
        assert verdict["observed"] < verdict["required"]
        gate_run = next(
            r
            for r in yard.runs.search("tags.`modelyard.step` = 'gates'")
            if r.tags.get("gates") == "failed"
        )
        assert gate_run.status == "FAILED"
        assert gate_run.metrics["gate.non_inferior.auc.passed"] == 0.0
        assert gate_run.metrics["gate.non_inferior.auc.margin_by"] == pytest.approx(
            verdict["margin_by"]
        )
        assert "failed by" in gate_run.tags["gate.non_inferior.auc"]
        pipeline_run = yard.runs.get(gate_run.parent_run_id)
        assert pipeline_run.status == "FAILED" and "non_inferior:auc" in pipeline_run.error
        assert yard.audit.verify().ok


def test_reproduce_the_champion_gives_the_same_metrics(champion_home, cli, monkeypatch) -> None:
    use_store(monkeypatch, champion_home)
    with modelyard.connect() as yard:
        versions_before = len(yard.models.versions("credit-risk"))
    result = cli("models", "reproduce", "credit-risk@champion", "--json")
    assert result.code == 0, result.err
    report = result.json()
    assert report["matches"] and report["ref"] == "credit-risk/1"
    assert report["steps"] == ["make-data", "split", "fit", "evaluate"]
    checked = {(m["step"], m["metric"]) for m in report["metrics"]}
    assert ("evaluate", "auc") in checked and ("fit", "train_auc") in checked
    assert all(m["recorded"] == pytest.approx(m["reproduced"]) for m in report["metrics"])
    # Same content gives the same dataset versions, and LightGBM on one thread the same bytes.
    assert report["outputs_identical"]["split.holdout"] is True
    assert report["outputs_identical"]["fit.model"] is True
    with modelyard.connect() as yard:
        again = yard.runs.get(report["reproduction_run"])
        assert again.tags["modelyard.reproduce_of"] == "credit-risk/1"
        assert len(yard.models.versions("credit-risk")) == versions_before  # nothing registered


@pytest.mark.postgres
def test_enforce_gates_records_and_raises_on_both_stores(yard) -> None:
    from modelyard.data import synthetic
    from modelyard.demo.credit_models import logistic_pipeline, split_xy
    from modelyard.pipelines import GateFailed
    from modelyard.pipelines.gates import enforce_gates, gather_evidence

    frame = synthetic.generate(2_000, seed=4)
    x, y = split_xy(frame)
    version = yard.models.register(
        "scorer", logistic_pipeline().fit(x, y), example=x, target="default"
    )
    holdout = yard.datasets.register("holdout", synthetic.generate(1_000, seed=5))
    gates = [threshold("auc", ">=", 0.99), non_inferior("auc", margin=0.01)]
    evidence = gather_evidence(yard, version, holdout, gates=gates)
    with yard.start_run(experiment="gates") as run, pytest.raises(GateFailed) as caught:
        enforce_gates(yard, gates, evidence, run=run)
    assert [r.passed for r in caught.value.results] == [False, True]
    assert caught.value.http_status == 422 and "threshold:auc" in caught.value.message
    event = yard.audit.events(action="gate.fail")[0]
    assert event.subject == "model/scorer" and event.payload["holdout"] == "holdout/1"
    assert yard.runs.get(run.id).metrics["gates.failed"] == 1.0
    assert yard.audit.verify().ok
