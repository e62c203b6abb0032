"""Alert rules over monitor results, deduplicated alerts, and their notifications.

Rules come from YAML (``load_rules``)::

    defaults:                    # optional, applies to every rule
      webhook: http://alerts.internal/modelyard
      cooldown: 6h
    rules:
      - name: auc-drop
        check: performance.auc_drop     # what to measure (see CHECKS below)
        op: ">"                         # >, >=, <, <=, ==, != (default >)
        threshold: 0.03
        severity: critical              # info, warning, critical (default warning)
        cooldown: 1d                    # one notification per cooldown (default 6h)
        trigger_pipeline: credit-risk-retrain   # or true: every matching named pipeline

Checks: ``drift.share`` (share of tested features that drifted), ``drift.count``,
``drift.dataset`` (1 when the dataset-level verdict is drift), ``drift.max_score``,
``drift.feature:<name>`` (its drift score: W1/std for numerics, Jensen-Shannon for
categories), ``drift.feature:<name>.<statistic>`` (e.g. ``.psi``; ``.drifted`` is 0/1),
``quality.errors``, ``quality.warnings``, ``quality.check:<check>`` (issues of one
check, e.g. ``unit_change``), ``performance.<metric>`` and ``performance.<metric>_drop``
(realised, from labels; a drop is how much worse than the baseline, so a rise for
Brier and log loss), ``estimated.<metric>`` and ``estimated.<metric>_drop`` (CBPE),
``score_psi`` or ``score.<statistic>`` (drift of the model's scores), and ``rows``.
A rule whose value is not available (no labels yet) is skipped, not resolved; so is a
rule on a result whose verdict is "insufficient data" (fewer rows than the
``monitor_min_rows`` setting): a handful of rows neither raises nor resolves an alert.

Deduplication: an alert's fingerprint is its rule, model and version. A rule firing
while an alert with its fingerprint was notified less than ``cooldown`` ago updates
that alert (``last_seen``, ``count``, the latest value) and notifies nobody; after the
cooldown it becomes a new alert, notified again. A rule that evaluates and does not
fire resolves its firing alert. Each new alert writes an audit event
(``alert.raise``) in the transaction that stores it, then is notified: a log line on
the ``modelyard.monitoring`` logger and an HTTP POST of its JSON to the rule's
webhook (a timeout, three attempts with back-off; a failure is logged, never raised,
and leaves the alert un-notified so that the next check tries again).
"""

from __future__ import annotations

import hashlib
import logging
import math
import operator
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlalchemy import select, text

from modelyard.errors import InvalidInput, ModelyardError
from modelyard.monitoring.drift import INSUFFICIENT
from modelyard.monitoring.performance import HIGHER_IS_BETTER, LOWER_IS_BETTER
from modelyard.monitoring.quality import CHECKS as QUALITY_CHECKS
from modelyard.monitoring.windows import parse_duration
from modelyard.registry import audit
from modelyard.registry.users import resolve_actor
from modelyard.store.models import AlertRecord

if TYPE_CHECKING:
    from modelyard.store import MetadataStore
    from modelyard.yard import Yard

__all__ = [
    "DEFAULT_RULES",
    "AlertEvent",
    "AlertInfo",
    "Rule",
    "RuleOutcome",
    "WebhookNotifier",
    "evaluate",
    "fingerprint",
    "list_alerts",
    "load_rules",
    "process",
]

logger = logging.getLogger("modelyard.monitoring")

