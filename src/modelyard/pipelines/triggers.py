"""Triggers: a monitoring alert or a schedule starts a named pipeline.

Named pipelines live in ``<home>/pipelines.yaml``::

    credit-risk-retrain:
      ref: examples/credit_risk/pipeline.py:train
      params: {scenario: none}
      on_alert: ["credit-risk"]          # model names, or "MODEL:RULE" globs

``trigger(yard, "credit-risk-retrain", reason="alert:42")`` runs it (a
``FILE:FUNCTION`` reference works too) with the reason on the pipeline run
(tag ``modelyard.trigger``) and in the audit trail (``pipeline.trigger``).
``on_alert(yard, alert)`` is the hook monitoring calls: it runs every named
pipeline whose ``on_alert`` matches the alert, once per alert. ``schedule``
runs a pipeline every interval in the foreground. The pipelines still end at
the registry's gates and sign-offs: a trigger never moves a protected alias
on its own authority.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from modelyard._util.clock import parse_duration
from modelyard.errors import InvalidInput, NotFound
from modelyard.pipelines.loading import load_pipeline, split_reference
from modelyard.pipelines.runner import TAG_TRIGGER, PipelineRun, run_pipeline

if TYPE_CHECKING:
    from rich.console import Console

    from modelyard.yard import Yard

__all__ = [
    "NamedPipeline",
    "PipelineRegistry",
    "on_alert",
    "parse_interval",
    "registry_for",
    "schedule",
    "trigger",
]

REGISTRY_FILE = "pipelines.yaml"
TAG_TRIGGER_NAME = "modelyard.trigger_name"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class NamedPipeline:
    name: str
    ref: str
    params: dict[str, Any] = field(default_factory=dict)
    on_alert: tuple[str, ...] = ()
    description: str = ""

    def matches(self, model: str, rule: str) -> bool:
        for pattern in self.on_alert:
            model_glob, _, rule_glob = pattern.partition(":")
            if fnmatch.fnmatchcase(model, model_glob) and fnmatch.fnmatchcase(
                rule, rule_glob or "*"
            ):
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ref": self.ref}
        if self.params:
            body["params"] = dict(self.params)
        if self.on_alert:
            body["on_alert"] = list(self.on_alert)
        if self.description:
            body["description"] = self.description
        return body


class PipelineRegistry:
    """The named pipelines of one Modelyard home (a small YAML file, written atomically)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, NamedPipeline]:
        if not self.path.is_file():
            return {}
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{self.path} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInput(f"{self.path}: expected a mapping of pipeline names")
        found = {}
        for name, body in data.items():
            where = f"{self.path}: {name}"
            if not isinstance(body, dict) or not isinstance(body.get("ref"), str):
                raise InvalidInput(f"{where}: needs 'ref: FILE:FUNCTION'")
            unknown = sorted(set(body) - {"ref", "params", "on_alert", "description"})
            if unknown:
                raise InvalidInput(f"{where}: unknown field(s) {unknown}")
            params = body.get("params") or {}
            alerts = body.get("on_alert") or []
            if not isinstance(params, dict) or not isinstance(alerts, list):
                raise InvalidInput(f"{where}: 'params' must be a mapping and 'on_alert' a list")
            found[str(name)] = NamedPipeline(
                str(name),
                body["ref"],
                params,
                tuple(map(str, alerts)),
                str(body.get("description", "")),
            )
        return found

    def get(self, name: str) -> NamedPipeline:
        known = self.load()
        if name not in known:
            listing = ", ".join(known) or "none yet"
            raise NotFound(
                f"no named pipeline {name!r} (registered: {listing}); add one with "
                f"'modelyard pipeline register {name} FILE:FUNCTION' or pass FILE:FUNCTION"
            )
        return known[name]

    def register(
        self,
        name: str,
        ref: str,
        *,
        params: Mapping[str, Any] | None = None,
        on_alert: Sequence[str] = (),
        description: str = "",
    ) -> NamedPipeline:
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInput(f"pipeline name {name!r}: use letters, digits, '.', '_' or '-'")
        split_reference(ref)
        entry = NamedPipeline(name, ref, dict(params or {}), tuple(on_alert), description)
        known = self.load()
        known[name] = entry
        self._write(known)
        return entry

    def remove(self, name: str) -> None:
        known = self.load()
        if known.pop(name, None) is None:
            raise NotFound(f"no named pipeline {name!r}")
        self._write(known)

    def for_alert(self, model: str, rule: str) -> list[NamedPipeline]:
        return [p for p in self.load().values() if p.matches(model, rule)]

    def _write(self, entries: Mapping[str, NamedPipeline]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump({k: v.to_dict() for k, v in entries.items()}, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pipelines-", suffix=".yaml")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, self.path)


def registry_for(yard: Yard) -> PipelineRegistry:
    return PipelineRegistry(Path(yard.settings.home) / REGISTRY_FILE)


def _resolve(yard: Yard, target: str) -> tuple[str | None, str, dict[str, Any]]:
    """(name or None, reference, stored params) of a named pipeline or a FILE:FUNCTION."""
    if ":" in target:
        return None, target, {}
    named = registry_for(yard).get(target)
    return named.name, named.ref, dict(named.params)


def trigger(
    yard: Yard,
    target: str,
    *,
    reason: str,
    params: Mapping[str, Any] | None = None,
    console: Console | None = None,
    **options: Any,
) -> PipelineRun:
    """Run a named pipeline (or ``FILE:FUNCTION``) because of ``reason`` (``alert:<id>``, ...)."""
    from modelyard.pipelines.loading import parse_params

    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a trigger needs a reason, e.g. 'alert:42' or 'schedule:1d'")
    name, ref, stored = _resolve(yard, target)
    pipeline = load_pipeline(ref)
    merged = {**parse_params(pipeline, stored), **parse_params(pipeline, dict(params or {}))}
    tags = {TAG_TRIGGER: reason, **({TAG_TRIGGER_NAME: name} if name else {})}
    if console is not None:
        console.print(f"[bold]trigger[/bold] {name or ref} because of {reason}", highlight=False)
    result = run_pipeline(
        yard, pipeline, merged, tags=tags, reference=ref, console=console, **options
    )
    yard.audit.record(
        "pipeline.trigger",
        f"pipeline/{pipeline.name}",
        {
            "reason": reason,
            "named": name,
            "ref": ref,
            "params": result.params,
            "run_id": result.run_id,
            "status": result.status,
            "failed": {n: result.steps[n].error for n in result.failed},
        },
    )
    return result


def _alert_fields(alert: Any) -> tuple[str, str, str]:
    def get(*names: str) -> Any:
        for n in names:
            value = alert.get(n) if isinstance(alert, Mapping) else getattr(alert, n, None)
            if value is not None:
                return value
        return None

    alert_id, model = get("id", "alert_id", "fingerprint"), get("model_name", "model")
    if alert_id is None or model is None:
        raise InvalidInput("an alert needs an id and a model_name")
    return str(alert_id), str(model), str(get("rule") or "")


def on_alert(
    yard: Yard, alert: Any, *, console: Console | None = None, **options: Any
) -> list[PipelineRun]:
    """Run every named pipeline whose ``on_alert`` matches ``alert`` (once per alert).

    ``alert`` is an alert record or a mapping with ``id``, ``model_name`` and
    ``rule``. A pipeline already started for this alert is not started again.
    """
    alert_id, model, rule = _alert_fields(alert)
    reason = f"alert:{alert_id}"
    runs = []
    for named in registry_for(yard).for_alert(model, rule):
        quoted = reason.replace("'", "''")
        earlier = yard.runs.search(
            f"tags.`{TAG_TRIGGER}` = '{quoted}' and tags.`{TAG_TRIGGER_NAME}` = '{named.name}'",
            max_results=1,
        )
        if earlier:
            if console is not None:
                console.print(
                    f"  {named.name}: already started for {reason} (run {earlier[0].id[:12]})"
                )
            continue
        runs.append(trigger(yard, named.name, reason=reason, console=console, **options))
    return runs


def parse_interval(text: str) -> float:
    """Seconds in ``30s``, ``15m``, ``6h``, ``1d`` or ``1w``."""
    return parse_duration(text, "--every").total_seconds()


def schedule(
    yard: Yard,
    target: str,
    every: str,
    *,
    params: Mapping[str, Any] | None = None,
    max_runs: int | None = None,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    **options: Any,
) -> list[PipelineRun]:
    """Run ``target`` now and then every ``every`` until interrupted (or ``max_runs``)."""
    interval = parse_interval(every)
    runs: list[PipelineRun] = []
    next_at = clock()
    while max_runs is None or len(runs) < max_runs:
        wait_s = next_at - clock()
        if wait_s > 0:
            sleep(wait_s)
        next_at += interval
        runs.append(
            trigger(
                yard, target, reason=f"schedule:{every}", params=params, console=console, **options
            )
        )
        if console is not None and (max_runs is None or len(runs) < max_runs):
            console.print(f"  next run in {max(next_at - clock(), 0):.0f} s (Ctrl-C stops)")
    return runs
