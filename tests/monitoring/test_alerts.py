"""Alert rules: the YAML format, the checks, deduplication within a cooldown, webhooks
against a real local HTTP server, and pipeline triggers."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import monitor_helpers
import pytest
from monitor_helpers import T0, Clock, free_port

from modelyard.errors import InvalidInput
from modelyard.monitoring import alerts
from modelyard.monitoring.alerts import Rule, WebhookNotifier, evaluate, load_rules, value_of

receiver = monitor_helpers.receiver

SUMMARIES = {
    "rows": 5000,
    "drift": {
        "drifted_share": 2 / 14,
        "dataset_drift": False,
        "drifted_features": ["income", "debt_to_income"],
        "features": [
            {"feature": "income", "score": 0.31, "drifted": True, "stats": {"psi": 0.12}},
            {"feature": "age", "score": 0.02, "drifted": False, "stats": {"psi": 0.003}},
            {"feature": "debt_to_income", "score": 0.39, "drifted": True, "stats": {}},
        ],
        "score": {"psi": 0.03, "wasserstein_norm": 0.11, "drifted": True},
    },
    "quality": {
        "errors": 1,
        "warnings": 2,
        "issues": [
            {"check": "unit_change", "severity": "error"},
            {"check": "range", "severity": "warning"},
            {"check": "range", "severity": "warning"},
        ],
    },
    "estimated": {"metrics": {"auc": 0.73}, "drops": {"auc_drop": 0.006}},
}


def test_rules_yaml(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        """
defaults:
  webhook: http://127.0.0.1:9/hook
  cooldown: 2h
rules:
  - name: auc-drop
    check: performance.auc_drop
    threshold: 0.03
    severity: critical
    cooldown: 1d
    trigger_pipeline: credit-risk-retrain
  - name: low-traffic
    check: rows
    op: "<"
    threshold: 100