SEVERITIES = ("info", "warning", "critical")
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
KINDS = ("drift", "quality", "performance", "estimated", "score", "rows")
METRICS = (*HIGHER_IS_BETTER, *LOWER_IS_BETTER, "positive_rate", "mean_score")
DEFAULT_COOLDOWN_S = 6 * 3600.0
_RULE_FIELDS = {
    "name",
    "check",
    "op",
    "threshold",
    "severity",
    "cooldown",
    "webhook",
    "trigger_pipeline",
    "description",
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


def _check_syntax(check: str) -> str:
    """The family of a check ("drift", "quality", ...), or InvalidInput naming the form."""
    if not isinstance(check, str) or not check:
        raise InvalidInput(f"check must be a string such as 'drift.share'. Got {check!r}.")
    if check == "rows":
        return "rows"
    if check in ("score_psi",):
        return "score"
    family, _, rest = check.partition(".")
    ok = False
    if family == "drift":
        ok = rest in ("share", "count", "dataset", "max_score") or (
            rest.startswith("feature:") and len(rest) > len("feature:")
        )
    elif family == "quality":
        ok = rest in ("errors", "warnings") or (
            rest.startswith("check:") and rest[len("check:") :] in QUALITY_CHECKS
        )
    elif family in ("performance", "estimated"):
        metric = rest[: -len("_drop")] if rest.endswith("_drop") else rest
        ok = metric in METRICS
    elif family == "score":
        ok = rest in ("psi", "wasserstein_norm", "ks", "drifted")
    if not ok:
        raise InvalidInput(
            f"unknown check {check!r}; checks are drift.share, drift.count, drift.dataset, "
            "drift.max_score, drift.feature:<name>[.<statistic>], quality.errors, "
            "quality.warnings, quality.check:<" + "|".join(QUALITY_CHECKS) + ">, "
            "performance.<metric>[_drop], estimated.<metric>[_drop] (metrics: "
            + ", ".join(METRICS)
            + "), score_psi, score.<psi|wasserstein_norm|ks|drifted>, rows"
        )
    return family


@dataclass(frozen=True)
class Rule:
    """One alert rule (see the module docstring for the YAML and the checks)."""

    name: str
    check: str
    threshold: float
    op: str = ">"
    severity: str = "warning"
    cooldown_s: float = DEFAULT_COOLDOWN_S
    webhook: str | None = None
    trigger_pipeline: str | bool | None = None
    description: str = ""

    def __post_init__(self) -> None:
        where = f"rule {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InvalidInput(
                f"rule name {self.name!r}: use letters, digits, '.', '_', ':' or '-'"
            )
        _check_syntax(self.check)
        if self.op not in OPS:
            raise InvalidInput(f"{where}: op must be one of {list(OPS)}. Got {self.op!r}.")
        if self.severity not in SEVERITIES:
            raise InvalidInput(
                f"{where}: severity must be one of {list(SEVERITIES)}. Got {self.severity!r}."
            )
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise InvalidInput(f"{where}: threshold must be a finite number. Got {t!r}.")
        if self.cooldown_s < 0:
            raise InvalidInput(f"{where}: cooldown must not be negative")
        if self.webhook is not None and not str(self.webhook).startswith(("http://", "https://")):
            raise InvalidInput(f"{where}: webhook must be an http(s) URL. Got {self.webhook!r}.")

    @property
    def kind(self) -> str:
        return _check_syntax(self.check)

    def fires(self, value: float) -> bool:
        return bool(OPS[self.op](value, self.threshold))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "check": self.check,
            "op": self.op,
            "threshold": self.threshold,
            "severity": self.severity,
            "cooldown_s": self.cooldown_s,
            "webhook": self.webhook,
            "trigger_pipeline": self.trigger_pipeline,
            "description": self.description,
        }


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("feature-drift", "drift.count", 0, severity="warning", cooldown_s=86_400),
    Rule("data-quality", "quality.errors", 0, severity="critical"),
    Rule("score-drift", "score_psi", 0.2, severity="warning", cooldown_s=86_400),
    Rule("estimated-auc-drop", "estimated.auc_drop", 0.03, severity="warning"),
    Rule("auc-drop", "performance.auc_drop", 0.03, severity="critical", cooldown_s=86_400),
    Rule(
        "calibration",
        "performance.calibration_error_drop",
        0.03,
        severity="critical",
        cooldown_s=86_400,
    ),
)


