"""The web UI in a real browser (Debian's chromium, headless, driven by Playwright).

A store that has run the quickstart's registry part gets a second version of
``credit-risk``; then, in the browser: vera (validator) signs in, finds the
model, opens the champion's validation report and signs the new version off;
aaron (approver) signs it off too; root points ``champion`` at it; the model
page shows the moved alias and the audit log the events, with the chain
verified. Screenshots of the main pages go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import time
import zlib
from pathlib import Path

import pytest

import modelyard
from modelyard.testing.environment import require
from modelyard.testing.platform import PlatformServer

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    require(f"chromium at {CHROMIUM}", "run 'apt-get install chromium'")


@pytest.fixture(scope="module")
def quickstart_site(tmp_path_factory):
    from modelyard.demo.quickstart import run_quickstart

    root = tmp_path_factory.mktemp("ui")
    store_url, artifacts = f"sqlite:///{root / 'yard.db'}", str(root / "artifacts")
    opened = modelyard.connect(store_url, artifact_root=artifacts, user="root", home=str(root))
    try:
        result = run_quickstart(opened, rows=5_000)
        yard = result.cast.yard  # root, the store's first admin, acting with a token
        model = yard.models.load(result.champion)
        frame = yard.datasets.load(result.dataset_refs["loans-train"])
        features = list(model.signature.inputs)
        example = frame[[c.name for c in features]].head(200)
        second = yard.models.register(
            "credit-risk",
            model.native,
            run=result.run_ids[result.best],
            example=example,
            target="default",
            description="retrained candidate",
        )
        result.populated = populate(yard, root, result, model, example)
        tokens = {
            u: yard.tokens.create(u, name="browser", expires_in="1h").secret
            for u in ("root", "vera", "aaron")
        }
    finally:
        opened.close()
    with PlatformServer(store_url, artifacts, home=root / "server") as server:
        yield server.url, tokens, second.version, result


def _png(width: int, height: int) -> bytes:
    """A small real PNG (a colour gradient), without an imaging library."""
    rows = b"".join(
        b"\x00" + bytes(v for x in range(width) for v in (x * 255 // width, y * 255 // height, 160))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def populate(yard, root: Path, result, model, example) -> dict:
    """What a team's store holds after some weeks: curves, artifacts, pipeline runs, monitoring.

    - a training run with 50-step metric series over 25 minutes and artifacts of every
      previewable kind (text, JSON, PNG, Parquet, a folder);
    - a pipeline run with six step runs under it (listed nested, collapsed);
    - real ``MonitorService`` results: five daily windows of the champion on the
      holdout (income drifting more each day), and a second model with one window.
    """
    import math

    folder = root / "run-files"
    folder.mkdir()
    (folder / "training-log.txt").write_text(
        "\n".join(f"round {i}: loss {1 / (i + 1):.4f}" for i in range(200))
    )
    (folder / "metrics.json").write_text(json.dumps({"auc": 0.812, "ks": 0.47, "folds": [1, 2, 3]}))
    (folder / "roc.png").write_bytes(_png(240, 160))
    example.head(40).to_parquet(folder / "holdout-head.parquet", index=False)
    (folder / "model").mkdir()
    (folder / "model" / "params.yaml").write_text("num_leaves: 31\nlearning_rate: 0.05\n")
    start = result_start = 1_790_000_000_000
    with yard.start_run(experiment="credit-risk", name="lgbm-curves") as run:
        run.log_params({"model": "lgbm", "num_leaves": 31, "learning_rate": 0.05})
        points = []
        for step in range(50):
            ts = start + step * 30_000
            points.append(("train_loss", 0.7 * math.exp(-step / 12) + 0.18, step, ts))
            points.append(("valid_loss", 0.7 * math.exp(-step / 15) + 0.24, step, ts))
            points.append(("valid_auc", 0.86 - 0.3 * math.exp(-step / 10), step, ts))
        run.log_batch(points)
        for name in (
            "training-log.txt",
            "metrics.json",
            "roc.png",
            "holdout-head.parquet",
            "model",
        ):
            run.log_artifact(folder / name)
    with yard.start_run(experiment="credit-risk-lifecycle", name="lifecycle") as parent:
        for step in ("dataset", "train", "validate", "register", "approve", "deploy"):
            with yard.start_run(experiment="credit-risk-lifecycle", name=step, parent=parent):
                pass
        parent.log_metrics({"auc": 0.79})
    holdout = yard.datasets.load(result.dataset_refs["loans-holdout"])
    day = 86_400_000
    for i in range(5):
        batch = holdout.sample(frac=0.6, random_state=i).copy()
        batch["income"] = batch["income"] * (1 - 0.08 * i)
        yard.monitors.run(
            result.champion,
            data=batch,
            since=_iso(result_start + i * day),
            until=_iso(result_start + (i + 1) * day),
            rules=False,
        )
    lite = yard.models.register("credit-risk-lite", model.native, example=example, target="default")
    yard.monitors.run(
        lite.ref,
        data=holdout,
        since=_iso(result_start),
        until=_iso(result_start + day),
        rules=False,
    )
    return {"curves": run.id, "pipeline": parent.id, "lite": lite.name}


def _iso(ms: int) -> str:
    from modelyard._util.clock import ms_to_iso

    return ms_to_iso(ms)


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def _login(browser, url: str, user: str, token: str):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(180_000)  # a loaded CI machine; waits end on readiness
    page = context.new_page()
    page.goto(f"{url}/models")
    assert "/login" in page.url
    page.fill("input[name=user]", user)
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/models")
    assert page.get_by_test_id("current-user").inner_text() == user
    return context, page


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.slow
def test_validator_approves_in_the_browser_and_the_alias_and_audit_log_change(
    quickstart_site, browser
):
    url, tokens, new_version, result = quickstart_site
    shutil.rmtree(SHOTS, ignore_errors=True)

    context, page = _login(browser, url, "vera", tokens["vera"])
    _shot(page, "01-models")
    page.get_by_role("link", name="credit-risk", exact=True).click()
    page.wait_for_url(f"{url}/models/credit-risk")
    assert "@champion" in page.get_by_test_id("aliases").inner_text()
    _shot(page, "02-model")

    # The champion's validation report, served from the artifact store.
    page.goto(f"{url}/models/credit-risk/versions/1")
    with context.expect_page() as opened:
        page.get_by_test_id("file-validation_report.html").click()
    report = opened.value
    report.wait_for_load_state()
    assert "credit-risk" in report.content()
    _shot(report, "03-validation-report")
    report.close()

    # Sign the new version off as validator.
    page.goto(f"{url}/models/credit-risk/versions/{new_version}")
    assert page.get_by_test_id("version-state").inner_text().strip() == "registered"
    form = page.get_by_test_id("decision-form")
    form.locator("select[name=role]").select_option("validator")
    form.locator("textarea[name=comment]").fill("Holdout AUC within policy")
    form.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"**/versions/{new_version}?done=approved")
    assert page.get_by_test_id("version-state").inner_text().strip() == "validated"
    assert "vera" in page.get_by_test_id("approvals-table").inner_text()
    _shot(page, "04-version-validated")
    context.close()

    context, page = _login(browser, url, "aaron", tokens["aaron"])
    page.goto(f"{url}/models/credit-risk/versions/{new_version}")
    page.get_by_test_id("decision-form").get_by_role("button", name="Approve").click()
    page.wait_for_url(f"**/versions/{new_version}?done=approved")
    assert page.get_by_test_id("version-state").inner_text().strip() == "approved"
    context.close()

    context, page = _login(browser, url, "root", tokens["root"])
    page.goto(f"{url}/models/credit-risk/versions/{new_version}")
    alias_form = page.get_by_test_id("alias-form")
    alias_form.locator("input[name=alias]").fill("champion")
    alias_form.get_by_role("button").click()
    page.wait_for_url(f"**/versions/{new_version}?done=alias")
    assert "@champion" in page.get_by_test_id("version-aliases").inner_text()
    assert page.get_by_test_id("version-state").inner_text().strip() == "deployed"
    _shot(page, "05-version-champion")
    page.goto(f"{url}/models/credit-risk")
    assert f"version {new_version}" in page.get_by_test_id("aliases").inner_text()

    page.goto(f"{url}/audit")
    audit = page.get_by_test_id("audit-table").inner_text()
    assert "alias.set" in audit and "approval.approve" in audit and "vera" in audit
    assert "Chain verified" in page.get_by_test_id("chain-status").inner_text()
    _shot(page, "06-audit")

    for name, path in [
        ("07-runs", "/runs"),
        ("08-compare", "/runs/compare?" + "&".join(f"ids={i}" for i in result.run_ids.values())),
        ("09-datasets", "/datasets"),
        ("10-dataset-profile", "/datasets/loan-applications/1"),
        ("11-deployments", "/deployments"),
        ("12-monitoring", "/monitoring"),
    ]:
        page.goto(url + path)
        assert page.locator("main h1").count() == 1
        _shot(page, name)
    assert page.evaluate("typeof Plotly") == "object"  # monitoring: real results, charts
    page.goto(url + "/runs/compare?" + "&".join(f"ids={i}" for i in result.run_ids.values()))
    assert page.evaluate("typeof Plotly") == "object"  # the locally served bundle
    page.wait_for_selector(".js-plotly-plot .main-svg")  # the charts rendered under the CSP
    assert page.locator(".js-plotly-plot").count() >= 1
    context.close()
    assert len(list(SHOTS.glob("*.png"))) >= 12


# -- layout, charts and offline pages at three widths -----------------------------------

WIDTHS = (1280, 1440, 1920)
LAYOUT_SHOTS = SHOTS.parent / "layout"
LOCAL_HOSTS = ("127.0.0.1", "localhost")

# Containers that must never overlap one another: cards, charts, tables (outermost only).
OVERLAPS_JS = "\n".join(
    line
    for line in (Path(__file__).parent / "ui_overlaps.js").read_text().splitlines()
    if not line.startswith("//")
)

OVERFLOW_JS = """() => {
  const main = document.querySelector('main') || document.body;
  return {
    main: main.scrollWidth - main.clientWidth,
    page: document.documentElement.scrollWidth - window.innerWidth,
  };
}"""

# Tick labels of Plotly figures with a date x axis (to catch sub-millisecond ticks).
TICKS_JS = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter((plot) => Object.entries(plot._fullLayout || {})
    .some(([key, axis]) => key.startsWith('xaxis') && axis && axis.type === 'date'))
  .flatMap((plot) => [...plot.querySelectorAll('.xtick text')].map((t) => t.textContent))"""


