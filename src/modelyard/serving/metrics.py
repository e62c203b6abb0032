"""Prometheus metrics of one serving app, in a registry of its own.

Labelled children are cached, so recording a request costs two dictionary
lookups and two lock-protected increments, not a label resolution.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ServingMetrics"]

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


class ServingMetrics:
    """Every metric family the server exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "modelyard_requests",
            "Requests by endpoint, route, model version, protocol and HTTP status.",
            ["endpoint", "route", "model_version", "protocol", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "modelyard_request_latency_seconds",
            "Time from a request's arrival to its answer, by endpoint and protocol.",
            ["endpoint", "protocol"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.rows = Counter(
            "modelyard_predicted_rows", "Rows scored.", ["endpoint", "route", "shadow"], registry=r
        )
        self.batch_rows = Histogram(
            "modelyard_batch_size_rows",
            "Rows per model call (micro-batches of concurrent requests).",
            ["model", "model_version"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.batch_requests = Histogram(
            "modelyard_batch_size_requests",
            "Requests coalesced into one model call.",
            ["model", "model_version"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.model_load = Gauge(
            "modelyard_model_load_seconds",
            "Seconds to load, compile and warm a model version.",
            ["model", "model_version", "scorer"],
            registry=r,
        )
        self.model_info = Gauge(
            "modelyard_route_model_version",
            "The model version each route serves now.",
            ["endpoint", "route", "model"],
            registry=r,
        )
        self.switches = Counter(
            "modelyard_model_switches",
            "Times a route switched to another model version.",
            ["endpoint", "route"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "modelyard_prediction_log_queue_rows",
            "Prediction records waiting to be written.",
            registry=r,
        )
        self.log_dropped = Counter(
            "modelyard_prediction_log_dropped",
            "Prediction records dropped because the queue was full or the sink failed.",
            registry=r,
        )
        self.log_lost = Counter(
            "modelyard_prediction_log_lost",
            "Prediction records lost in a crash (logged after the last write-ahead flush), "
            "counted when the next start recovers the write-ahead file.",
            registry=r,
        )
        self.log_recovered = Counter(
            "modelyard_prediction_log_recovered",
            "Prediction records written to the sink from a crashed process's write-ahead file.",
            registry=r,
        )
        self.log_written = Counter(
            "modelyard_prediction_log_written", "Prediction records written.", registry=r
        )
        self.shadow_skipped = Counter(
            "modelyard_shadow_skipped",
            "Shadow copies skipped because the shadow backlog was full.",
            ["endpoint", "route"],
            registry=r,
        )
        self.input_warnings = Counter(
            "modelyard_input_warnings",
            "Rows with an out-of-domain value that was scored and flagged, by model, version, "
            "column and kind (unseen_category, out_of_range, null).",
            ["model", "model_version", "column", "kind"],
            registry=r,
        )
        self._request_children: dict[tuple[str, ...], Any] = {}
        self._latency_children: dict[tuple[str, str], Any] = {}
        self._batch_children: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._row_children: dict[tuple[str, str, str], Any] = {}

    def observe_request(
        self,
        endpoint: str,
        route: str,
        version: str,
        protocol: str,
        status: int,
        seconds: float,
        rows: int,
    ) -> None:
        key = (endpoint, route, version, protocol, str(status))
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(*key)
        child.inc()
        lkey = (endpoint, protocol)
        hist = self._latency_children.get(lkey)
        if hist is None:
            hist = self._latency_children[lkey] = self.latency.labels(*lkey)
        hist.observe(seconds)
        if rows:
            self.count_rows(endpoint, route, False, rows)

    def count_rows(self, endpoint: str, route: str, shadow: bool, rows: int) -> None:
        key = (endpoint, route, "true" if shadow else "false")
        child = self._row_children.get(key)
        if child is None:
            child = self._row_children[key] = self.rows.labels(*key)
        child.inc(rows)

    def count_warnings(self, model: str, version: str, totals: dict[tuple[str, str], int]) -> None:
        """Count flagged rows; the labels are signature columns and fixed kinds (bounded)."""
        for (column, kind), rows in totals.items():
            self.input_warnings.labels(model, version, column, kind).inc(rows)

    def observe_batch(self, model: str, version: str, rows: int, requests: int) -> None:
        key = (model, version)
        pair = self._batch_children.get(key)
        if pair is None:
            pair = self._batch_children[key] = (
                self.batch_rows.labels(*key),
                self.batch_requests.labels(*key),
            )
        pair[0].observe(rows)
        pair[1].observe(requests)

    def track_queue(self, depth: Callable[[], float]) -> None:
        self.queue_depth.set_function(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)