def _rule_from(item: Any, defaults: Mapping[str, Any], where: str) -> Rule:
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{where}: each rule must be a mapping with name, check, threshold")
    body = {**defaults, **item}
    unknown = sorted(set(body) - _RULE_FIELDS)
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {unknown}; fields: {sorted(_RULE_FIELDS)}")
    for required in ("name", "check", "threshold"):
        if required not in body:
            raise InvalidInput(f"{where}: {required!r} is required")
    cooldown = body.get("cooldown", DEFAULT_COOLDOWN_S)
    if isinstance(cooldown, str):
        cooldown_s = parse_duration(cooldown, f"{where}: cooldown").total_seconds()
    elif isinstance(cooldown, int | float) and not isinstance(cooldown, bool):
        cooldown_s = float(cooldown)
    else:
        raise InvalidInput(f"{where}: cooldown must be a duration such as 6h. Got {cooldown!r}.")
    trigger = body.get("trigger_pipeline")
    if trigger is not None and not isinstance(trigger, str | bool):
        raise InvalidInput(f"{where}: trigger_pipeline must be a pipeline name or true")
    threshold = body["threshold"]
    try:
        return Rule(
            name=str(body["name"]),
            check=str(body["check"]),
            threshold=threshold,
            op=str(body.get("op", ">")),
            severity=str(body.get("severity", "warning")),
            cooldown_s=cooldown_s,
            webhook=body.get("webhook"),
            trigger_pipeline=trigger,
            description=str(body.get("description", "")),
        )
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc.message}") from exc


