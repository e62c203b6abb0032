"""Figures built on the server: Plotly divs (the bundle is served locally) and inline SVG.

Plotly figures become ``<div>`` + inline script fragments that expect
``/static/plotly.min.js`` on the page. The lineage graph and the small
histograms are plain SVG strings, so they need no JavaScript at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from markupsafe import Markup

PALETTE = ("#1f4e79", "#2e86ab", "#a23b72", "#f18f01", "#3b8b5a", "#6c757d", "#c73e1d")
_CONFIG = {"displaylogo": False, "responsive": True}
_LAYOUT = {
    "template": "plotly_white",
    "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
    "font": {"family": "Inter, system-ui, sans-serif", "size": 12},
    "height": 320,
}


def _html(fig: Any) -> Markup:
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, config=_CONFIG))


def metric_bars(runs: Sequence[Mapping[str, Any]], metrics: Mapping[str, list[Any]]) -> Markup:
    """Grouped bars: one group per metric, one bar per run."""
    import plotly.graph_objects as go

    fig = go.Figure()
    keys = [k for k, values in metrics.items() if any(isinstance(v, int | float) for v in values)]
    for i, run in enumerate(runs):
        fig.add_bar(
            name=f"{run['name']} ({run['id'][:8]})",
            x=keys,
            y=[metrics[k][i] for k in keys],
            marker_color=PALETTE[i % len(PALETTE)],
        )
    fig.update_layout(**_LAYOUT, barmode="group", title="Latest metric values")
    return _html(fig)


def metric_histories(histories: Mapping[str, Mapping[str, Sequence[Any]]]) -> Markup:
    """One line per run for a stepped metric: ``{key: {run label: [points]}}``."""
    from plotly.subplots import make_subplots

    keys = list(histories)
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=keys)
    for col, key in enumerate(keys, start=1):
        for i, (label, points) in enumerate(histories[key].items()):
            fig.add_scatter(
                x=[p.step for p in points],
                y=[p.value for p in points],
                mode="lines",
                name=label,
                line={"color": PALETTE[i % len(PALETTE)]},
                showlegend=col == 1,
                row=1,
                col=col,
            )
    fig.update_layout(**_LAYOUT, title="Metric history by step")
    return _html(fig)


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    title: str,
) -> Markup:
    import plotly.graph_objects as go

    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=list(columns),
            y=list(rows),
            colorscale=[[0, "#eef5fb"], [0.5, "#f6c667"], [1, "#c73e1d"]],
            zmin=0,
            hoverongaps=False,
            colorbar={"title": "score"},
        )
    )
    fig.update_layout(**{**_LAYOUT, "height": max(280, 28 * len(rows) + 120)}, title=title)
    # Window labels are categories: a date axis would stretch one window over sub-ms ticks.
    fig.update_xaxes(type="category", automargin=True)
    fig.update_yaxes(automargin=True)
    return _html(fig)


DAY_MS = 86_400_000
HOUR_MS = 3_600_000


def trend(
    series: Mapping[str, tuple[Sequence[int], Sequence[float]]],
    title: str,
    window_ms: int = DAY_MS,
) -> Markup:
    """Lines over window starts (epoch ms) on a date axis padded by a window either side.

    Plotly fits a date axis to the data; with one window the range collapses to a point
    and the ticks fall a fraction of a millisecond apart. An explicit range of at least
    one window (or an hour) either side keeps the ticks at a human scale.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    starts: list[int] = []
    for i, (name, (xs, ys)) in enumerate(series.items()):
        starts.extend(xs)
        fig.add_scatter(
            x=[_iso(x) for x in xs],
            y=list(ys),
            mode="lines+markers",
            name=name,
            line={"color": PALETTE[i % len(PALETTE)]},
        )
    fig.update_layout(**_LAYOUT, title=title, legend={"orientation": "h", "y": -0.2})
    if starts:
        pad = max(window_ms, HOUR_MS)
        unit = DAY_MS if pad >= DAY_MS else HOUR_MS
        low, high = min(starts) - pad, max(starts) + pad
        # Whole days (or hours), at most about eight ticks: never two ticks with one label.
        step = unit * max(1, math.ceil((high - low) / unit / 8))
        fig.update_xaxes(
            type="date",
            range=[_iso(low), _iso(high)],
            tick0=_iso(min(starts)),
            dtick=step,
            tickformat="%Y-%m-%d" if unit == DAY_MS else "%m-%d %H:%M",
            tickangle=0,
            automargin=True,
        )
    return _html(fig)


def _iso(ms: int) -> str:
    from modelyard._util.clock import ms_to_iso

    return (ms_to_iso(ms) or "")[:19]


