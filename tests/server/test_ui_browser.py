"""The web UI in a real browser (Debian's chromium, headless, driven by Playwright).

A store that has run the quickstart's registry part gets a second version of
``credit-risk``; then, in the browser: vera (validator) signs in, finds the
model, opens the champion's validation report and signs the new version off;
aaron (approver) signs it off too; root points ``champion`` at it; the model
page shows the moved alias and the audit log the events, with the chain
verified. Screenshots of the main pages go to ``test-output/screenshots/``.
"""

from __future__ import annotations

import shutil
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
        tokens = {
            u: yard.tokens.create(u, name="browser", expires_in="1h").secret
            for u in ("root", "vera", "aaron")
        }
    finally:
        opened.close()
    with PlatformServer(store_url, artifacts, home=root / "server") as server:
        yield server.url, tokens, second.version, result


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
    assert page.evaluate("typeof Plotly") == "undefined"  # monitoring: no charts, no bundle
    page.goto(url + "/runs/compare?" + "&".join(f"ids={i}" for i in result.run_ids.values()))
    assert page.evaluate("typeof Plotly") == "object"  # the locally served bundle
    page.wait_for_selector(".js-plotly-plot .main-svg")  # the charts rendered under the CSP
    assert page.locator(".js-plotly-plot").count() >= 1
    context.close()
    assert len(list(SHOTS.glob("*.png"))) >= 12
