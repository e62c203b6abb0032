"""UI pages render for every role, show useful empty states, and serve assets locally."""

from __future__ import annotations

import re

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