def load_rules(source: Any) -> list[Rule]:
    """Rules from a YAML file path, YAML text, a list of mappings or ``{defaults, rules}``.

    None gives ``DEFAULT_RULES``.

    Raises:
        InvalidInput: Unreadable YAML, an unknown field or check, a duplicate name.
    """
    if source is None:
        return list(DEFAULT_RULES)
    if isinstance(source, Rule):
        return [source]
    where = "rules"
    data = source
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
    ):
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise InvalidInput(f"rules file {path} does not exist")
        source = path.read_text(encoding="utf-8")
    if isinstance(source, str):
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{where} is not valid YAML: {exc}") from exc
    defaults: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"defaults", "rules"})
        if unknown:
            raise InvalidInput(f"{where}: unknown top-level key(s) {unknown}; use defaults, rules")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, Mapping) or "name" in defaults or "check" in defaults:
            raise InvalidInput(f"{where}: defaults must be a mapping without name or check")
        data = data.get("rules")
    if not isinstance(data, Sequence) or isinstance(data, str) or not data:
        raise InvalidInput(f"{where}: expected a non-empty list of rules")
    rules = []
    for i, item in enumerate(data):
        if isinstance(item, Rule):
            rules.append(item)
        else:
            rules.append(_rule_from(item, defaults, f"{where}: rules[{i}]"))
    names = [r.name for r in rules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InvalidInput(f"{where}: rule names must be unique; repeated: {twice}")
    return rules


# ---------------------------------------------------------------- evaluation


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(value):
        return float(value)
    return None


def value_of(check: str, summaries: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """The value a check reads from a run's summaries, or (None, why it is missing)."""
    family = _check_syntax(check)
    if family == "rows":
        return _num(summaries.get("rows")), None
    if family == "score" or check == "score_psi":
        drift = summaries.get("drift") or {}
        score = drift.get("score")
        if not score:
            return None, "no score drift (the model's scores are not available)"
        if score.get("verdict") == INSUFFICIENT:
            return None, _short("score drift", score)
        stat = "psi" if check == "score_psi" else check.split(".", 1)[1]
        return _num(score.get(stat)), None
    body = summaries.get(family)
    if not body:
        why = {
            "performance": "no labels joined the window's predictions",
            "estimated": "no scores to estimate performance from",
        }.get(family, f"no {family} result")
        return None, why
    if body.get("verdict") == INSUFFICIENT:
        return None, _short(family, body)
    rest = check.split(".", 1)[1]
    if family == "drift":
        features = {f["feature"]: f for f in body.get("features", [])}
        if rest == "share":
            return _num(body.get("drifted_share")), None
        if rest == "count":
            return float(len(body.get("drifted_features", []))), None
        if rest == "dataset":
            return float(bool(body.get("dataset_drift"))), None
        if rest == "max_score":
            scores = [_num(f.get("score")) for f in features.values()]
            scores = [s for s in scores if s is not None]
            return (max(scores) if scores else None), None
        target = rest[len("feature:") :]
        name, stat = target, None
        if name not in features and "." in target:
            name, _, stat = target.rpartition(".")
        found = features.get(name)
        if found is None:
            return None, f"feature {name!r} was not tested"
        if found.get("verdict") == INSUFFICIENT:
            return None, f"{INSUFFICIENT} for feature {name!r}: {found.get('reason')}"
        if stat is None:
            return _num(found.get("score")), None
        if stat == "drifted":
            return float(bool(found.get("drifted"))), None
        return _num((found.get("stats") or {}).get(stat)), None
    if family == "quality":
        if rest == "errors":
            return _num(body.get("errors")), None
        if rest == "warnings":
            return _num(body.get("warnings")), None
        wanted = rest[len("check:") :]
        return float(sum(1 for i in body.get("issues", []) if i.get("check") == wanted)), None
    # performance / estimated
    if rest.endswith("_drop"):
        value = (body.get("drops") or {}).get(rest)
        if value is None:
            return None, "no baseline metric to compare with"
        return _num(value), None
    return _num((body.get("metrics") or {}).get(rest)), None


def _short(what: str, body: Mapping[str, Any]) -> str:
    if body.get("verdict_reason"):
        return f"{INSUFFICIENT} for {what}: {body['verdict_reason']}"
    rows, need = body.get("rows"), body.get("min_rows")
    if isinstance(rows, int) and isinstance(need, int):
        return f"{INSUFFICIENT} for {what}: {rows:,} rows, {need:,} needed"
    return f"{INSUFFICIENT} for {what}"


@dataclass(frozen=True)
class RuleOutcome:
    """A rule's value on one run and whether it fired (``skipped`` says why not evaluated)."""

    rule: Rule
    value: float | None
    fired: bool
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.name,
            "check": self.rule.check,
            "op": self.rule.op,
            "threshold": self.rule.threshold,
            "value": self.value,
            "fired": self.fired,
            "skipped": self.skipped,
        }


def evaluate(rules: Sequence[Rule], summaries: Mapping[str, Any]) -> list[RuleOutcome]:
    """Each rule's value and verdict on one run's summaries."""
    out = []
    for rule in rules:
        value, why = value_of(rule.check, summaries)
        if value is None:
            out.append(RuleOutcome(rule, None, False, why or "no value"))
        else:
            out.append(RuleOutcome(rule, value, rule.fires(value)))
    return out


# ---------------------------------------------------------------- stored alerts


def fingerprint(rule: str, model: str, version: int | None) -> str:
    """The identity alerts are deduplicated by: rule + model + version."""
    return hashlib.sha256(f"{rule}\x00{model}\x00{version}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class AlertInfo:
    """A stored alert (``alerts`` table)."""

    id: int
    fingerprint: str
    rule: str
    model_name: str
    model_version: int | None
    severity: str
    status: str
    message: str
    payload: dict[str, Any]
    first_seen: int
    last_seen: int
    count: int
    notified_at: int | None

    @property
    def kind(self) -> str:
        return str(self.payload.get("kind", ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "kind": self.kind,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "severity": self.severity,
            "status": self.status,
            "message": self.message,
            "payload": self.payload,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "count": self.count,
            "notified_at": self.notified_at,
        }


def _info(row: AlertRecord) -> AlertInfo:
    return AlertInfo(
        row.id,
        row.fingerprint,
        row.rule,
        row.model_name,
        row.model_version,
        row.severity,
        row.status,
        row.message,
        dict(row.payload or {}),
        row.first_seen,
        row.last_seen,
        row.count,
        row.notified_at,
    )


def _lock(session: Any, fp: str) -> None:
    """Serialise writers of one fingerprint (SQLite's BEGIN IMMEDIATE already does)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int(fp[:15], 16)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def _latest(session: Any, fp: str) -> AlertRecord | None:
    return session.scalars(
        select(AlertRecord)
        .where(AlertRecord.fingerprint == fp)
        .order_by(AlertRecord.id.desc())
        .limit(1)
    ).first()


def list_alerts(
    store: MetadataStore,
    *,
    model: str | None = None,
    version: int | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AlertInfo]:
    """Alerts, newest first: ``limit`` of them after the first ``offset`` (one query).

    The order is served by an index (``ix_alerts_last_seen_id``, or
    ``ix_alerts_model_name_last_seen_id`` for one model), so a page costs the
    same however many alerts are stored.
    """
    for name, value in (("limit", limit), ("offset", offset)):
        if type(value) is not int or value < 0:
            raise InvalidInput(
                f"The {name!r} of an alert listing must be a whole number >= 0. "
                f"Got {value!r} instead."
            )
    query = select(AlertRecord).order_by(AlertRecord.last_seen.desc(), AlertRecord.id.desc())
    if model is not None:
        query = query.where(AlertRecord.model_name == model)
    if version is not None:
        query = query.where(AlertRecord.model_version == version)
    if status is not None:
        query = query.where(AlertRecord.status == status)
    with store.read() as session:
        return [_info(r) for r in session.scalars(query.limit(limit).offset(offset)).all()]


# ---------------------------------------------------------------- notification


@dataclass(frozen=True)
class Delivery:
    url: str
    ok: bool
    status: int | None
    attempts: int
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "status": self.status,
            "attempts": self.attempts,
            "error": self.error,
        }


class WebhookNotifier:
    """POSTs alert JSON; retries connection errors, 429 and 5xx with back-off."""

    def __init__(
        self,
        *,
        timeout: float = 5.0,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        transport: Any = None,
    ) -> None:
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self.transport = transport

    def send(self, url: str, body: dict[str, Any]) -> Delivery:
        import httpx

        status: int | None = None
        error: str | None = None
        with httpx.Client(timeout=self.timeout, transport=self.transport) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = client.post(
                        url, json=body, headers={"user-agent": "modelyard-monitoring"}
                    )
                    status = response.status_code
                    if status < 300:
                        return Delivery(url, True, status, attempt)
                    error = f"HTTP {status}: {response.text[:200]}"
                    if status < 500 and status != 429:
                        break
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                if attempt < self.attempts:
                    self.sleep(self.backoff * 2 ** (attempt - 1))
        logger.warning("alert webhook %s failed after %d attempt(s): %s", url, attempt, error)
        return Delivery(url, False, status, attempt, error)


@dataclass
class AlertEvent:
    """What handling one rule's outcome did: ``action`` is "raised" (a new alert,
    notified), "repeated" (within the cooldown: counted, not notified),
    "renotified" (an earlier notification had failed), "resolved" or "none"."""

    outcome: RuleOutcome
    action: str
    alert: AlertInfo | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    pipelines: list[str] = field(default_factory=list)

    @property
    def notified(self) -> bool:
        return self.action in ("raised", "renotified")

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.outcome.to_dict(),
            "action": self.action,
            "alert": self.alert.to_dict() if self.alert else None,
            "deliveries": [d.to_dict() for d in self.deliveries],
            "pipelines": list(self.pipelines),
        }


def _message(rule: Rule, value: float, model: str, version: int, window: str) -> str:
    return (
        f"{rule.name}: {rule.check} = {value:.4g} {rule.op} {rule.threshold:g} "
        f"for {model}/{version} ({window})"
    )


def _record(
    store: MetadataStore,
    user: str,
    outcome: RuleOutcome,
    model: str,
    version: int,
    context: Mapping[str, Any],
    now: int,
) -> tuple[str, AlertInfo | None]:
    rule = outcome.rule
    fp = fingerprint(rule.name, model, version)
    with store.write() as session:
        _lock(session, fp)
        latest = _latest(session, fp)
        if not outcome.fired:
            if latest is not None and latest.status == "firing":
                latest.status = "resolved"
                latest.last_seen = now
                return "resolved", _info(latest)
            return "none", None
        assert outcome.value is not None
        message = _message(rule, outcome.value, model, version, str(context.get("window", "")))
        payload = {
            "kind": rule.kind,
            "check": rule.check,
            "op": rule.op,
            "threshold": rule.threshold,
            "value": outcome.value,
            "cooldown_s": rule.cooldown_s,
            **dict(context),
        }
        recent = latest is not None and (
            latest.notified_at is None or now - latest.notified_at < rule.cooldown_s * 1000
        )
        if recent and latest is not None:
            action = "renotified" if latest.notified_at is None else "repeated"
            latest.status = "firing"
            latest.last_seen = now
            latest.count += 1
            latest.message = message
            latest.payload = {**payload, "first_value": latest.payload.get("first_value")}
            if action == "renotified":
                latest.notified_at = now
            session.flush()
            return action, _info(latest)
        if latest is not None and latest.status == "firing":
            latest.status = "expired"  # its cooldown is over: the new alert takes over
        row = AlertRecord(
            fingerprint=fp,
            rule=rule.name,
            model_name=model,
            model_version=version,
            severity=rule.severity,
            status="firing",
            message=message,
            payload={**payload, "first_value": outcome.value},
            first_seen=now,
            last_seen=now,
            count=1,
            notified_at=now,
        )
        session.add(row)
        session.flush()
        actor = resolve_actor(session, user)
        audit.append(
            session,
            actor.name,
            "alert.raise",
            f"model/{model}/{version}",
            {
                "alert_id": row.id,
                "rule": rule.name,
                "check": rule.check,
                "value": outcome.value,
                "threshold": rule.threshold,
                "severity": rule.severity,
            },
        )
        return "raised", _info(row)


def _after_delivery(
    store: MetadataStore, alert_id: int, deliveries: list[Delivery], now: int
) -> AlertInfo:
    with store.write() as session:
        row = session.get(AlertRecord, alert_id)
        row.payload = {**row.payload, "deliveries": [d.to_dict() for d in deliveries]}
        if deliveries and not any(d.ok for d in deliveries):
            row.notified_at = None  # not delivered: the next check tries again
        session.flush()
        return _info(row)


def _trigger(yard: Yard, rule: Rule, alert: AlertInfo, console: Any) -> list[str]:
    """Start the pipeline(s) the rule names; errors are logged, never raised."""
    from modelyard.pipelines import triggers

    try:
        if rule.trigger_pipeline is True:
            runs = triggers.on_alert(yard, alert, console=console)
        else:
            runs = [
                triggers.trigger(
                    yard, str(rule.trigger_pipeline), reason=f"alert:{alert.id}", console=console
                )
            ]
    except ModelyardError as exc:
        logger.error("alert %s: pipeline trigger failed: %s", alert.id, exc.message)
        return []
    return [r.run_id for r in runs]


def process(
    yard: Yard,
    rules: Sequence[Rule],
    summaries: Mapping[str, Any],
    *,
    model: str,
    version: int,
    context: Mapping[str, Any],
    now: int,
    notifier: WebhookNotifier | None = None,
    console: Any = None,
    triggers: bool = True,
) -> list[AlertEvent]:
    """Evaluate ``rules`` on one run, store and deduplicate alerts, notify new ones
    (``triggers=False``: start no pipeline, whatever the rules say)."""
    notifier = notifier or WebhookNotifier()
    events = []
    for outcome in evaluate(rules, summaries):
        if outcome.skipped:
            events.append(AlertEvent(outcome, "none"))
            continue
        action, alert = _record(yard.store, yard.user, outcome, model, version, context, now)
        event = AlertEvent(outcome, action, alert)
        if alert is not None and event.notified:
            rule = outcome.rule
            log = logger.error if rule.severity == "critical" else logger.warning
            log("ALERT [%s] %s (alert %s)", rule.severity, alert.message, alert.id)
            body = {"source": "modelyard", "event": "alert", **alert.to_dict()}
            if rule.webhook:
                event.deliveries.append(notifier.send(rule.webhook, body))
                alert = _after_delivery(yard.store, alert.id, event.deliveries, now)
                event.alert = alert
            if action == "raised" and rule.trigger_pipeline and triggers:
                event.pipelines = _trigger(yard, rule, alert, console)
        events.append(event)
    return events


def with_webhook(rules: Sequence[Rule], url: str | None) -> list[Rule]:
    """``rules`` with ``url`` as the webhook of those that have none."""
    if not url:
        return list(rules)
    return [r if r.webhook else replace(r, webhook=url) for r in rules]
