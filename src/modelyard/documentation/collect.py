"""The facts of a version's technical documentation, section by section, from the platform.

Each section names where its facts came from (``source``) and holds blocks of
content. A section whose facts were never recorded holds no blocks and is
rendered as "not recorded": the document never invents text to fill a gap.
The sections follow what a supervisor asks for (EU AI Act Annex IV, SR 11-7;
see docs/explanations.md for the map).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelyard._util.clock import ms_to_iso

__all__ = ["Section", "collect_sections"]

NOT_RECORDED = "not recorded"
AUDIT_LIMIT = 5000


@dataclass
class Section:
    """One section: an id, a title, where its facts came from, and content blocks."""

    id: str
    title: str
    source: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def recorded(self) -> bool:
        return bool(self.blocks)


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _kv(rows: list[tuple[str, Any]]) -> dict[str, Any]:
    return {"type": "kv", "rows": [(k, _fmt(v)) for k, v in rows if v not in (None, "", [], {})]}


def _table(columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
    return {"type": "table", "columns": columns, "rows": [[_fmt(c) for c in r] for r in rows]}


def _figure(figure: Any, caption: str) -> dict[str, Any]:
    return {"type": "figure", "figure": figure, "caption": caption}


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(_fmt(v) for v in value) or "-"
    return str(value)


def collect_sections(yard: Any, ref: str) -> tuple[Any, list[Section]]:
    """(version info, sections) of ``ref``'s technical documentation."""
    info = yard.models.get(ref)
    model = yard.models.get_model(info.name)
    run = yard.runs.get(info.run_id) if info.run_id else None
    datasets = [(yard.datasets.get(d), role) for d, role in info.datasets]
    sections = [
        _purpose(model, info),
        _version(info),
        _data(datasets),
        _training(run),
        _validation(info),
        _fairness(info),
        _explanations(yard, info),
        _sign_offs(yard, model, info),
        _serving(yard, info),
        *_monitoring(yard, info),
        _history(yard, info),
    ]
    return info, sections


def _purpose(model: Any, info: Any) -> Section:
    section = Section(
        "purpose", "Intended purpose and risk tier", f"registry: model {model.name!r} record"
    )
    # The tier and owner are always on record; the purpose is only what someone wrote,
    # so a model without a description must say so rather than look documented.
    section.blocks.append(
        _text(
            model.description
            or f"Intended purpose: {NOT_RECORDED} (the model record has no description)."
        )
    )
    section.blocks.append(
        _kv(
            [
                ("Model", model.name),
                ("Owner", model.owner),
                ("Risk tier", f"tier {model.risk_tier}"),
                ("Version description", info.description),
            ]
        )
    )
    return section


def _version(info: Any) -> Section:
    section = Section("version", "Model version", f"registry: version {info.ref} and its manifest")
    section.blocks.append(
        _kv(
            [
                ("Version", info.ref),
                ("Lifecycle state", info.state),
                ("Aliases", list(info.aliases)),
                ("Flavor", info.flavor),
                ("Task", info.task),
                ("Artifact digest", info.artifact_digest),
                ("Registered by", info.created_by),
                ("Registered at", ms_to_iso(info.created_at)),
            ]
        )
    )
    signature = info.signature or {}
    inputs = signature.get("inputs") or []
    if inputs:
        section.blocks.append(
            _table(
                ["Input column", "Type", "Nullable", "Range or categories"],
                [
                    [
                        c.get("name"),
                        c.get("type"),
                        c.get("nullable"),
                        c.get("categories") or f"{c.get('minimum')} to {c.get('maximum')}",
                    ]
                    for c in inputs
                ],
            )
        )
    return section


def _data(datasets: list[tuple[Any, str]]) -> Section:
    section = Section(
        "data", "Data lineage and dataset profiles", "datasets: versions linked to the model"
    )
    if not datasets:
        return section
    section.blocks.append(
        _table(
            ["Dataset", "Role", "Rows", "Content hash", "Parents", "Produced by run", "By"],
            [
                [
                    d.ref,
                    role,
                    d.num_rows,
                    d.digest[:19],
                    list(d.parents),
                    (d.producing_run_id or "")[:8] or None,
                    d.created_by,
                ]
                for d, role in datasets
            ],
        )
    )
    for d, role in datasets:
        columns = (d.profile or {}).get("columns") or {}
        if not columns:
            continue
        section.blocks.append(_text(f"Profile of {d.ref} ({role}):"))
        section.blocks.append(
            _table(
                ["Column", "Kind", "Null rate", "Min", "Max"],
                [
                    [n, c.get("kind"), c.get("null_rate"), c.get("min"), c.get("max")]
                    for n, c in columns.items()
                ],
            )
        )
        section.blocks.append(
            _figure(_null_rates(d.ref, columns), f"Null rate per column, {d.ref}")
        )
    return section


