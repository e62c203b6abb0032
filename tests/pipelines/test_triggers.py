"""Triggers: named pipelines, alerts, schedules; the reason is on the run and in the audit."""

from __future__ import annotations

from pathlib import Path

import pytest
import sample_pipelines as sp
from pipelines_helpers import use_store

from modelyard.errors import InvalidInput, NotFound
from modelyard.pipelines.triggers import (
    TAG_TRIGGER_NAME,
    on_alert,
    parse_interval,
    registry_for,
    schedule,
    trigger,
)

REF = f"{Path(sp.__file__).resolve()}:numbers"


def test_trigger_runs_a_named_pipeline_and_records_why(pyard) -> None:
    registry_for(pyard).register("nightly-numbers", REF, params={"n": 3}, on_alert=["credit-*"])
    result = trigger(pyard, "nightly-numbers", reason="alert:42", params={"factor": "2"})
    assert result.ok and result.params == {"n": 3, "factor": 2.0}
    parent = pyard.runs.get(result.run_id)
    assert parent.tags["modelyard.trigger"] == "alert:42"
    assert parent.tags[TAG_TRIGGER_NAME] == "nightly-numbers"
    event = pyard.audit.events(action="pipeline.trigger")[0]
    assert event.subject == "pipeline/numbers"
    assert event.payload["reason"] == "alert:42" and event.payload["run_id"] == result.run_id
    with pytest.raises(NotFound, match="nightly-numbers"):
        trigger(pyard, "unknown", reason="manual")
    with pytest.raises(InvalidInput, match="reason"):
        trigger(pyard, REF, reason=" ")


def test_an_alert_starts_matching_pipelines_once(pyard) -> None:
    registry = registry_for(pyard)
    registry.register("retrain", REF, on_alert=["credit-risk:drift*"])
    registry.register("other", REF, on_alert=["fraud"])
    alert = {"id": 7, "model_name": "credit-risk", "rule": "drift.psi"}

    runs = on_alert(pyard, alert)

    assert len(runs) == 1 and runs[0].ok
    assert pyard.runs.get(runs[0].run_id).tags["modelyard.trigger"] == "alert:7"
    assert on_alert(pyard, alert) == []  # the same alert does not start it twice
    assert on_alert(pyard, {"id": 8, "model_name": "credit-risk", "rule": "latency"}) == []
    with pytest.raises(InvalidInput, match="model_name"):
        on_alert(pyard, {"id": 9})


def test_schedule_runs_every_interval(pyard) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    runs = schedule(pyard, REF, "1h", max_runs=3, sleep=sleep, clock=lambda: now[0])
    assert len(runs) == 3 and all(r.ok for r in runs)
    assert slept == [3600.0, 3600.0]
    assert pyard.runs.get(runs[-1].run_id).tags["modelyard.trigger"] == "schedule:1h"
    assert runs[-1].executed == []  # unchanged: every step from the cache


def test_parse_interval() -> None:
    assert parse_interval("30s") == 30 and parse_interval("1d") == 86_400
    assert parse_interval("1.5h") == 5400
    with pytest.raises(InvalidInput, match="--every"):
        parse_interval("daily")


def test_cli_register_list_trigger(tmp_path: Path, cli, monkeypatch) -> None:
    use_store(monkeypatch, tmp_path)
    registered = cli("pipeline", "register", "numbers-job", REF, "-p", "n=2", "--on-alert", "m")
    assert registered.code == 0, registered.err
    listed = cli("pipeline", "list", "--json").json()
    assert listed["numbers-job"] == {"ref": REF, "params": {"n": 2}, "on_alert": ["m"]}
    started = cli("pipeline", "trigger", "numbers-job", "--reason", "alert:1", "--json")
    assert started.code == 0, started.err
    body = started.json()
    assert body["status"] == "FINISHED" and body["params"]["n"] == 2
    scheduled = cli("pipeline", "schedule", "numbers-job", "--every", "1s", "--max-runs", "1")
    assert scheduled.code == 0 and "cache hit" in scheduled.out