def _pages(url: str, result) -> list[tuple[str, str, str]]:
    """(name, path, container selector) for every page the UI has, populated."""
    populated = result.populated
    runs = "&".join(f"ids={i}" for i in [*result.run_ids.values(), populated["curves"]])
    curves = populated["curves"]
    ui = (
        ".card, table.grid, .table-wrap, .js-plotly-plot, .empty, "
        ".monitor-grid > *, .chart-grid > *"
    )
    report = ".figure, .table-scroll, section.card table, .kpis"
    return [
        ("models", "/models", ui),
        ("model", "/models/credit-risk", ui),
        ("version", "/models/credit-risk/versions/1", ui),
        (
            "validation-report",
            "/models/credit-risk/versions/1/files/validation_report.html",
            report,
        ),
        ("runs", "/runs", ui),
        ("run-charts", f"/runs/{curves}?artifact=metrics.json", ui),
        ("run-image", f"/runs/{curves}?artifact=roc.png", ui),
        ("run-parquet", f"/runs/{curves}?artifact=holdout-head.parquet", ui),
        ("pipeline-run", f"/runs/{populated['pipeline']}", ui),
        ("compare", f"/runs/compare?{runs}", ui),
        ("datasets", "/datasets", ui),
        ("dataset-profile", "/datasets/loan-applications/1", ui),
        ("deployments", "/deployments", ui),
        ("monitoring", "/monitoring?model=credit-risk", ui),
        ("monitoring-one-window", f"/monitoring?model={populated['lite']}", ui),
        ("audit", "/audit", ui),
        (
            "api-docs",
            "/api/docs",
            ".swagger-ui .information-container, .swagger-ui .opblock-tag-section",
        ),
    ]


