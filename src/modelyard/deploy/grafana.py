"""Grafana dashboards: serving (traffic, latency, errors, batching, versions) and monitoring.

Dashboards are built as data (Grafana's dashboard JSON model, schemaVersion
39) with a Prometheus datasource variable, so they import into any Grafana
with a Prometheus that scrapes the endpoints. Every expression reads metrics
listed in :mod:`modelyard.deploy.alerts`; tests check them against a scrape.
"""

from __future__ import annotations

import json
from typing import Any

from modelyard.deploy.alerts import error_rate, latency_quantile
from modelyard.deploy.spec import Workload

__all__ = ["dashboards", "render"]

SCHEMA_VERSION = 39
_DS = {"type": "prometheus", "uid": "${datasource}"}


def _target(expr: str, legend: str, ref: str = "A", instant: bool = False) -> dict[str, Any]:
    target: dict[str, Any] = {
        "datasource": _DS,
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
    }
    if instant:
        target["instant"] = True
        target["format"] = "table"
    return target


def _panel(
    pid: int,
    title: str,
    targets: list[dict[str, Any]],
    grid: tuple[int, int, int, int],
    *,
    kind: str = "timeseries",
    unit: str = "short",
    description: str = "",
) -> dict[str, Any]:
    x, y, w, h = grid
    for i, target in enumerate(targets):
        target["refId"] = chr(ord("A") + i)
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": _DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if kind == "timeseries"
        else {},
        "targets": targets,
    }


def _variables(extra: list[dict[str, Any]]) -> dict[str, Any]:
    datasource = {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
    }
    return {"list": [datasource, *extra]}


def _query_variable(name: str, label: str, query: str, default: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": _DS,
        "query": {"query": query, "refId": f"{name}-var"},
        "definition": query,
        "current": {"text": default, "value": default},
        "includeAll": True,
        "multi": True,
        "refresh": 2,
        "hide": 0,
    }


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]], variables: list) -> dict:
    return {
        "uid": uid,
        "title": title,
        "tags": ["modelyard"],
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": _variables(variables),
        "annotations": {"list": []},
        "panels": panels,
    }


def serving_dashboard(endpoint: str) -> dict[str, Any]:
    sel = 'endpoint=~"$endpoint"'
    panels = [
        _panel(
            1,
            "Requests per second by route",
            [_target(f"sum by (route) (rate(modelyard_requests_total{{{sel}}}[5m]))", "{{route}}")],
            (0, 0, 12, 8),
            unit="reqps",
        ),
        _panel(
            2,
            "Latency percentiles",
            [_target(latency_quantile(q, sel), f"p{int(q * 100)}") for q in (0.5, 0.95, 0.99)],
            (12, 0, 12, 8),
            unit="s",
        ),
        _panel(
            3,
            "Error rate (5xx share)",
            [_target(error_rate(sel), "5xx share")],
            (0, 8, 8, 8),
            unit="percentunit",
        ),
        _panel(
            4,
            "Responses by status",
            [
                _target(
                    f"sum by (status) (rate(modelyard_requests_total{{{sel}}}[5m]))", "{{status}}"
                )
            ],
            (8, 8, 8, 8),
            unit="reqps",
        ),
        _panel(
            5,
            "Rows scored per second",
            [
                _target(
                    f"sum by (route, shadow) (rate(modelyard_predicted_rows_total{{{sel}}}[5m]))",
                    "{{route}} shadow={{shadow}}",
                )
            ],
            (16, 8, 8, 8),
            unit="short",
        ),
        _panel(
            6,
            "Batch size (rows per model call)",
            [
                _target(
                    f"histogram_quantile({q}, sum by (le) "
                    "(rate(modelyard_batch_size_rows_bucket[5m])))",
                    f"p{int(q * 100)}",
                )
                for q in (0.5, 0.95)
            ],
            (0, 16, 12, 8),
            description="Micro-batches of concurrent requests; grows with load.",
        ),
        _panel(
            7,
            "Requests per model call",
            [
                _target(
                    "histogram_quantile(0.95, sum by (le) "
                    "(rate(modelyard_batch_size_requests_bucket[5m])))",
                    "p95",
                )
            ],
            (12, 16, 12, 8),
        ),
        _panel(
            8,
            "Model versions served",
            [
                _target(
                    f"max by (endpoint, route, model) (modelyard_route_model_version{{{sel}}})",
                    "{{endpoint}} {{route}} {{model}}",
                    instant=True,
                )
            ],
            (0, 24, 12, 8),
            kind="table",
            description="The version each route serves now; a change is an alias move or rollout.",
        ),
        _panel(
            9,
            "Version switches and load time",
            [
                _target(
                    f"sum by (route) (increase(modelyard_model_switches_total{{{sel}}}[1h]))",
                    "switches {{route}}",
                ),
                _target(
                    "max by (model, model_version) (modelyard_model_load_seconds)",
                    "load s {{model}}/{{model_version}}",
                ),
            ],
            (12, 24, 12, 8),
        ),
        _panel(
            10,
            "Prediction log",
            [
                _target("sum(modelyard_prediction_log_queue_rows)", "queued rows"),
                _target(
                    "sum(rate(modelyard_prediction_log_dropped_total[5m]))", "dropped per second"
                ),
            ],
            (0, 32, 24, 8),
            description="Records waiting to be written; any drop means monitoring misses traffic.",
        ),
    ]
    variable = _query_variable(
        "endpoint", "Endpoint", "label_values(modelyard_requests_total, endpoint)", endpoint
    )
    return _dashboard(
        f"modelyard-serving-{endpoint}"[:40], f"Modelyard serving: {endpoint}", panels, [variable]
    )


