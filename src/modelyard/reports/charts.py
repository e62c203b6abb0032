"""Plotly figures of the validation report, drawn from ``ValidationResult.sections`` data.

Each function takes one section's plain data and returns an HTML fragment
(``fig.to_html(full_html=False, include_plotlyjs=False)``): the report embeds
Plotly's bundle once and every chart reuses it. Figures use the bare "none"
template plus the few layout settings below, because Plotly's default
template adds ~10 kB of JSON to every chart. Div ids are fixed, so the same
data renders the same bytes.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import plotly.graph_objects as go

__all__ = [
    "calibration_chart",
    "fairness_chart",
    "importance_chart",
    "ks_chart",
    "roc_chart",
    "score_distribution_chart",
]

INK = "#1d2b3a"
MUTED = "#6b7785"
GRID = "#e3e7ec"
PRIMARY = "#1f4e79"
GOOD = "#2e7d5b"
BAD = "#b23a48"
ACCENT = "#c98a1b"
_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d"],
}


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 12, "color": MUTED}},
        "gridcolor": GRID,
        "zerolinecolor": GRID,
        "linecolor": "#c4ccd4",
        "showline": True,
        "ticks": "outside",
        "tickcolor": "#c4ccd4",
        "tickfont": {"size": 11, "color": INK},
        **extra,
    }


def _html(fig: go.Figure, div_id: str, *, height: int = 360) -> str:
    fig.update_layout(
        template="none",
        height=height,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        font={
            "family": "Inter, 'Segoe UI', Helvetica, Arial, sans-serif",
            "size": 12,
            "color": INK,
        },
        paper_bgcolor="white",
        plot_bgcolor="white",
        legend={"orientation": "h", "y": 1.08, "x": 0, "font": {"size": 11}},
        hoverlabel={"font": {"size": 11}},
    )
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=_CONFIG,
        default_width="100%",
        default_height=f"{height}px",
    )


def roc_chart(roc: dict[str, Any], auc: float) -> str:
    """ROC curve against the diagonal of a random score."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name="Random",
            line={"color": MUTED, "dash": "dot", "width": 1},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=roc["fpr"],
            y=roc["tpr"],
            customdata=roc["threshold"],
            mode="lines",
            name=f"Model (AUC {auc:.3f})",
            line={"color": PRIMARY, "width": 2.5},
            hovertemplate=(
                "FPR %{x:.3f}<br>TPR %{y:.3f}<br>cut-off %{customdata:.3f}<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        xaxis=_axis("False-positive rate (goods declined)", range=[0, 1]),
        yaxis=_axis("True-positive rate (defaults caught)", range=[0, 1.01]),
    )
    return _html(fig, "chart-roc")


def ks_chart(ks: dict[str, Any]) -> str:
    """Cumulative score distributions of goods and bads, with the KS gap marked."""
    fig = go.Figure()
    for key, name, color in (
        ("cdf_goods", "Goods (no default)", GOOD),
        ("cdf_bads", "Bads (default)", BAD),
    ):
        fig.add_trace(
            go.Scatter(
                x=ks["score"],
                y=ks[key],
                mode="lines",
                name=name,
                line={"color": color, "width": 2.2, "shape": "hv"},
                hovertemplate="score ≤ %{x:.3f}: %{y:.1%}<extra>" + name + "</extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[ks["at_score"], ks["at_score"]],
            y=[ks["cdf_bads_at"], ks["cdf_goods_at"]],
            mode="lines+markers",
            name=f"KS {ks['ks']:.3f} at score {ks['at_score']:.3f}",
            line={"color": ACCENT, "width": 2, "dash": "dash"},
            marker={"size": 6},
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        xaxis=_axis("Score (probability of default)"),
        yaxis=_axis("Cumulative share", tickformat=".0%", range=[0, 1.01]),
    )
    return _html(fig, "chart-ks")


def calibration_chart(bins: list[dict[str, Any]]) -> str:
    """Reliability diagram: observed default rate against mean score per score decile."""
    top = max([b["mean_score"] for b in bins] + [b["default_rate"] for b in bins]) * 1.05
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, top],
            y=[0, top],
            mode="lines",
            name="Perfect calibration",
            line={"color": MUTED, "dash": "dot", "width": 1},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[b["mean_score"] for b in bins],
            y=[b["default_rate"] for b in bins],
            customdata=[b["count"] for b in bins],
            mode="lines+markers",
            name="Model",
            line={"color": PRIMARY, "width": 2},
            marker={"size": 8},
            hovertemplate=(
                "mean score %{x:.3f}<br>default rate %{y:.3f}<br>"
                "%{customdata:,} loans<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        xaxis=_axis("Mean predicted probability of default", range=[0, top]),
        yaxis=_axis("Observed default rate", range=[0, top]),
    )
    return _html(fig, "chart-calibration")


