"""The technical documentation pack: the demo's champion, viewed in a real browser.

The quickstart's registry part gives a registered, validated, signed-off
champion with datasets and a training run. Its document is opened in
Debian's chromium (headless, Playwright) with every request intercepted:
every section must be filled or say "not recorded", the plots must draw, and
nothing may be fetched from anywhere but the file itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import modelyard
from modelyard.documentation import DOCUMENT_HTML, DOCUMENT_MARKDOWN, NOT_RECORDED, document
from modelyard.testing.environment import require

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
SECTIONS = [
    "purpose",
    "version",
    "data",
    "training",
    "validation",
    "fairness",
    "explanations",
    "sign-offs",
    "serving",
    "monitoring",
    "alerts",
    "history",
]


@pytest.fixture(scope="module")
def champion_document(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from modelyard.demo.quickstart import run_quickstart

    root = tmp_path_factory.mktemp("document")
    yard = modelyard.connect(
        f"sqlite:///{root / 'yard.db'}",
        artifact_root=str(root / "artifacts"),
        user="root",
        home=str(root),
    )
    try:
        result = run_quickstart(yard, rows=5_000)
        admin = result.cast.yard  # root, the store's first admin, acting with a token
        outcome = document(admin, result.champion, root / "pack")
        info = admin.models.get(result.champion)
    finally:
        yard.close()
    return outcome, info


def test_every_section_is_filled_from_the_platform_or_says_not_recorded(
    champion_document: Any,
) -> None:
    outcome, info = champion_document
    assert [s.id for s in outcome.sections] == SECTIONS
    by_id = {s.id: s for s in outcome.sections}
    # What the demo recorded is there, from the registry.
    for recorded in (
        "purpose",
        "version",
        "data",
        "training",
        "validation",
        "sign-offs",
        "explanations",
        "history",
    ):
        assert by_id[recorded].recorded, recorded
    markdown = outcome.markdown_path.read_text()
    assert info.ref in markdown and "vera" in markdown and "aaron" in markdown
    assert "approval.approve" in markdown and "version.register" in markdown
    assert "No reviewed reason table exists" in markdown
    for section in outcome.sections:
        assert f"_Source: {section.source}_" in markdown
    assert markdown.count(f"**{NOT_RECORDED.capitalize()}.**") == len(outcome.not_recorded)
    names = {a.name for a in info.artifacts}
    assert DOCUMENT_HTML in names and DOCUMENT_MARKDOWN in names


def test_the_document_opens_offline_in_chromium(champion_document: Any) -> None:
    if not Path(CHROMIUM).exists():
        require(f"chromium at {CHROMIUM}", "run 'apt-get install chromium'")
    from playwright.sync_api import sync_playwright

    outcome, _ = champion_document
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page()

            def guard(route: Any) -> None:
                url = route.request.url
                requested.append(url)
                if url.startswith("file://"):
                    route.continue_()
                else:
                    route.abort()

            page.route("**/*", guard)
            page.goto(outcome.html_path.resolve().as_uri())
            page.wait_for_selector("figure.plot .main-svg", timeout=120_000)
            states = page.eval_on_selector_all(
                "section",
                "els => els.map(e => [e.id, e.dataset.state, e.innerText])",
            )
            plots = page.locator("figure.plot .main-svg").count()
        finally:
            browser.close()
    assert [s[0] for s in states] == SECTIONS
    for section_id, state, text in states:
        assert "Source:" in text, section_id
        if state == "not-recorded":
            assert "Not recorded." in text, section_id
        else:
            assert state == "recorded" and len(text.strip().splitlines()) > 2, section_id
    assert plots >= 1
    outside = [u for u in requested if not u.startswith("file://")]
    assert outside == [], outside


def test_a_bare_version_says_not_recorded(tmp_path: Path) -> None:
    from modelyard.data import synthetic
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    frame = synthetic.generate(600, seed=8)
    x, y = split_xy(frame)
    with modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}",
        artifact_root=str(tmp_path / "a"),
        user="alice",
        home=str(tmp_path),
    ) as yard:
        yard.models.register("bare", logistic_pipeline().fit(x, y))
        outcome = document(yard, "bare/1")
    assert set(outcome.not_recorded) >= {
        "Data lineage and dataset profiles",
        "Training run and environment",
        "Validation results",
        "Fairness results",
        "Sign-offs",
        "Serving and logging set-up",
        "Monitoring: rules and latest results",
        "Open alerts",
    }
    assert outcome.html_path.parent == tmp_path / "reports" / "bare" / "v1"
    markdown = outcome.markdown_path.read_text()
    assert "**Not recorded.**" in markdown


def test_a_model_without_a_description_says_its_purpose_is_not_recorded(
    sqlite_yard: Any, tmp_path: Path
) -> None:
    from modelyard.data import synthetic
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    x, y = split_xy(synthetic.generate(1_000, seed=4))
    sqlite_yard.models.register("undescribed", logistic_pipeline().fit(x, y), example=x.head(20))
    outcome = document(sqlite_yard, "undescribed/1", tmp_path / "pack")
    markdown = outcome.markdown_path.read_text()
    purpose = markdown.split("## Intended purpose and risk tier")[1].split("\n## ")[0]
    assert f"Intended purpose: {NOT_RECORDED}" in purpose
    assert "| Risk tier |" in purpose  # what the record does hold is still shown
    html = outcome.html_path.read_text()
    assert (
        f"Intended purpose: {NOT_RECORDED}" in html.split('id="purpose"')[1].split("</section>")[0]
    )