def run_metrics(histories: Mapping[str, Sequence[Any]]) -> list[tuple[str, Markup]]:
    """One zoomable chart per metric key: value over step, with a button to plot it over time."""
    import plotly.graph_objects as go

    charts = []
    for i, (key, points) in enumerate(histories.items()):
        steps = [p.step for p in points]
        times = [_iso(p.timestamp) for p in points]
        fig = go.Figure(
            go.Scatter(
                x=steps,
                y=[p.value for p in points],
                mode="lines+markers" if len(points) < 60 else "lines",
                name=key,
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
        fig.update_layout(
            **{**_LAYOUT, "height": 280, "margin": {"l": 50, "r": 20, "t": 60, "b": 40}},
            title={"text": key, "x": 0.02},
            xaxis_title="step",
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "x": 1,
                    "xanchor": "right",
                    "y": 1.22,
                    "showactive": True,
                    "buttons": [
                        {
                            "label": "step",
                            "method": "update",
                            "args": [
                                {"x": [steps]},
                                {"xaxis.title.text": "step", "xaxis.type": "linear"},
                            ],
                        },
                        {
                            "label": "time",
                            "method": "update",
                            "args": [
                                {"x": [times]},
                                {"xaxis.title.text": "time", "xaxis.type": "date"},
                            ],
                        },
                    ],
                }
            ],
        )
        charts.append((key, _html(fig)))
    return charts


def usable_dimensions(columns: Mapping[str, Sequence[Any]], limit: int = 10) -> list[str]:
    """Columns worth an axis: a number for every run and more than one distinct value.

    An axis with gaps would have to invent a value for the runs that lack it; an
    axis where every run agrees only crowds the labels. Metrics come before params.
    """
    keep = []
    for name, values in columns.items():
        numbers = [v for v in values if isinstance(v, int | float)]
        if len(numbers) == len(values) and len(set(numbers)) > 1:
            keep.append(name)
    keep.sort(key=lambda n: (not n.startswith("metric "), n))
    return keep[:limit]


def common_runs(columns: Mapping[str, Sequence[Any]]) -> list[int]:
    """The largest group of runs (two or more) that share the most numeric columns.

    Runs of different kinds (a logistic baseline, a boosted model with curves) have
    different params and metrics; parallel axes need the same ones for every line,
    so the chart is drawn for the runs that have the most in common.
    """
    present = {
        name: frozenset(i for i, v in enumerate(values) if isinstance(v, int | float))
        for name, values in columns.items()
    }
    best: tuple[int, int, list[int]] = (0, 0, [])
    for runs in set(present.values()):  # each column's runs is a candidate group
        if len(runs) < 2:
            continue
        shared = sum(1 for others in present.values() if others >= runs)
        best = max(best, (shared, len(runs), sorted(runs)))
    return best[2]


def parallel_coordinates(
    labels: Sequence[str], columns: Mapping[str, Sequence[Any]], colour_by: str | None
) -> Markup | None:
    """One line per run across numeric params and metrics (MLflow's parallel view)."""
    import plotly.graph_objects as go

    names = usable_dimensions(columns)
    if len(names) < 2:  # runs of different kinds: the ones that share the most columns
        rows = common_runs(columns)
        labels = [labels[i] for i in rows]
        columns = {n: [vs[i] for i in rows] for n, vs in columns.items()}
        names = usable_dimensions(columns)
    if len(names) < 2:
        return None
    dims = [{"label": n, "values": [float(v) for v in columns[n]]} for n in names]
    line: dict[str, Any] = {"color": "#2e86ab"}
    if colour_by in names:
        line = {
            "color": [float(v) for v in columns[colour_by]],
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": colour_by.removeprefix("metric ")},
        }
    fig = go.Figure(go.Parcoords(line=line, dimensions=dims, labelangle=-20, labelside="top"))
    fig.update_layout(
        **{**_LAYOUT, "height": 420, "margin": {"l": 70, "r": 90, "t": 120, "b": 30}},
        title={"text": "Parallel coordinates (drag along an axis to filter)", "y": 0.97},
    )
    return _html(fig)


# -- SVG ----------------------------------------------------------------------------


def histogram_svg(counts: Sequence[float], width: int = 120, height: int = 28) -> Markup:
    """A tiny bar histogram for a profile table cell."""
    if not counts:
        return Markup("")
    top = max(counts) or 1
    bar = width / len(counts)
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - height * c / top:.1f}" '
        f'width="{max(bar - 1, 0.5):.1f}" height="{height * c / top:.1f}"/>'
        for i, c in enumerate(counts)
    )
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="histogram">{rects}</svg>'
    )


def share_bar(parts: Sequence[tuple[str, float]], total: float | None = None) -> Markup:
    """A horizontal stacked bar of shares (traffic split, category shares).

    With ``total`` larger than the parts' sum, the rest shows as one grey "other" segment.
    """
    whole = max(total or 0, sum(v for _, v in parts)) or 1
    rest = whole - sum(v for _, v in parts)
    segments = []
    for i, (label, v) in enumerate([*parts, *([("other", rest)] if rest > 0 else [])]):
        colour = PALETTE[i % len(PALETTE)] if label != "other" or i < len(parts) else "#b8c0cc"
        share = 100 * v / whole
        segments.append(
            f'<span style="width:{share:.2f}%;background:{colour}" '
            f'title="{escape(label)}: {share:.1f}%">{escape(label)} {share:.0f}%</span>'
        )
    return Markup(f'<div class="share-bar">{"".join(segments)}</div>')