def _null_rates(ref: str, columns: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    names = list(columns)
    rates = [float(columns[n].get("null_rate") or 0.0) for n in names]
    figure = go.Figure(go.Bar(x=names, y=rates, name="null rate"))
    figure.update_layout(
        title=f"Null rate per column ({ref})", height=320, margin={"t": 40, "b": 80}
    )
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return figure


def _training(run: Any) -> Section:
    section = Section("training", "Training run and environment", "tracking: the training run")
    if run is None:
        return section
    section.blocks.append(
        _kv(
            [
                ("Run", run.id),
                ("Experiment", run.experiment),
                ("Name", run.name),
                ("Status", run.status),
                ("User", run.user),
                ("Started", ms_to_iso(run.start_time)),
                ("Ended", ms_to_iso(run.end_time) if run.end_time else None),
                ("Code version", run.git_commit),
                ("Uncommitted changes", run.git_dirty),
                ("Python", run.python_version),
            ]
        )
    )
    if run.params:
        section.blocks.append(_table(["Parameter", "Value"], sorted(run.params.items())))
    if run.metrics:
        section.blocks.append(_table(["Training metric", "Value"], sorted(run.metrics.items())))
    return section


def _validation(info: Any) -> Section:
    section = Section(
        "validation", "Validation results", "registry: validation metrics and report of the version"
    )
    metrics = info.metrics.get("validation") or {}
    report = info.artifact("validation_report.html")
    if report is not None:
        section.blocks.append(
            _kv(
                [
                    ("Validated on dataset", report.details.get("dataset")),
                    ("Target", report.details.get("target")),
                    ("Report", f"validation_report.html ({report.digest[:19]})"),
                    ("Recorded at", ms_to_iso(report.created_at)),
                ]
            )
        )
    if metrics:
        section.blocks.append(_table(["Validation metric", "Value"], sorted(metrics.items())))
    evaluation = info.metrics.get("evaluation") or {}
    if evaluation:
        section.blocks.append(_table(["Evaluation metric", "Value"], sorted(evaluation.items())))
    return section


FAIRNESS_KEYS = ("approval_rate_ratio", "tpr_gap")


def _fairness(info: Any) -> Section:
    section = Section(
        "fairness", "Fairness results", "registry: fairness figures of the validation"
    )
    metrics = info.metrics.get("validation") or {}
    found = [(k, metrics[k]) for k in FAIRNESS_KEYS if k in metrics]
    if found:
        section.blocks.append(_table(["Fairness measure", "Value"], found))
    return section


def _explanations(yard: Any, info: Any) -> Section:
    section = Section(
        "explanations",
        "Per-decision explanations and reason codes",
        "registry: the version's reason table",
    )
    table = yard.models.reason_table(info)
    if table is None:
        section.blocks.append(
            _text(
                "No reviewed reason table exists for this version: explanations give the "
                "input column names as codes with a generated text."
            )
        )
        return section
    adverse = "higher" if table.adverse_outcome == "high" else "lower"
    section.blocks.append(_text(f"A {adverse} score is the adverse outcome."))
    rows = [[c, r["code"], r["text"], r["direction"]] for c, r in table.reasons.items()]
    rows += [[c, "excluded", note, "-"] for c, note in table.excluded.items()]
    section.blocks.append(_table(["Column", "Code", "Applicant-facing text", "Direction"], rows))
    return section


def _sign_offs(yard: Any, model: Any, info: Any) -> Section:
    section = Section("sign-offs", "Sign-offs", "registry: approvals of the version and policy")
    if not info.approvals:
        return section
    section.blocks.append(
        _table(
            ["Role", "User", "Decision", "Comment", "Time"],
            [
                [a.role, a.user, a.decision, a.comment, ms_to_iso(a.created_at)]
                for a in info.approvals
            ],
        )
    )
    missing = yard.models.missing_sign_offs(info.ref)
    section.blocks.append(
        _text("Sign-offs still needed for champion: " + (", ".join(missing) if missing else "none"))
    )
    return section


def _serving(yard: Any, info: Any) -> Section:
    section = Section(
        "serving",
        "Serving and logging set-up",
        "registry: deployments routing to this model; compiled forms attached to the version",
    )
    rows = []
    for record in yard.deployments.list():
        spec = record.spec
        for route in spec.routes:
            if _routes_here(route.model, info):
                rows.append(
                    [spec.name, route.name, route.model, route.weight, "route", spec.target]
                )
        for shadow in spec.shadows:
            if _routes_here(shadow.model, info):
                rows.append(
                    [spec.name, shadow.name, shadow.model, shadow.sample, "shadow", spec.target]
                )
    if rows:
        section.blocks.append(
            _table(
                ["Endpoint", "Route", "Model reference", "Weight or sample", "Kind", "Target"], rows
            )
        )
        section.blocks.append(
            _text(
                "Served requests are recorded in the prediction log (inputs, outputs, model "
                "version, latency) under <artifact root>/predictions/ when the server runs "
                "with logging on."
            )
        )
    forms = [a for a in info.artifacts if a.kind in ("serving", "compiled")]
    if forms:
        section.blocks.append(
            _table(
                ["Compiled form", "Kind", "Digest", "Details"],
                [[a.name, a.kind, a.digest[:19], _short(a.details)] for a in forms],
            )
        )
    return section


def _short(details: dict[str, Any]) -> str:
    keep = {k: v for k, v in details.items() if not isinstance(v, dict | list)}
    return ", ".join(f"{k}={v}" for k, v in keep.items())


def _routes_here(reference: str, info: Any) -> bool:
    if reference in (info.ref, f"{info.name}@latest"):
        return True
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return name == info.name and alias in info.aliases
    return False


def _monitoring(yard: Any, info: Any) -> list[Section]:
    results = yard.monitors.results(info.ref, limit=200)
    latest = Section(
        "monitoring",
        "Monitoring: rules and latest results",
        "monitoring: stored monitor results and the alert rules that fired",
    )
    if results:
        newest: dict[str, Any] = {}
        for result in results:
            newest.setdefault(result.kind, result)
        latest.blocks.append(
            _table(
                ["Kind", "Window", "Rows", "Summary"],
                [[r.kind, r.window.label(), r.rows, _short(r.summary)] for r in newest.values()],
            )
        )
        history = _monitor_history(results)
        if history is not None:
            latest.blocks.append(_figure(history, "Monitoring results over windows"))
    alerts = yard.monitors.alerts(info.ref, limit=500)
    rules = sorted({a.rule for a in alerts})
    if rules:
        latest.blocks.append(
            _text("Alert rules that have evaluated on this version: " + ", ".join(rules))
        )
    open_alerts = Section("alerts", "Open alerts", "monitoring: alerts of this version")
    firing = [a for a in alerts if a.status == "firing"]
    if firing:
        open_alerts.blocks.append(
            _table(
                ["Rule", "Severity", "Message", "First seen", "Last seen", "Count"],
                [
                    [
                        a.rule,
                        a.severity,
                        a.message,
                        ms_to_iso(a.first_seen),
                        ms_to_iso(a.last_seen),
                        a.count,
                    ]
                    for a in firing
                ],
            )
        )
    elif alerts:
        open_alerts.blocks.append(_text(f"No open alerts ({len(alerts)} resolved)."))
    return [latest, open_alerts]


def _monitor_history(results: list[Any]) -> Any:
    import plotly.graph_objects as go

    figure = go.Figure()
    for kind in sorted({r.kind for r in results}):
        points = sorted((r for r in results if r.kind == kind), key=lambda r: r.window_start)
        numeric = [
            k
            for k, v in points[0].summary.items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        for key in numeric[:3]:
            figure.add_trace(
                go.Scatter(
                    x=[ms_to_iso(p.window_start) for p in points],
                    y=[p.summary.get(key) for p in points],
                    mode="lines+markers",
                    name=f"{kind}: {key}",
                )
            )
    if not figure.data:
        return None
    figure.update_layout(title="Monitoring results per window", height=360)
    return figure


def _history(yard: Any, info: Any) -> Section:
    section = Section(
        "history", "Change history", "audit trail: events about the model and its versions"
    )
    prefix = f"model/{info.name}"
    events = [
        e
        for e in yard.audit.events(limit=AUDIT_LIMIT, newest_first=False)
        if e.subject == prefix or e.subject.startswith((f"{prefix}/", f"{prefix}@"))
    ]
    if events:
        section.blocks.append(
            _table(
                ["#", "Time", "Actor", "Action", "Subject"],
                [[e.seq, ms_to_iso(e.time), e.actor, e.action, e.subject] for e in events],
            )
        )
    return section