def score_distribution_chart(histogram: dict[str, Any], threshold: float) -> str:
    """Score histograms of goods and bads (share within class), with the cut-off marked."""
    edges = histogram["edges"]
    centers = [(lo + hi) / 2 for lo, hi in pairwise(edges)]
    width = edges[1] - edges[0]
    fig = go.Figure()
    for key, name, color in (
        ("goods_share", "Goods (no default)", GOOD),
        ("bads_share", "Bads (default)", BAD),
    ):
        fig.add_trace(
            go.Bar(
                x=centers,
                y=histogram[key],
                width=width,
                name=name,
                marker={"color": color},
                opacity=0.6,
                hovertemplate="score ≈ %{x:.3f}: %{y:.1%}<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(
        barmode="overlay",
        bargap=0,
        xaxis=_axis("Score (probability of default)"),
        yaxis=_axis("Share of class", tickformat=".0%"),
    )
    if edges[0] <= threshold <= edges[-1]:
        fig.add_vline(
            x=threshold,
            line={"color": ACCENT, "dash": "dash", "width": 2},
            annotation={"text": f"cut-off {threshold:g}", "font": {"color": ACCENT, "size": 11}},
        )
    return _html(fig, "chart-scores")


def fairness_chart(fairness: dict[str, Any]) -> str:
    """Approval rate and true-positive rate per group, with the four-fifths reference line."""
    groups = fairness["groups"]
    names = [g["group"] for g in groups]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=names,
            y=[g["approval_rate"] for g in groups],
            name="Approval rate",
            marker={"color": PRIMARY},
            hovertemplate="%{x}: %{y:.1%}<extra>approval rate</extra>",
        )
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[g["tpr"] for g in groups],
            name="True-positive rate (defaults declined)",
            marker={"color": ACCENT},
            hovertemplate="%{x}: %{y:.1%}<extra>true-positive rate</extra>",
        )
    )
    best = max(g["approval_rate"] for g in groups)
    if best > 0:
        fig.add_hline(
            y=0.8 * best,
            line={"color": BAD, "dash": "dash", "width": 1.5},
            annotation={"text": "⅘ of highest approval rate", "font": {"color": BAD, "size": 11}},
        )
    fig.update_layout(
        barmode="group",
        xaxis=_axis(fairness["attribute"], type="category"),
        yaxis=_axis("Rate", tickformat=".0%", range=[0, 1.05]),
    )
    return _html(fig, "chart-fairness")


def importance_chart(importance: dict[str, Any], *, top: int = 20) -> str:
    """Horizontal bars of the ``top`` most important features, the most important on top."""
    rows = importance["features"][:top][::-1]
    error = None
    if rows and rows[0]["std"] is not None:
        error = {"type": "data", "array": [r["std"] for r in rows], "color": MUTED, "thickness": 1}
    fig = go.Figure(
        go.Bar(
            x=[r["importance"] for r in rows],
            y=[r["feature"] for r in rows],
            orientation="h",
            marker={"color": PRIMARY},
            error_x=error,
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis=_axis(importance["measure"]),
        yaxis=_axis("", type="category", automargin=True),
        margin={"l": 160},
    )
    return _html(fig, "chart-importance", height=max(260, 28 * len(rows) + 90))
