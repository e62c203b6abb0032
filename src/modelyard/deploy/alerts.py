"""The PromQL the alerts and dashboards use, and the metric names they rely on.

Serving metrics come from the serving app's ``/metrics``
(:mod:`modelyard.serving.metrics`). Monitoring metrics (drift scores,
performance, raised alerts) are named in :data:`MONITORING_METRICS`: the
platform exports them from monitor results; tests check every name used
here against a real scrape.
"""

from __future__ import annotations

import re
from typing import Any

from modelyard.deploy.spec import Workload

__all__ = [
    "MONITORING_METRICS",
    "SERVING_METRICS",
    "metric_names",
    "rule_groups",
]

# Families the serving app exports, as they appear in a scrape (counters with _total).
SERVING_METRICS = (
    "modelyard_requests_total",
    "modelyard_request_latency_seconds_bucket",
    "modelyard_request_latency_seconds_count",
    "modelyard_predicted_rows_total",
    "modelyard_batch_size_rows_bucket",
    "modelyard_batch_size_requests_bucket",
    "modelyard_route_model_version",
    "modelyard_model_load_seconds",
    "modelyard_model_switches_total",
    "modelyard_prediction_log_queue_rows",
    "modelyard_prediction_log_dropped_total",
)
# Gauges of the latest monitor result per model version (labels: model, model_version,
# and feature/test, metric or kind), exported by the platform server's /metrics.
MONITORING_METRICS = (
    "modelyard_monitor_drift_score",
    "modelyard_monitor_feature_drifted",
    "modelyard_monitor_performance",
    "modelyard_monitor_alerts",
    "modelyard_monitor_last_run_timestamp_seconds",
)

ERROR_RATE_THRESHOLD = 0.01  # share of 5xx answers over 5 minutes
LATENCY_P95_SECONDS = 0.2
MONITOR_STALE_SECONDS = 3 * 3600

_NAME = re.compile(r"\bmodelyard_[a-zA-Z0-9_:]+")


def metric_names(expr: str) -> set[str]:
    """Modelyard metric names an expression reads."""
    return set(_NAME.findall(expr))


def error_rate(selector: str, window: str = "5m") -> str:
    return (
        f'sum(rate(modelyard_requests_total{{{selector},status=~"5.."}}[{window}]))'
        f" / clamp_min(sum(rate(modelyard_requests_total{{{selector}}}[{window}])), 1e-9)"
    )


def latency_quantile(q: float, selector: str, window: str = "5m", by: str = "le") -> str:
    return (
        f"histogram_quantile({q}, sum by ({by}) "
        f"(rate(modelyard_request_latency_seconds_bucket{{{selector}}}[{window}])))"
    )


def _rule(name: str, expr: str, duration: str, severity: str, summary: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "runbook_url": "docs/deploy.md#alerts"},
    }


def rule_groups(workload: Workload) -> list[dict[str, Any]]:
    """Alerting rules for one endpoint: errors, latency, dropped logs, drift and performance."""
    endpoint = workload.endpoint or workload.name
    sel = f'endpoint="{endpoint}"'
    serving = [
        _rule(
            "ModelyardHighErrorRate",
            f"{error_rate(sel)} > {ERROR_RATE_THRESHOLD}",
            "5m",
            "critical",
            f"More than {ERROR_RATE_THRESHOLD:.0%} of requests to {endpoint} fail (5xx).",
        ),
        _rule(
            "ModelyardHighLatencyP95",
            f"{latency_quantile(0.95, sel)} > {LATENCY_P95_SECONDS}",
            "10m",
            "warning",
            f"p95 latency of {endpoint} is above {LATENCY_P95_SECONDS * 1000:.0f} ms.",
        ),
        _rule(
            "ModelyardPredictionLogDropping",
            "increase(modelyard_prediction_log_dropped_total[15m]) > 0",
            "0m",
            "warning",
            f"{endpoint} drops prediction records: monitoring will miss traffic.",
        ),
    ]
    monitoring = []
    for model in workload.model_names:
        msel = f'model="{model}"'
        monitoring += [
            _rule(
                "ModelyardFeatureDrift",
                f"sum by (model, model_version) (modelyard_monitor_feature_drifted{{{msel}}}) > 0",
                "0m",
                "warning",
                f"Input drift detected for {model}; see the monitoring report.",
            ),
            _rule(
                "ModelyardPerformanceDegraded",
                "max by (model, model_version) "
                f'(modelyard_monitor_alerts{{{msel},kind="performance"}}) > 0',
                "0m",
                "critical",
                f"{model}'s performance on labelled traffic breaches its policy.",
            ),
            _rule(
                "ModelyardMonitorStale",
                f"time() - max(modelyard_monitor_last_run_timestamp_seconds{{{msel}}})"
                f" > {MONITOR_STALE_SECONDS}",
                "15m",
                "warning",
                f"No monitoring run for {model} in the last {MONITOR_STALE_SECONDS // 3600} hours.",
            ),
        ]
    groups = [{"name": f"modelyard.{workload.name}.serving", "rules": serving}]
    if monitoring:
        groups.append({"name": f"modelyard.{workload.name}.monitoring", "rules": monitoring})
    return groups
