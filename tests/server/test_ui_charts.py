"""Server-built figures: date axes that stay at a human scale, a lineage graph that fits."""

from __future__ import annotations

import json
import re
from datetime import datetime

from modelyard.server.ui import charts

DAY = 86_400_000
START = 1_790_000_000_000


def _figure(html: str) -> dict:
    """The layout Plotly is given in a figure's inline script."""
    call = re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*(\{.*?\}),\s*\{", html, re.S)
    assert call, html[:500]
    return {"data": json.loads(call.group(1)), "layout": json.loads(call.group(2))}


def _span_ms(layout: dict) -> float:
    low, high = (datetime.fromisoformat(x) for x in layout["xaxis"]["range"])
    return (high - low).total_seconds() * 1000


def test_one_window_gets_a_range_of_days_not_a_point():
    layout = _figure(charts.trend({"auc": ([START], [0.8])}, "Performance", DAY))["layout"]
    assert layout["xaxis"]["type"] == "date"
    assert _span_ms(layout) == 2 * DAY
    assert layout["xaxis"]["tickformat"] == "%Y-%m-%d"
    assert layout["xaxis"]["dtick"] == DAY  # one label per tick, a day apart


def test_hourly_windows_show_hours_and_many_windows_span_them_all():
    xs = [START + i * 3_600_000 for i in range(48)]
    layout = _figure(charts.trend({"auc": (xs, [0.8] * 48)}, "Performance", 3_600_000))["layout"]
    assert _span_ms(layout) == 47 * 3_600_000 + 2 * 3_600_000
    assert "%H:%M" in layout["xaxis"]["tickformat"]
    assert layout["xaxis"]["dtick"] == 7 * 3_600_000  # about eight ticks over 50 hours


def test_heatmap_windows_are_categories():
    html = charts.heatmap(["income"], ["2026-09-21"], [[0.2]], "Drift")
    assert _figure(html)["layout"]["xaxis"]["type"] == "category"


def test_lineage_graph_fits_its_own_box():
    lineage = {
        "ref": "credit-risk/12",
        "state": "deployed",
        "run": {"id": "a" * 32, "name": "lightgbm-with-a-rather-long-run-name"},
        "datasets": [
            {
                "ref": "loans-train-with-a-long-name/3",
                "role": "training",
                "num_rows": 120_000,
                "parents": [{"ref": "loan-applications/3", "num_rows": 160_000, "parents": []}],
            }
        ],
    }
    svg = str(charts.lineage_svg(lineage, [{"name": "credit-risk-prod", "route": "primary"}]))
    width = float(re.search(r'<svg[^>]* width="(\d+)"', svg).group(1))
    for x, w in re.findall(r'<rect x="(\d+)" y="\d+" width="(\d+)"', svg):
        assert float(x) + float(w) <= width, (x, w, width)
    assert 'viewBox="0 0 ' in svg
    for text in re.findall(r'class="[ts]">([^<]*)<', svg):
        assert len(text) <= 30, text  # 11-12px text within a 210px node


def test_parallel_axes_use_the_runs_that_share_columns():
    columns = {
        "metric auc": [0.74, 0.72, None],
        "metric ks": [0.41, 0.36, None],
        "param C": [1.0, None, None],
        "metric valid_auc": [None, None, 0.86],
    }
    assert charts.usable_dimensions(columns) == []
    assert charts.common_runs(columns) == [0, 1]
    html = charts.parallel_coordinates(["logistic", "lightgbm", "curves"], columns, "metric auc")
    dims = _figure(html)["data"][0]["dimensions"]
    assert [d["label"] for d in dims] == ["metric auc", "metric ks"]
    assert charts.parallel_coordinates(["a"], {"metric auc": [0.7]}, None) is None


def test_model_list_finds_the_auc_whatever_the_training_code_called_it():
    from modelyard.server.ui.render import auc

    assert auc({"training": {"train_auc": 0.74, "train_ks": 0.4}}, "training") == 0.74
    assert auc({"training": {"auc": 0.71, "train_auc": 0.74}}, "training") == 0.71
    assert auc({"evaluation": {"auc": 0.73}}, "validation") == 0.73
    assert auc({"validation": {"val_auc": 0.72}, "evaluation": {"auc": 0.7}}, "validation") == 0.72
    assert auc({"training": {"ks": 0.4}}, "training") is None
    assert auc(None, "training") is None