"""
    )
    auc, traffic = load_rules(path)
    assert auc == Rule(
        "auc-drop",
        "performance.auc_drop",
        0.03,
        severity="critical",
        cooldown_s=86_400,
        webhook="http://127.0.0.1:9/hook",
        trigger_pipeline="credit-risk-retrain",
    )
    assert traffic.op == "<" and traffic.cooldown_s == 7200 and traffic.kind == "rows"
    assert load_rules(str(path)) == [auc, traffic]
    assert [r.name for r in load_rules(None)] == [r.name for r in alerts.DEFAULT_RULES]
    assert load_rules([{"name": "x", "check": "drift.share", "threshold": 0.5}])[0].op == ">"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: []", "non-empty list"),
        ("- {name: a, check: drift.nope, threshold: 1}", "unknown check 'drift.nope'"),
        ("- {name: a, check: drift.share}", "'threshold' is required"),
        ("- {name: a, check: drift.share, threshold: 1, colour: red}", "unknown field"),
        ("- {name: a, check: drift.share, threshold: 1, severity: fatal}", "severity"),
        ("- {name: a, check: drift.share, threshold: 1, op: '=>'}", "op must be"),
        ("- {name: a, check: drift.share, threshold: 1, cooldown: soon}", "duration"),
        ("- {name: a, check: drift.share, threshold: x}", "finite number"),
        ("- {name: a, check: rows, threshold: 1, webhook: ftp://x}", "http"),
        (
            "- {name: a, check: rows, threshold: 1}\n- {name: a, check: rows, threshold: 2}",
            "unique",
        ),
        ("rules: [\n", "not valid YAML"),
        ("{rule: []}", "unknown top-level"),
    ],
)
def test_rule_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        load_rules(text if "\n" in text else text + "\n")


def test_the_documented_rules_load() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text()
    (block,) = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    rules = load_rules(block)
    assert len(rules) == 9 and all(r.webhook == "https://alerts.internal/modelyard" for r in rules)
    assert {r.kind for r in rules} == {
        "drift",
        "quality",
        "performance",
        "estimated",
        "score",
        "rows",
    }
    assert next(r for r in rules if r.name == "auc-drop").trigger_pipeline == "credit-risk-retrain"


def test_checks_read_the_summaries() -> None:
    def value(check: str) -> float | None:
        return value_of(check, SUMMARIES)[0]

    assert value("drift.share") == pytest.approx(2 / 14)
    assert value("drift.count") == 2
    assert value("drift.dataset") == 0
    assert value("drift.max_score") == 0.39
    assert value("drift.feature:income") == 0.31
    assert value("drift.feature:income.psi") == 0.12
    assert value("drift.feature:age.drifted") == 0
    assert value("quality.errors") == 1 and value("quality.warnings") == 2
    assert value("quality.check:range") == 2
    assert value("score_psi") == 0.03 and value("score.drifted") == 1
    assert value("estimated.auc") == 0.73 and value("estimated.auc_drop") == 0.006
    assert value("rows") == 5000
    assert value_of("performance.auc_drop", SUMMARIES) == (
        None,
        "no labels joined the window's predictions",
    )
    assert value_of("drift.feature:nope", SUMMARIES)[1] == "feature 'nope' was not tested"
    outcomes = evaluate(load_rules(None), SUMMARIES)
    fired = {o.rule.name for o in outcomes if o.fired}
    skipped = {o.rule.name for o in outcomes if o.skipped}
    assert fired == {"feature-drift", "data-quality"}
    assert skipped == {"auc-drop", "calibration"}


def test_webhook_retries_server_errors_only(receiver) -> None:
    waits: list[float] = []
    notifier = WebhookNotifier(timeout=2, sleep=waits.append)
    receiver.statuses = [503, 500]
    ok = notifier.send(receiver.url, {"n": 1})
    assert ok.ok and ok.attempts == 3 and waits == [0.5, 1.0]
    assert receiver.bodies == [{"n": 1}]
    receiver.statuses = [404]
    refused = notifier.send(receiver.url, {"n": 2})
    assert not refused.ok and refused.attempts == 1 and refused.status == 404


def test_unreachable_webhook_is_logged_not_raised(caplog) -> None:
    notifier = WebhookNotifier(timeout=0.5, attempts=2, sleep=lambda s: None)
    with caplog.at_level(logging.WARNING, "modelyard.monitoring"):
        got = notifier.send(f"http://127.0.0.1:{free_port()}/hook", {})
    assert not got.ok and got.attempts == 2 and "ConnectError" in (got.error or "")
    assert "failed after 2 attempt(s)" in caplog.text


def _process(yard, rules, summaries, now, notifier=None):
    return alerts.process(
        yard,
        rules,
        summaries,
        model="credit-risk",
        version=1,
        context={"window": "w"},
        now=now,
        notifier=notifier or WebhookNotifier(timeout=2, sleep=lambda s: None),
    )


def test_one_notification_per_cooldown(yard, receiver) -> None:
    yard.models.create("credit-risk", risk_tier=3)
    rule = Rule(
        "income-drift", "drift.feature:income", 0.1, cooldown_s=6 * 3600, webhook=receiver.url
    )
    clock = Clock()
    calm = {"drift": {**SUMMARIES["drift"], "features": [{"feature": "income", "score": 0.01}]}}

    actions = []
    for hours, summaries in [
        (0, SUMMARIES),  # fires: a new alert, notified
        (1, SUMMARIES),  # within the cooldown: counted only
        (2, calm),  # resolves
        (3, SUMMARIES),  # fires again within the cooldown of the first notification: reopened
        (7, SUMMARIES),  # past the cooldown: a new alert, notified again
    ]:
        clock.ms = T0 + hours * 3_600_000
        (event,) = _process(yard, [rule], summaries, clock())
        actions.append(event.action)
    assert actions == ["raised", "repeated", "resolved", "repeated", "raised"]
    assert len(receiver.bodies) == 2
    first, second = receiver.bodies
    assert first["rule"] == "income-drift" and first["source"] == "modelyard"
    assert first["payload"]["value"] == 0.31 and first["severity"] == "warning"
    assert first["model_name"] == "credit-risk" and first["model_version"] == 1
    assert second["id"] != first["id"]
    stored = yard.monitors.alerts(model="credit-risk")
    assert [(a.status, a.count) for a in stored] == [("firing", 1), ("expired", 3)]
    assert stored[1].first_seen == T0 and stored[1].last_seen == T0 + 3 * 3_600_000
    raised = yard.audit.events(action="alert.raise")
    assert len(raised) == 2 and raised[0].subject == "model/credit-risk/1"


def test_failed_delivery_is_sent_again_at_the_next_check(yard, receiver) -> None:
    yard.models.create("credit-risk", risk_tier=3)
    rule = Rule("quality", "quality.errors", 0, webhook=receiver.url)
    receiver.statuses = [500, 500, 500]
    (first,) = _process(yard, [rule], SUMMARIES, T0)
    assert first.action == "raised" and not first.deliveries[0].ok
    assert first.alert.notified_at is None and receiver.bodies == []
    (second,) = _process(yard, [rule], SUMMARIES, T0 + 60_000)
    assert second.action == "renotified" and second.deliveries[0].ok
    assert len(receiver.bodies) == 1 and second.alert.id == first.alert.id
    (third,) = _process(yard, [rule], SUMMARIES, T0 + 120_000)
    assert third.action == "repeated" and len(receiver.bodies) == 1


def test_rules_start_pipelines_once_per_new_alert(yard, monkeypatch) -> None:
    from modelyard.pipelines import triggers

    calls: list[tuple[str, object]] = []

    class Run:
        run_id = "run-1"

    monkeypatch.setattr(
        triggers, "on_alert", lambda y, a, **kw: calls.append(("on_alert", a.id)) or [Run()]
    )
    monkeypatch.setattr(
        triggers, "trigger", lambda y, name, **kw: calls.append((name, kw["reason"])) or Run()
    )
    yard.models.create("credit-risk", risk_tier=3)
    rules = [
        Rule("any", "drift.count", 0, trigger_pipeline=True),
        Rule("named", "quality.errors", 0, trigger_pipeline="credit-risk-retrain"),
        Rule("quiet", "rows", 0),
    ]
    events = _process(yard, rules, SUMMARIES, T0)
    assert [e.pipelines for e in events] == [["run-1"], ["run-1"], []]
    ids = {e.outcome.rule.name: e.alert.id for e in events}
    assert calls == [("on_alert", ids["any"]), ("credit-risk-retrain", f"alert:{ids['named']}")]
    _process(yard, rules, SUMMARIES, T0 + 60_000)  # repeated within the cooldown: no new runs
    assert len(calls) == 2
    no_triggers = alerts.process(
        yard, rules, SUMMARIES, model="credit-risk", version=2, context={}, now=T0,
        triggers=False,
    )  # fmt: skip
    assert all(e.action == "raised" for e in no_triggers) and len(calls) == 2