# Node text is clipped to fit _NODE_W at 12px; the SVG scales down (viewBox) to its card.
_NODE_W, _NODE_H, _GAP_X, _GAP_Y = 210, 52, 50, 18
_KIND_STYLE = {
    "dataset": ("#eef5fb", "#2e86ab"),
    "run": ("#f3eef8", "#a23b72"),
    "version": ("#fdf3e3", "#f18f01"),
    "deployment": ("#eaf6ee", "#3b8b5a"),
}


def lineage_svg(lineage: Mapping[str, Any], deployments: Sequence[Mapping[str, Any]]) -> Markup:
    """Dataset → run → version → deployment, laid out in columns from left to right."""
    nodes: dict[str, dict[str, Any]] = {}
    edges: list[tuple[str, str]] = []

    def add(key: str, layer: int, kind: str, title: str, sub: str, href: str | None) -> None:
        node = nodes.get(key)
        if node is None:
            nodes[key] = {"layer": layer, "kind": kind, "title": title, "sub": sub, "href": href}
        else:
            node["layer"] = max(node["layer"], layer)

    version_key = f"v:{lineage['ref']}"
    name, _, number = lineage["ref"].rpartition("/")
    add(
        version_key,
        1,
        "version",
        lineage["ref"],
        lineage.get("state", ""),
        f"/models/{name}/versions/{number}",
    )
    anchor, anchor_layer = version_key, 1
    run = lineage.get("run")
    if run:
        run_key = f"r:{run['id']}"
        add(
            run_key,
            2,
            "run",
            run.get("name") or run["id"][:8],
            f"run {run['id'][:8]}",
            f"/runs/{run['id']}",
        )
        edges.append((run_key, version_key))
        anchor, anchor_layer = run_key, 2

    def walk(node: Mapping[str, Any], child: str, layer: int) -> None:
        key = f"d:{node['ref']}"
        dname, _, dversion = node["ref"].rpartition("/")
        role = node.get("role")
        add(
            key,
            layer,
            "dataset",
            node["ref"],
            f"{role + ' · ' if role else ''}{node.get('num_rows', 0):,} rows",
            f"/datasets/{dname}/{dversion}",
        )
        edges.append((key, child))
        for parent in node.get("parents", ()):
            walk(parent, key, layer + 1)

    for dataset in lineage.get("datasets", ()):
        walk(dataset, anchor, anchor_layer + 1)
    for dep in deployments:
        key = f"e:{dep['name']}"
        add(key, 0, "deployment", dep["name"], dep.get("route", "endpoint"), "/deployments")
        edges.append((version_key, key))

    depth = max(n["layer"] for n in nodes.values())
    columns: dict[int, list[str]] = {}
    for key, node in nodes.items():
        columns.setdefault(depth - node["layer"], []).append(key)
    tallest = max(len(v) for v in columns.values())
    used = sorted(columns)
    columns = {i: columns[c] for i, c in enumerate(used)}  # no empty column (no deployment)
    width = len(columns) * (_NODE_W + _GAP_X) - _GAP_X + 20
    height = tallest * (_NODE_H + _GAP_Y) - _GAP_Y + 20
    pos: dict[str, tuple[float, float]] = {}
    for col, keys in columns.items():
        offset = (height - len(keys) * (_NODE_H + _GAP_Y) + _GAP_Y) / 2
        for i, key in enumerate(keys):
            pos[key] = (10 + col * (_NODE_W + _GAP_X), offset + i * (_NODE_H + _GAP_Y))
    parts = [
        f'<svg class="lineage" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'role="img" aria-label="lineage graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#8a94a6"/>'
        "</marker></defs>",
    ]
    for src, dst in edges:
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        sx, sy, ex, ey = x1 + _NODE_W, y1 + _NODE_H / 2, x2, y2 + _NODE_H / 2
        mid = (sx + ex) / 2
        parts.append(
            f'<path d="M{sx:.0f},{sy:.0f} C{mid:.0f},{sy:.0f} {mid:.0f},{ey:.0f} '
            f'{ex - 2:.0f},{ey:.0f}" '
            'fill="none" stroke="#8a94a6" stroke-width="1.5" marker-end="url(#arrow)"/>'
        )
    for key, node in nodes.items():
        x, y = pos[key]
        fill, stroke = _KIND_STYLE[node["kind"]]
        box = (
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{_NODE_W}" height="{_NODE_H}" rx="6" '
            f'fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
            f"<title>{escape(node['kind'])} {escape(node['title'])}</title>"
            f'<text x="{x + 10:.0f}" y="{y + 20:.0f}" class="t">'
            f"{escape(_clip(node['title'], 24))}</text>"
            f'<text x="{x + 10:.0f}" y="{y + 39:.0f}" class="s">'
            f"{escape(_clip(node['kind'] + ' · ' + node['sub'], 30))}</text>"
        )
        if node["href"]:
            box = f'<a href="{escape(node["href"])}">{box}</a>'
        parts.append(box)
    parts.append("</svg>")
    return Markup("".join(parts))


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
