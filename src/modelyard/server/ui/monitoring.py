"""The monitoring dashboard's data, read from ``yard.monitors`` when that service exists.

The monitoring service is optional (another part of the platform provides it).
This adapter reads what it offers — monitor results (drift, quality,
performance per window) and alerts — through a few duck-typed calls, and
builds the figures: a drift heatmap (feature × window), a performance trend
and the alert list. Anything it cannot read becomes an empty state saying
how to enable it.
"""

from __future__ import annotations

from typing import Any

from modelyard._util.clock import ms_to_iso
from modelyard.errors import ModelyardError
from modelyard.server import monitors
from modelyard.server.ui import charts

SCORE_KEYS = ("score", "drift_score", "statistic", "psi", "value")
PERFORMANCE_KEYS = ("auc", "ks", "gini", "brier", "accuracy", "rmse")


def _feature_scores(summary: dict[str, Any]) -> dict[str, float]:
    features = summary.get("features") or summary.get("drift") or {}
    scores: dict[str, float] = {}
    if isinstance(features, dict):
        items = features.items()
    elif isinstance(features, list):
        items = ((f.get("feature") or f.get("name"), f) for f in features if isinstance(f, dict))
    else:
        return scores
    for name, value in items:
        if isinstance(value, int | float):
            scores[str(name)] = float(value)
        elif isinstance(value, dict):
            for key in SCORE_KEYS:
                if isinstance(value.get(key), int | float):
                    scores[str(name)] = float(value[key])
                    break
    return scores


def dashboard(yard: Any, model: str | None) -> dict[str, Any]:
    service = getattr(yard, "monitors", None)
    board: dict[str, Any] = {"enabled": service is not None, "heatmap": None, "trend": None}
    board["alerts"] = []
    board["results"] = []
    board["models"] = []
    board["model"] = model
    if service is None:
        return board
    try:
        results = monitors.results(service, model) or []
        alerts = monitors.alerts(service, model) or []
    except ModelyardError as exc:
        board["error"] = exc.message
        return board
    results.sort(key=lambda r: r.get("window_start") or 0)
    names = sorted({r["model_name"] for r in results if r.get("model_name")})
    board["models"] = names
    if model is None and len(names) > 1:  # one model at a time: the most recently checked
        board["model"] = next(r["model_name"] for r in reversed(results) if r.get("model_name"))
        results = [r for r in results if r.get("model_name") == board["model"]]
        alerts = [a for a in alerts if a.get("model_name") == board["model"]]
    board["results"] = results[-50:]
    board["alerts"] = alerts[:100]
    windows: list[str] = []
    grid: dict[str, dict[str, float]] = {}
    perf: dict[str, tuple[list[int], list[float]]] = {}
    lengths = [
        r["window_end"] - r["window_start"]
        for r in results
        if isinstance(r.get("window_start"), int) and isinstance(r.get("window_end"), int)
    ]
    window_ms = sorted(lengths)[len(lengths) // 2] if lengths else charts.DAY_MS
    width = 10 if window_ms >= charts.DAY_MS else 16  # a date, or a date and a time
    for result in results:
        label = (ms_to_iso(result.get("window_start")) or "?")[:width].replace("T", " ")
        summary = result.get("summary") or {}
        kind = result.get("kind", "drift")
        if kind == "drift":
            scores = _feature_scores(summary)
            if scores:
                windows.append(label)
                for feature, score in scores.items():
                    grid.setdefault(feature, {})[label] = score
        metrics = summary.get("metrics") if isinstance(summary.get("metrics"), dict) else summary
        start = result.get("window_start")
        if kind in ("performance", "estimated") and isinstance(start, int):
            for key in PERFORMANCE_KEYS:
                if isinstance(metrics.get(key), int | float):
                    xs, ys = perf.setdefault(f"{key} ({kind})", ([], []))
                    xs.append(start)
                    ys.append(float(metrics[key]))
    if grid:
        features = sorted(grid)
        columns = list(dict.fromkeys(windows))
        board["heatmap"] = charts.heatmap(
            features,
            columns,
            [[grid[f].get(w) for w in columns] for f in features],
            "Drift score by feature and window",
        )
    if perf:
        board["trend"] = charts.trend(perf, "Performance by window", window_ms)
    return board
