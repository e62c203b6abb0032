"""Prometheus gauges of the latest monitor results, read from the metadata store per scrape.

``MonitorCollector`` is a custom collector: every scrape reads the newest result of
each (model, version, kind) and the firing alerts, so any process can export what any
other stored (a cron job runs ``modelyard monitor run``; ``modelyard monitor watch
--metrics-port`` or the platform server exports). Names and labels, which the
generated Grafana dashboards and PrometheusRules read (``modelyard.deploy``):

========================================================  ===============================
``modelyard_monitor_drift_score``                          model, model_version, feature,
                                                          statistic (W1/std, JS, psi)
``modelyard_monitor_feature_drifted``                      model, model_version, feature
``modelyard_monitor_drift_share``                          model, model_version
``modelyard_monitor_quality_issues``                       model, model_version, severity
``modelyard_monitor_performance``                          model, model_version, metric,
                                                          kind (realised, estimated)
``modelyard_monitor_rows``                                 model, model_version
``modelyard_monitor_alerts``                               model, model_version, kind
``modelyard_monitor_last_run_timestamp_seconds``           model, model_version
========================================================  ===============================
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from modelyard.store.models import AlertRecord, MonitorResult

if TYPE_CHECKING:
    from modelyard.store import MetadataStore

__all__ = ["METRIC_NAMES", "MonitorCollector", "registry_for", "serve_metrics"]

METRIC_NAMES = (
    "modelyard_monitor_drift_score",
    "modelyard_monitor_feature_drifted",
    "modelyard_monitor_drift_share",
    "modelyard_monitor_quality_issues",
    "modelyard_monitor_performance",
    "modelyard_monitor_rows",
    "modelyard_monitor_alerts",
    "modelyard_monitor_last_run_timestamp_seconds",
)
PERFORMANCE_METRICS = ("auc", "gini", "ks", "brier", "log_loss", "precision", "recall")
_KIND_LABEL = {"performance": "realised", "estimated": "estimated"}


class MonitorCollector(Collector):
    """Gauges of the newest stored results (optionally of some models only)."""

    def __init__(self, store: MetadataStore, models: Sequence[str] | None = None) -> None:
        self._store = store
        self._models = list(models) if models else None

    def _latest(self) -> list[MonitorResult]:
        newest = select(func.max(MonitorResult.id)).group_by(
            MonitorResult.model_name, MonitorResult.model_version, MonitorResult.kind
        )
        if self._models:
            newest = newest.where(MonitorResult.model_name.in_(self._models))
        with self._store.read() as session:
            return list(
                session.scalars(select(MonitorResult).where(MonitorResult.id.in_(newest))).all()
            )

    def _alerts(self) -> list[tuple[str, int | None, dict[str, Any]]]:
        query = select(
            AlertRecord.model_name, AlertRecord.model_version, AlertRecord.payload
        ).where(AlertRecord.status == "firing")
        if self._models:
            query = query.where(AlertRecord.model_name.in_(self._models))
        with self._store.read() as session:
            return [(m, v, p or {}) for m, v, p in session.execute(query).all()]

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # collected per scrape: nothing to check at registration

    def collect(self) -> Iterator[GaugeMetricFamily]:
        score = GaugeMetricFamily(
            "modelyard_monitor_drift_score",
            "Drift score of each feature in the latest window (see the statistic label).",
            labels=["model", "model_version", "feature", "statistic"],
        )
        drifted = GaugeMetricFamily(
            "modelyard_monitor_feature_drifted",
            "1 when the feature drifted in the latest window, else 0.",
            labels=["model", "model_version", "feature"],
        )
        share = GaugeMetricFamily(
            "modelyard_monitor_drift_share",
            "Share of tested features that drifted in the latest window.",
            labels=["model", "model_version"],
        )
        issues = GaugeMetricFamily(
            "modelyard_monitor_quality_issues",
            "Data-quality issues in the latest window, by severity.",
            labels=["model", "model_version", "severity"],
        )
        perf = GaugeMetricFamily(
            "modelyard_monitor_performance",
            "Performance in the latest window: realised (labels) or estimated (CBPE).",
            labels=["model", "model_version", "metric", "kind"],
        )
        rows = GaugeMetricFamily(
            "modelyard_monitor_rows",
            "Rows in the latest monitored window.",
            labels=["model", "model_version"],
        )
        alerts = GaugeMetricFamily(
            "modelyard_monitor_alerts",
            "Firing alerts by kind of check (drift, quality, performance, estimated, score).",
            labels=["model", "model_version", "kind"],
        )
        last = GaugeMetricFamily(
            "modelyard_monitor_last_run_timestamp_seconds",
            "When the latest monitoring result of the version was stored.",
            labels=["model", "model_version"],
        )
        newest: dict[tuple[str, str], MonitorResult] = {}
        for r in self._latest():
            key = (r.model_name, str(r.model_version))
            s = r.summary or {}
            if newest.get(key) is None or r.created_at > newest[key].created_at:
                newest[key] = r
            if r.kind == "drift":
                for f in s.get("features", []):
                    if f.get("score") is not None:
                        score.add_metric([*key, f["feature"], f.get("statistic", "")], f["score"])
                    drifted.add_metric([*key, f["feature"]], float(bool(f.get("drifted"))))
                if s.get("drifted_share") is not None:
                    share.add_metric(list(key), float(s["drifted_share"]))
                rows.add_metric(list(key), float(r.rows))
            elif r.kind == "quality":
                issues.add_metric([*key, "error"], float(s.get("errors") or 0))
                issues.add_metric([*key, "warning"], float(s.get("warnings") or 0))
            elif r.kind in _KIND_LABEL:
                for metric in PERFORMANCE_METRICS:
                    value = (s.get("metrics") or {}).get(metric)
                    if isinstance(value, int | float):
                        perf.add_metric([*key, metric, _KIND_LABEL[r.kind]], float(value))
        for key, r in newest.items():
            last.add_metric(list(key), r.created_at / 1000)
        counts: dict[tuple[str, str, str], int] = {}
        for model, version, payload in self._alerts():
            k = (model, str(version), str(payload.get("kind", "")))
            counts[k] = counts.get(k, 0) + 1
        for k, n in counts.items():
            alerts.add_metric(list(k), float(n))
        yield from (score, drifted, share, issues, perf, rows, alerts, last)


def registry_for(store: MetadataStore, models: Sequence[str] | None = None) -> CollectorRegistry:
    """A registry holding only the monitoring collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MonitorCollector(store, models))
    return registry


def serve_metrics(
    store: MetadataStore, port: int, *, models: Sequence[str] | None = None, addr: str = "0.0.0.0"
) -> Any:
    """Serve the gauges on ``http://addr:port/metrics`` from a daemon thread; returns the
    server (call ``shutdown()`` to stop it)."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=addr, registry=registry_for(store, models))
    return server