def _signed_in_context(browser, url: str, token: str, width: int, requests: list[str]):
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(180_000)  # a loaded CI machine; waits end on readiness

    def route(r):
        requests.append(r.request.url)
        host = r.request.url.split("://", 1)[-1].split("/", 1)[0].split(":")[0]
        if r.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("input[name=user]", "root")
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/models")
    return context, page


def _settle(page, name: str) -> None:
    """Wait until what the page draws is drawn: Plotly figures and Swagger UI."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot')].every("
        "(p) => p.querySelector('.main-svg'))"
    )
    if name == "api-docs":
        page.wait_for_selector(".swagger-ui .opblock-tag-section")
    page.evaluate(
        "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )


@pytest.mark.slow
def test_every_page_at_three_widths_has_no_overlap_no_overflow_and_stays_local(
    quickstart_site, browser
):
    url, tokens, _, result = quickstart_site
    # Not emptied first: the page-behaviour test, maybe on another worker, saves here too.
    LAYOUT_SHOTS.mkdir(parents=True, exist_ok=True)
    started = time.time()
    problems: list[str] = []
    requests: list[str] = []
    pages = _pages(url, result)
    for width in WIDTHS:
        context, page = _signed_in_context(browser, url, tokens["root"], width, requests)
        for name, path, selector in pages:
            response = page.goto(url + path)
            assert response is not None and response.status == 200, (name, width)
            _settle(page, name)
            page.screenshot(path=str(LAYOUT_SHOTS / f"{width}-{name}.png"), full_page=True)
            where = f"{name} at {width}px"
            problems += [f"{where}: {p}" for p in page.evaluate(OVERLAPS_JS, selector)]
            overflow = page.evaluate(OVERFLOW_JS)
            if overflow["main"] > 1 or overflow["page"] > 1:
                problems.append(f"{where}: horizontal overflow {overflow}")
            for tick in page.evaluate(TICKS_JS):
                if re.search(r"\d:\d\d:\d\d\.\d|\.\d{3}\b|ms", tick):
                    problems.append(f"{where}: sub-second axis tick {tick!r}")
        context.close()
    assert not problems, "\n".join(problems)
    outside = sorted(
        {
            r
            for r in requests
            if r.split("://", 1)[-1].split("/")[0].split(":")[0] not in LOCAL_HOSTS
            and not r.startswith(("data:", "blob:"))
        }
    )
    assert not outside, f"requests left the machine: {outside}"
    assert len(requests) > len(pages) * len(WIDTHS)  # the interception saw every page load
    shots = {p.name for p in LAYOUT_SHOTS.glob("*.png") if p.stat().st_mtime >= started - 1}
    assert {f"{w}-{name}.png" for w in WIDTHS for name, _, _ in pages} <= shots


@pytest.mark.slow
def test_run_runs_compare_and_monitoring_pages_work_in_the_browser(quickstart_site, browser):
    url, tokens, _, result = quickstart_site
    populated = result.populated
    requests: list[str] = []
    context, page = _signed_in_context(browser, url, tokens["root"], 1440, requests)
    try:
        # Run page: one zoomable chart per metric, by step and by time.
        page.goto(f"{url}/runs/{populated['curves']}?artifact=metrics.json")
        _settle(page, "run")
        charts = page.get_by_test_id("metric-charts").locator(".js-plotly-plot")
        assert charts.count() == 3
        assert page.locator("[data-metric=valid_auc] .modebar-btn[data-title*=Zoom]").count() >= 1
        page.locator("[data-metric=valid_auc] .updatemenu-button").nth(1).click()
        page.wait_for_function(
            "() => document.querySelector('[data-metric=valid_auc] .js-plotly-plot')"
            ".layout.xaxis.type === 'date'"
        )
        preview = page.get_by_test_id("artifact-preview").inner_text()
        assert '"auc": 0.812' in preview and "metrics.json" in preview
        # Image and Parquet previews; download checks the hash as it streams.
        page.goto(f"{url}/runs/{populated['curves']}?artifact=roc.png")
        image = page.locator("img.preview-image")
        image.wait_for()
        assert (
            page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle())
            == 240
        )
        page.goto(f"{url}/runs/{populated['curves']}?artifact=holdout-head.parquet")
        head = page.get_by_test_id("parquet-head")
        assert head.locator("tbody tr").count() == 20 and "income" in head.inner_text().lower()
        with page.expect_download() as download:
            page.get_by_test_id("download-model/params.yaml").click()
        assert Path(download.value.path()).read_text() == "num_leaves: 31\nlearning_rate: 0.05\n"

        # Runs list: steps nested and collapsed under their parent; sortable; columns chosen.
        page.goto(f"{url}/runs")
        steps = page.locator(f"tr[data-parent='{populated['pipeline']}']")
        assert steps.count() == 6 and not steps.first.is_visible()
        page.locator(f"[data-toggle-steps='{populated['pipeline']}']").click()
        assert steps.first.is_visible() and steps.nth(5).is_visible()
        page.screenshot(path=str(LAYOUT_SHOTS / "1440-runs-nested-open.png"), full_page=True)
        page.locator("th[data-col=run] a.sort").click()
        page.wait_for_url("**order_by=name+desc**")
        names = page.locator("tr.parent-row td[data-col=run] a.strong").all_inner_texts()
        assert names == sorted(names, reverse=True) and len(names) >= 4
        page.locator("th[data-col=run] a.sort").click()
        page.wait_for_url("**order_by=name+asc**")
        names = page.locator("tr.parent-row td[data-col=run] a.strong").all_inner_texts()
        assert names == sorted(names)
        page.get_by_test_id("column-chooser").locator("summary").click()
        page.locator("[data-column-toggle=user]").uncheck()
        assert not page.locator("th[data-col=user]").is_visible()
        page.reload()
        assert not page.locator("th[data-col=user]").is_visible()  # remembered
        assert page.locator("th[data-col=experiment]").is_visible()

        # Compare: parallel coordinates and a scatter of any two params/metrics.
        ids = "&".join(f"ids={i}" for i in [*result.run_ids.values(), populated["curves"]])
        page.goto(f"{url}/runs/compare?{ids}")
        _settle(page, "compare")
        assert page.get_by_test_id("parallel-coordinates").locator(".parcoords").count() == 1
        scatter = page.get_by_test_id("scatter")
        scatter.locator("[data-scatter-axis=x]").select_option("metric ks")
        scatter.locator("[data-scatter-axis=y]").select_option("metric auc")
        page.wait_for_function(
            "() => document.getElementById('scatter-plot').layout.title.text === "
            "'metric auc against metric ks'"
        )
        assert page.locator("#scatter-plot .scatterlayer .point").count() == 2

        # Monitoring from real MonitorService results: five windows, then one window.
        page.goto(f"{url}/monitoring?model=credit-risk")
        _settle(page, "monitoring")
        heat = page.get_by_test_id("drift-heatmap")
        assert heat.locator(".heatmaplayer").count() == 1
        ticks = heat.locator(".xtick text").all_text_contents()
        assert len(ticks) == 5 and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for t in ticks), ticks
        trend = page.get_by_test_id("performance-trend")
        assert trend.locator(".scatterlayer .trace").count() >= 1
        page.goto(f"{url}/monitoring?model={populated['lite']}")
        _settle(page, "monitoring")
        ticks = page.get_by_test_id("performance-trend").locator(".xtick text").all_text_contents()
        assert ticks and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t) for t in ticks), ticks
        assert len(set(ticks)) == len(ticks)  # one window: distinct days, not one day repeated

        # The model list's AUC columns, the lineage graph and the calibration table.
        page.goto(f"{url}/models/credit-risk")
        row = page.get_by_test_id("versions-table").locator("tbody tr").last
        assert re.search(r"0\.\d{2,}", row.locator("td.num").first.inner_text())
        page.goto(f"{url}/models/credit-risk/versions/1")
        lineage = page.get_by_test_id("lineage")
        box, svg = lineage.bounding_box(), lineage.locator("svg").bounding_box()
        assert svg["x"] + svg["width"] <= box["x"] + box["width"] + 0.5
        page.goto(f"{url}/models/credit-risk/versions/1/files/validation_report.html")
        table = page.get_by_test_id("calibration-table").bounding_box()
        figure = page.locator("#calibration .figure").bounding_box()
        overlap_w = min(table["x"] + table["width"], figure["x"] + figure["width"]) - max(
            table["x"], figure["x"]
        )
        overlap_h = min(table["y"] + table["height"], figure["y"] + figure["height"]) - max(
            table["y"], figure["y"]
        )
        assert overlap_w <= 1 or overlap_h <= 1
    finally:
        context.close()
