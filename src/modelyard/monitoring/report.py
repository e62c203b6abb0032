"""The monitoring report of one model version: one self-contained HTML page, and its JSON.

``build`` gathers the stored history (every window's drift, quality, realised and
estimated performance summaries), the latest window's detail (per-feature
histograms against the reference) and the version's alerts into one plain dict —
the JSON report for machines. ``render_html`` draws it with Plotly (the library's own
JavaScript inlined once, so the page needs no network) in the layout and style the
validation report and model card share (``modelyard.reports``):

1. summary figures of the latest window;
2. reference vs current histograms per feature, and the drift table;
3. drift scores over time, and a feature x window heatmap;
4. data-quality issues;
5. performance over time: estimated (CBPE) beside realised, with intervals, and the
   default rate per score band;
6. the score distribution; 7. alerts; 8. method and assumptions.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jinja2
import plotly.graph_objects as go

from modelyard._util.clock import ms_to_iso
from modelyard.monitoring.performance import ASSUMPTION
from modelyard.monitoring.windows import Window

if TYPE_CHECKING:
    from modelyard.monitoring.alerts import AlertInfo
    from modelyard.monitoring.profiles import VersionReference
    from modelyard.monitoring.service import MonitorResultInfo
    from modelyard.registry.entities import ModelVersionInfo

__all__ = ["FORMAT", "build", "render_html"]

FORMAT = "modelyard.monitoring.report/1"
INK, MUTED, GRID = "#1d2b3a", "#6b7785", "#e3e7ec"
PRIMARY, GOOD, BAD, ACCENT = "#1f4e79", "#2e7d5b", "#b23a48", "#c98a1b"
PALETTE = (
    "#1f4e79", "#c98a1b", "#2e7d5b", "#b23a48", "#6a4c93", "#1b998b", "#8a96a3",
    "#e07a5f", "#3d405b", "#81b29a", "#f2a541", "#5c80bc", "#a44a3f", "#4d908e",
)  # fmt: skip
_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}
PERFORMANCE_METRICS = ("auc", "ks", "brier", "precision", "recall", "positive_rate")


# ---------------------------------------------------------------- the JSON report


def _window_entry(window: Window, kinds: dict[str, MonitorResultInfo]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "start": window.start.isoformat(),
        "end": window.end.isoformat(),
        "label": window.label(),
        "rows": max((r.rows for r in kinds.values()), default=0),
    }
    drift = kinds.get("drift")
    if drift is not None:
        s = drift.summary
        entry["drift"] = {
            "verdict": s.get("verdict"),
            "verdict_reason": s.get("verdict_reason"),
            "min_rows": s.get("min_rows"),
            "drifted_share": s.get("drifted_share"),
            "dataset_drift": s.get("dataset_drift"),
            "drifted_features": s.get("drifted_features", []),
            "scores": {f["feature"]: f.get("score") for f in s.get("features", [])},
            "statistic": {f["feature"]: f.get("statistic") for f in s.get("features", [])},
            "score_psi": (s.get("score") or {}).get("psi"),
        }
    quality = kinds.get("quality")
    if quality is not None:
        s = quality.summary
        entry["quality"] = {
            "verdict": s.get("verdict"),
            "rows": s.get("rows"),
            "min_rows": s.get("min_rows"),
            "passed": s.get("passed"),
            "errors": s.get("errors"),
            "warnings": s.get("warnings"),
            "issues": s.get("issues", []),
        }
    for kind in ("performance", "estimated"):
        r = kinds.get(kind)
        if r is not None:
            s = r.summary
            entry[kind] = {
                "rows": s.get("rows"),
                "verdict": s.get("verdict"),
                "min_rows": s.get("min_rows"),
                "calibration": s.get("calibration"),
                "metrics": s.get("metrics", {}),
                "ci": s.get("ci", {}),
                "drops": s.get("drops", {}),
                "bands": s.get("bands", []),
            }
    return entry


def build(
    info: ModelVersionInfo,
    reference: VersionReference,
    history: Sequence[MonitorResultInfo],
    detail: dict[str, Any] | None,
    alerts: Sequence[AlertInfo],
    *,
    now: int,
) -> dict[str, Any]:
    """The report as plain JSON data (see the module docstring)."""
    by_window: dict[tuple[int, int], dict[str, MonitorResultInfo]] = {}
    for r in history:
        by_window.setdefault((r.window_start, r.window_end), {}).setdefault(r.kind, r)
    windows = [_window_entry(Window.from_ms(*key), by_window[key]) for key in sorted(by_window)]
    latest = windows[-1] if windows else {}
    drift_rows = []
    latest_drift = next(
        (r for r in sorted(history, key=lambda r: -r.window_start) if r.kind == "drift"), None
    )
    if latest_drift is not None:
        drift_rows = latest_drift.summary.get("features", [])
    baseline = reference.baseline
    return {
        "format": FORMAT,
        "model": info.name,
        "version": info.version,
        "ref": info.ref,
        "generated_at": datetime.fromtimestamp(now / 1000, tz=UTC).isoformat(timespec="seconds"),
        "reference": {
            "source": reference.source,
            "description": reference.describe_source(),
            "warning": reference.warning,
            "rows": reference.profile.rows,
            "features": reference.features,
            "threshold": reference.threshold,
            "calibration": reference.calibration.to_dict(),
            "baseline": baseline,
        },
        "windows": windows,
        "latest": {
            "window": {k: latest.get(k) for k in ("start", "end", "label", "rows")},
            "drift": latest.get("drift"),
            "features": drift_rows,
            "histograms": (detail or {}).get("histograms", {}),
            "score_histogram": (detail or {}).get("score_histogram"),
            "quality": latest.get("quality"),
            "performance": latest.get("performance"),
            "estimated": latest.get("estimated"),
        },
        "alerts": [
            {
                **a.to_dict(),
                "first_seen_at": ms_to_iso(a.first_seen),
                "last_seen_at": ms_to_iso(a.last_seen),
            }
            for a in alerts
        ],
        "assumption": ASSUMPTION,
    }


# ---------------------------------------------------------------- charts


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 12, "color": MUTED}},
        "gridcolor": GRID,
        "zerolinecolor": GRID,
        "linecolor": "#c4ccd4",
        "showline": True,
        "tickfont": {"size": 11, "color": INK},
        **extra,
    }


def _html(fig: go.Figure, div_id: str, *, height: int = 320, **layout: Any) -> str:
    fig.update_layout(
        template="none",
        height=height,
        margin={"l": 60, "r": 20, "t": 36, "b": 50},
        font={
            "family": "Inter, 'Segoe UI', Helvetica, Arial, sans-serif",
            "size": 12,
            "color": INK,
        },
        paper_bgcolor="white",
        plot_bgcolor="white",
        showlegend=False,
    )
    fig.update_layout(**layout)
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=_CONFIG,
        default_width="100%",
        default_height=f"{height}px",
    )


def _histogram_chart(title: str, h: dict[str, Any], div_id: str) -> str:
    """Reference as grey bars, current as a blue step line (numeric) or bars (categories)."""
    fig = go.Figure()
    if h["kind"] == "numeric":
        edges = h["edges"]
        x = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        fig.add_trace(
            go.Bar(
                x=x,
                y=h["reference"],
                width=edges[1] - edges[0],
                name="Reference",
                marker={"color": "#c4ccd4"},
                hovertemplate="%{x:.4g}: %{y:.1%}<extra>reference</extra>",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=h["current"],
                name="Current",
                mode="lines",
                line={"color": PRIMARY, "width": 2.2, "shape": "hvh"},
                hovertemplate="%{x:.4g}: %{y:.1%}<extra>current</extra>",
            )
        )
    else:
        for key, color in (("reference", "#c4ccd4"), ("current", PRIMARY)):
            fig.add_trace(
                go.Bar(
                    x=h["labels"],
                    y=h[key],
                    name=key,
                    marker={"color": color},
                    hovertemplate="%{x}: %{y:.1%}<extra>" + key + "</extra>",
                )
            )
    return _html(
        fig,
        div_id,
        height=240,
        barmode="group",
        title={"text": title, "font": {"size": 13}},
        xaxis=_axis(""),
        yaxis=_axis("Share", tickformat=".0%"),
    )


def _drift_trend(windows: list[dict[str, Any]]) -> str | None:
    rows = [w for w in windows if "drift" in w]
    if not rows:
        return None
    features = list(dict.fromkeys(f for w in rows for f in w["drift"]["scores"]))
    fig = go.Figure()
    for i, feature in enumerate(features):
        fig.add_trace(
            go.Scatter(
                x=[w["label"] for w in rows],
                y=[w["drift"]["scores"].get(feature) for w in rows],
                mode="lines+markers",
                name=feature,
                line={"color": PALETTE[i % len(PALETTE)], "width": 1.8},
                hovertemplate="%{x}: %{y:.3f}<extra>" + feature + "</extra>",
            )
        )
    fig.add_hline(y=0.1, line={"color": BAD, "dash": "dash", "width": 1})
    return _html(
        fig,
        "drift-trend",
        height=380,
        xaxis=_axis("Window", type="category"),
        yaxis=_axis("Drift score (W1/std or JS distance)"),
        showlegend=True,
        legend={"orientation": "v", "x": 1.02, "y": 1, "font": {"size": 11}},
        margin={"l": 60, "r": 170, "t": 20, "b": 50},
    )


def _heatmap(windows: list[dict[str, Any]]) -> str | None:
    rows = [w for w in windows if "drift" in w]
    if not rows:
        return None
    features = list(dict.fromkeys(f for w in rows for f in w["drift"]["scores"]))
    z = [[w["drift"]["scores"].get(f) for w in rows] for f in features]
    text = [
        ["drifted" if f in w["drift"]["drifted_features"] else "" for w in rows] for f in features
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[w["label"] for w in rows],
            y=features,
            text=text,
            colorscale=[[0, "#f5f7fa"], [0.25, "#f2d49b"], [1, BAD]],
            zmin=0,
            zmax=max(0.2, max((v for r in z for v in r if v is not None), default=0.2)),
            hovertemplate="%{y} · %{x}: %{z:.3f} %{text}<extra></extra>",
            colorbar={"title": {"text": "score", "font": {"size": 11}}},
        )
    )
    return _html(
        fig,
        "drift-heatmap",
        height=max(260, 26 * len(features) + 90),
        xaxis=_axis("Window", type="category"),
        yaxis=_axis("", autorange="reversed"),
        margin={"l": 150, "r": 20, "t": 20, "b": 50},
    )


def _performance_chart(windows: list[dict[str, Any]], metric: str) -> str | None:
    fig = go.Figure()
    drawn = False
    for kind, label, color, dash in (
        ("estimated", "Estimated (CBPE)", ACCENT, "dot"),
        ("performance", "Realised", PRIMARY, "solid"),
    ):
        rows = [w for w in windows if kind in w and w[kind]["metrics"].get(metric) is not None]
        if not rows:
            continue
        drawn = True
        y = [w[kind]["metrics"][metric] for w in rows]
        ci = [w[kind]["ci"].get(metric) for w in rows]
        error = None
        if all(c is not None for c in ci):
            error = {
                "type": "data",
                "symmetric": False,
                "array": [c[1] - v for c, v in zip(ci, y, strict=True)],
                "arrayminus": [v - c[0] for c, v in zip(ci, y, strict=True)],
                "color": color,
                "thickness": 1,
            }
        fig.add_trace(
            go.Scatter(
                x=[w["label"] for w in rows],
                y=y,
                error_y=error,
                mode="lines+markers",
                name=label,
                line={"color": color, "dash": dash, "width": 2},
                hovertemplate="%{x}: %{y:.4f}<extra>" + label + "</extra>",
            )
        )
    if not drawn:
        return None
    return _html(
        fig,
        f"perf-{metric}",
        height=280,
        title={"text": metric.replace("_", " "), "font": {"size": 13}},
        xaxis=_axis("Window", type="category"),
        yaxis=_axis(""),
    )


def _score_chart(h: dict[str, Any] | None) -> str | None:
    if not h:
        return None
    return _histogram_chart("Score (probability of the positive class)", h, "score-hist")


def charts(body: dict[str, Any]) -> dict[str, Any]:
    windows = body["windows"]
    latest = body["latest"]
    return {
        "histograms": [
            (name, _histogram_chart(name, h, f"hist-{i}"))
            for i, (name, h) in enumerate(latest["histograms"].items())
        ],
        "drift_trend": _drift_trend(windows),
        "heatmap": _heatmap(windows),
        "performance": [
            c for m in PERFORMANCE_METRICS if (c := _performance_chart(windows, m)) is not None
        ],
        "score": _score_chart(latest.get("score_histogram")),
    }


# ---------------------------------------------------------------- HTML


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    from modelyard.reports._format import fmt_int, fmt_num, fmt_pct, fmt_value, fmt_when

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("modelyard.monitoring", "templates"),
                jinja2.PackageLoader("modelyard.reports", "templates"),  # layout and CSS
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=fmt_num, count=fmt_int, pct=fmt_pct, value=fmt_value, when=fmt_when)
    return env


def render_html(body: dict[str, Any]) -> str:
    """The report page for ``build``'s data."""
    from modelyard.reports._render import plotly_bundle

    latest = body["latest"]
    open_alerts = [a for a in body["alerts"] if a["status"] == "firing"]
    return (
        _environment()
        .get_template("monitoring.html.j2")
        .render(
            page_title=f"Monitoring report: {body['model']} v{body['version']}",
            body=body,
            latest=latest,
            charts=charts(body),
            open_alerts=open_alerts,
            plotly_js=plotly_bundle(),
            metrics=PERFORMANCE_METRICS,
        )
    )
