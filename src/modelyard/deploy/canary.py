"""Watching a canary through Prometheus: promote only while errors and latency stay low.

``modelyard deploy canary-check`` queries Prometheus's HTTP API every
``interval`` for ``duration``: the canary route's 5xx share, the endpoint's
p95 latency (the same PromQL as the alert rules) and the alerts firing for
the endpoint. Any breach fails at once with one line saying which.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from modelyard.deploy.alerts import error_rate, latency_quantile
from modelyard.errors import InvalidInput, ModelyardError

__all__ = ["CanaryBreach", "CanaryResult", "watch_canary"]


class CanaryBreach(ModelyardError):
    """The canary broke a limit; the release must roll back."""


@dataclass(frozen=True)
class CanaryResult:
    rounds: int
    worst_error_rate: float
    worst_p95_ms: float


def _query(client: httpx.Client, expr: str) -> float | None:
    try:
        response = client.get("/api/v1/query", params={"query": expr})
        response.raise_for_status()
        data = response.json()["data"]["result"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise ModelyardError(f"cannot query Prometheus at {client.base_url}: {exc}") from exc
    if not data:
        return None  # no traffic yet: nothing to judge
    value = float(data[0]["value"][1])
    return None if value != value else value  # NaN: no requests in the window


def _firing(client: httpx.Client, endpoint: str) -> list[str]:
    try:
        response = client.get("/api/v1/alerts")
        response.raise_for_status()
        alerts = response.json()["data"]["alerts"]
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise ModelyardError(f"cannot read alerts from {client.base_url}: {exc}") from exc
    return sorted(
        a["labels"].get("alertname", "?")
        for a in alerts
        if a.get("state") == "firing" and a.get("labels", {}).get("endpoint") == endpoint
    )


def watch_canary(
    prometheus: str,
    endpoint: str,
    *,
    route: str = "canary",
    duration_s: float = 900.0,
    interval_s: float = 30.0,
    max_error_rate: float = 0.01,
    latency_budget_ms: float = 200.0,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = lambda _: None,
) -> CanaryResult:
    """Poll until ``duration_s`` has passed; raise :class:`CanaryBreach` at the first breach."""
    if not prometheus.startswith(("http://", "https://")):
        raise InvalidInput(f"--prometheus must be an http(s) URL; got {prometheus!r}")
    if duration_s < 0 or interval_s <= 0:
        raise InvalidInput("--duration-s must be >= 0 and --interval-s > 0")
    errors_expr = error_rate(f'endpoint="{endpoint}",route="{route}"')
    latency_expr = latency_quantile(0.95, f'endpoint="{endpoint}"')
    deadline = time.monotonic() + duration_s
    rounds, worst_errors, worst_p95 = 0, 0.0, 0.0
    with httpx.Client(base_url=prometheus.rstrip("/"), timeout=10.0) as client:
        while True:
            rounds += 1
            errors = _query(client, errors_expr)
            p95 = _query(client, latency_expr)
            firing = _firing(client, endpoint)
            if errors is not None:
                worst_errors = max(worst_errors, errors)
                if errors > max_error_rate:
                    raise CanaryBreach(
                        f"canary route {route!r} of {endpoint}: error rate {errors:.2%} "
                        f"exceeds {max_error_rate:.2%}"
                    )
            if p95 is not None:
                worst_p95 = max(worst_p95, p95 * 1000)
                if p95 * 1000 > latency_budget_ms:
                    raise CanaryBreach(
                        f"{endpoint}: p95 latency {p95 * 1000:.0f} ms exceeds the "
                        f"{latency_budget_ms:g} ms budget"
                    )
            if firing:
                raise CanaryBreach(f"{endpoint}: alerts firing: {', '.join(firing)}")
            report(
                f"round {rounds}: error rate {errors if errors is not None else '-'}, "
                f"p95 {'-' if p95 is None else f'{p95 * 1000:.1f} ms'}, no alerts"
            )
            if time.monotonic() >= deadline:
                return CanaryResult(rounds, worst_errors, worst_p95)
            sleep(interval_s)