def monitoring_dashboard(models: list[str], endpoint: str) -> dict[str, Any]:
    sel = 'model=~"$model"'
    panels = [
        _panel(
            1,
            "Drift score by feature",
            [_target(f"max by (feature) (modelyard_monitor_drift_score{{{sel}}})", "{{feature}}")],
            (0, 0, 12, 9),
            description="Each feature's drift statistic of the latest monitoring run.",
        ),
        _panel(
            2,
            "Drifted features",
            [
                _target(
                    f"sum by (model, model_version) (modelyard_monitor_feature_drifted{{{sel}}})",
                    "{{model}}/{{model_version}}",
                )
            ],
            (12, 0, 6, 9),
            kind="stat",
        ),
        _panel(
            3,
            "Open alerts by kind",
            [
                _target(
                    f"sum by (kind) (modelyard_monitor_alerts{{{sel}}})",
                    "{{kind}}",
                )
            ],
            (18, 0, 6, 9),
            kind="stat",
        ),
        _panel(
            4,
            "Performance on labelled traffic",
            [
                _target(
                    f"max by (model_version, metric) (modelyard_monitor_performance{{{sel}}})",
                    "{{metric}} v{{model_version}}",
                )
            ],
            (0, 9, 16, 9),
            description="Metrics (AUC, KS, Brier, ...) once labels arrive for the window.",
        ),
        _panel(
            5,
            "Hours since the last monitoring run",
            [
                _target(
                    f"(time() - max by (model) "
                    f"(modelyard_monitor_last_run_timestamp_seconds{{{sel}}})) / 3600",
                    "{{model}}",
                )
            ],
            (16, 9, 8, 9),
            kind="stat",
            unit="h",
        ),
    ]
    default = models[0] if models else endpoint
    variable = _query_variable(
        "model", "Model", "label_values(modelyard_monitor_drift_score, model)", default
    )
    return _dashboard(
        f"modelyard-monitoring-{endpoint}"[:40],
        f"Modelyard monitoring: {endpoint}",
        panels,
        [variable],
    )


def dashboards(workload: Workload) -> dict[str, dict[str, Any]]:
    endpoint = workload.endpoint or workload.name
    return {
        "serving.json": serving_dashboard(endpoint),
        "monitoring.json": monitoring_dashboard(workload.model_names, endpoint),
    }


def render(workload: Workload, *, prefix: str = "grafana/") -> dict[str, str]:
    return {
        f"{prefix}{name}": json.dumps(board, indent=2) + "\n"
        for name, board in dashboards(workload).items()
    }
