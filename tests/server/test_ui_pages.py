"""UI pages render for every role, show useful empty states, and serve assets locally."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

PAGES = ["/models", "/runs", "/datasets", "/deployments", "/monitoring", "/audit"]


@pytest.mark.parametrize("path", PAGES)
def test_empty_pages_explain_what_to_do(site, path):
    with site.login("viewer") as browser:
        response = browser.get(path)
    assert response.status_code == 200
    html = response.text
    assert 'class="empty"' in html or 'data-testid="audit-table"' in html
    if path == "/models":
        assert "No models yet" in html and "yard.models.register" in html
    assert not re.search(r'(src|href)="https?://', html), "every asset is served locally"


def test_assets_are_local_cached_and_compressed(site):
    with site.client() as http:
        css = http.get("/static/app.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        plotly = http.get("/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
        assert plotly.status_code == 200 and plotly.headers["content-encoding"] == "gzip"
        assert len(plotly.content) > 1_000_000  # httpx decodes: the full bundle
        again = http.get("/static/app.css", headers={"If-None-Match": css.headers["etag"]})
        assert again.status_code == 304
        assert http.get("/static/../yard.db").status_code == 404


def test_pages_show_data_and_pagination(site):
    dev = site.local("dev")
    try:
        for i in range(30):
            with dev.start_run(experiment="paging", name=f"run-{i:02d}") as run:
                run.log_metrics({"auc": i / 100})
    finally:
        dev.close()
    with site.login("viewer") as browser:
        first = browser.get("/runs", params={"order_by": "metrics.auc desc"}).text
        assert "run-29" in first and "Older" in first and "run-00" not in first
        second = browser.get("/runs", params={"order_by": "metrics.auc desc", "cursor": 25}).text
        assert "run-00" in second and "Newer" in second
        # Paging and sorting keep the filter; sorting starts again at the first page.
        kept = {
            "filter": "metrics.auc >= 0",
            "experiment": "paging",
            "order_by": "metrics.auc desc",
        }
        page = browser.get("/runs", params=kept).text
        older = re.search(r'href="([^"]*)">Older', page).group(1).replace("&amp;", "&")
        assert parse_qs(urlsplit(older).query) == {
            **{k: [v] for k, v in kept.items()},
            "cursor": ["25"],
        }
        by_user = re.search(r'href="([^"]*)">User', page).group(1).replace("&amp;", "&")
        assert parse_qs(urlsplit(by_user).query) == {
            "filter": ["metrics.auc >= 0"],
            "experiment": ["paging"],
            "order_by": ["user desc"],
        }
        for column in ("name", "experiment", "status", "user", "start_time", "duration"):
            for direction in ("asc", "desc"):
                sorted_page = browser.get("/runs", params={"order_by": f"{column} {direction}"})
                assert sorted_page.status_code == 200 and "run-" in sorted_page.text, column
        bad = browser.get("/runs", params={"filter": "metrics.auc >>"})
        assert bad.status_code == 200 and "expected a number" in bad.text
        missing = browser.get("/models/no-such-model")
        assert missing.status_code == 404 and "no model" in missing.text


def test_open_redirects_are_refused_at_sign_in(site):
    with site.client() as browser:
        response = browser.post(
            "/login",
            data={"user": "dev", "token": site.tokens["dev"], "next": "https://evil.example/"},
        )
    assert response.status_code == 303 and response.headers["location"] == "/models"


def test_the_openapi_schema_names_each_routes_permission(site):
    with site.client() as http:
        schema = http.get("/openapi.json").json()
    approve = schema["paths"]["/api/v1/models/{name}/versions/{version}/approve"]["post"]
    assert approve["x-permission"] == ["approval.validator", "approval.approver"]
    assert approve["security"] == [{"bearer": []}]
    assert schema["paths"]["/api/v1/health"]["get"]["security"] == []
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    lists = [p for p, ops in schema["paths"].items() if "get" in ops and "Page" in str(ops["get"])]
    for path in lists:
        names = {q["name"] for q in schema["paths"][path]["get"].get("parameters", [])}
        assert {"limit", "cursor"} <= names, path


def test_pipeline_step_runs_nest_under_their_parent(site):
    dev = site.local("dev")
    try:
        with dev.start_run(experiment="nesting", name="pipeline-parent") as parent:
            for step in ("train", "validate"):
                with dev.start_run(experiment="nesting", name=f"step-{step}", parent=parent):
                    pass
    finally:
        dev.close()
    with site.login("viewer") as browser:
        html = browser.get("/runs", params={"experiment": "nesting"}).text
        run_page = browser.get(f"/runs/{parent.id}").text
    assert f'data-toggle-steps="{parent.id}"' in html
    rows = re.findall(r'<tr class="step-row" data-parent="([0-9a-f]+)" hidden>', html)
    assert rows == [parent.id, parent.id]  # collapsed until the toggle opens them
    assert html.count('class="parent-row"') == 1  # steps are not listed as runs of their own
    assert "step-train" in run_page and 'data-testid="step-runs"' in run_page


def test_api_docs_are_served_from_bundled_assets(site):
    with site.client() as http:
        for path in ("/api/docs",):
            html = http.get(path).text
            assert not re.search(r'(src|href)="https?://', html), path
            for asset in re.findall(r'(?:src|href)="(/static/docs/[^"]+)"', html):
                got = http.get(asset)
                assert got.status_code == 200 and len(got.content) > 1000, asset
        assert "validatorUrl" in http.get("/api/docs").text
        assert http.get("/static/docs/../../yard.db").status_code == 404
        assert http.get("/static/docs/app.js").status_code == 404
        assert http.get("/static/docs/redoc.standalone.js").status_code == 404
