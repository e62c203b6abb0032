"""render_model_card: content, escaping, defaults and schema errors."""

from __future__ import annotations

import copy
import re
from importlib.resources import files
from typing import Any

import pytest

from modelyard.errors import InvalidInput
from modelyard.reports import render_model_card
from modelyard.reports.card import DEFAULT_LIMITATIONS, REQUIRED_KEYS


@pytest.fixture
def card() -> dict[str, Any]:
    return {
        "name": "credit-risk",
        "version": 3,
        "description": "Probability of default of unsecured personal loans.",
        "owner": "retail-risk-team",
        "risk_tier": "high",
        "purpose": "Approve or decline personal-loan applications up to 40,000.",
        "created_by": "alice",
        "created_at": "2026-11-20T10:15:00+00:00",
        "lifecycle_state": "production",
        "aliases": ["champion"],
        "flavor": "lightgbm",
        "task": "binary_classification",
        "signature": {
            "inputs": [
                {"name": "age", "type": "int64", "nullable": False, "minimum": 18, "maximum": 85},
                {
                    "name": "region",
                    "type": "string",
                    "nullable": False,
                    "categories": ["London", "Wales"],
                },
            ],
            "outputs": [{"name": "probability", "type": "float64", "nullable": False}],
        },
        "training_run": {
            "id": "9c1d7e",
            "name": "lgbm-200",
            "params": {"n_estimators": 200, "learning_rate": 0.05},
            "metrics": {"auc": 0.7412},
            "git_commit": "abc1234",
            "git_dirty": True,
            "python_version": "3.11.9",
        },
        "datasets": [
            {
                "ref": "loans@v3",
                "role": "train",
                "num_rows": 60000,
                "digest": "sha256:ab12cd",
                "columns": [
                    {"name": "age", "kind": "numeric", "null_rate": 0.0, "min": 18, "max": 85},
                    {
                        "name": "region",
                        "kind": "categorical",
                        "null_rate": 0.01,
                        "min": None,
                        "max": None,
                        "top": {"London": 9000, "Midlands": 8000},
                    },
                ],
            },
            {"ref": "loans-holdout@v1", "role": "validation", "num_rows": 20000, "digest": "ef56"},
        ],
        "metrics": {"auc": 0.7401, "gini": 0.4802},
        "validation": {
            "report_path": "reports/credit-risk/3.html",
            "metrics": {"psi_scores": 0.012},
        },
        "approvals": [
            {
                "stage": "production",
                "user": "bob",
                "role": "validator",
                "decision": "approved",
                "comment": "meets policy | see memo 12",
                "time": "2026-11-21T09:00:00+00:00",
            },
            {
                "stage": "staging",
                "user": "carol",
                "role": "risk-officer",
                "decision": "rejected",
                "comment": "needs segment review",
                "time": "2026-11-20T16:00:00+00:00",
            },
        ],
        "lineage": ["dataset loans@v3", "run 9c1d7e", "model credit-risk/3"],
        "limitations": [],
        "onnx": {"passed": True, "max_abs_diff": 2.1e-7},
    }


def test_markdown_holds_identity_approvals_and_data(card: dict[str, Any]) -> None:
    markdown, _ = render_model_card(card)
    assert markdown.startswith("# Model card: credit-risk v3\n")
    assert "| Owner | retail-risk-team |" in markdown
    assert "| Version | 3 |" in markdown
    assert "| Stage | Decision | User | Role | Time | Comment |" in markdown
    row = "| production | approved | bob | validator | 2026-11-21 09:00 UTC |"
    assert f"{row} meets policy \\| see memo 12 |" in markdown
    assert "| staging | rejected | carol | risk-officer |" in markdown
    assert "| loans@v3 | train | 60,000 | sha256:ab12cd |" in markdown
    assert "loans-holdout@v1" in markdown
    assert "| region | categorical | 1.0% | — | — | London (9,000), Midlands (8,000) |" in markdown
    assert "abc1234 (uncommitted changes)" in markdown
    assert "| learning_rate | 0.05 |" in markdown
    assert "| Max abs difference | 2.10e-07 |" in markdown
    assert "- dataset loans@v3" in markdown
    assert "Approve or decline personal-loan applications" in markdown


def test_every_markdown_table_row_has_its_header_width(card: dict[str, Any]) -> None:
    markdown, _ = render_model_card(card)
    blocks = re.split(r"\n\n", markdown)
    for block in blocks:
        lines = [ln for ln in block.splitlines() if ln.startswith("|")]
        if not lines:
            continue
        widths = {len(re.split(r"(?<!\\)\|", ln)) for ln in lines}
        assert len(widths) == 1, block


def test_html_holds_the_same_content_without_scripts(card: dict[str, Any]) -> None:
    _, html = render_model_card(card)
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html
    assert not re.search(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)
    assert "<h1>Model card: credit-risk v3</h1>" in html
    assert "retail-risk-team" in html and "loans@v3" in html
    assert '<span class="badge ok">approved</span>' in html
    assert '<span class="badge bad">rejected</span>' in html
    assert "meets policy | see memo 12" in html


def test_card_and_report_share_one_stylesheet(card: dict[str, Any], logistic_report: Any) -> None:
    css = files("modelyard.reports").joinpath("templates/_style.css").read_text()
    _, html = render_model_card(card)
    assert css.strip() in html
    assert css.strip() in logistic_report.html


def test_user_text_is_escaped_in_html(card: dict[str, Any]) -> None:
    card["description"] = "<script>alert('x')</script>"
    _, html = render_model_card(card)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_default_limitations_when_none_given(card: dict[str, Any]) -> None:
    markdown, _ = render_model_card(card)
    for text in DEFAULT_LIMITATIONS:
        assert f"- {text}" in markdown
    assert "holdout period only" in markdown and "outside the training data" in markdown
    assert "synthetic" not in markdown.lower()
    card["limitations"] = ["Not for business loans."]
    markdown, _ = render_model_card(card)
    assert "- Not for business loans." in markdown
    assert DEFAULT_LIMITATIONS[0] not in markdown


def test_minimal_card_renders_with_empty_sections() -> None:
    minimal = {
        "name": "m", "version": 1, "description": "d", "owner": "o", "risk_tier": "low",
        "created_by": "u", "created_at": "2026-01-01T00:00:00", "lifecycle_state": "staging",
        "flavor": "sklearn", "task": "binary_classification",
    }  # fmt: skip
    markdown, html = render_model_card(minimal)
    assert "_No approvals have been recorded._" in markdown
    assert "_This version has not been validated yet._" in markdown
    assert "No training run was linked" in html


@pytest.mark.parametrize("key", REQUIRED_KEYS)
def test_missing_required_key_is_named(card: dict[str, Any], key: str) -> None:
    del card[key]
    with pytest.raises(InvalidInput, match=f"'{key}'") as info:
        render_model_card(card)
    assert info.value.details == {"missing": [key]}


def test_all_missing_keys_are_named_at_once() -> None:
    with pytest.raises(InvalidInput) as info:
        render_model_card({"name": "m"})
    assert info.value.details["missing"] == [k for k in REQUIRED_KEYS if k != "name"]


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda c: c["approvals"][1].pop("user"), "approvals[1]"),
        (lambda c: c["datasets"][0].pop("ref"), "datasets[0]"),
        (lambda c: c.update(approvals="bob"), "'approvals'"),
        (lambda c: c.update(metrics=[1, 2]), "'metrics'"),
        (lambda c: c.update(training_run="abc"), "'training_run'"),
        (lambda c: c.update(created_at="yesterday"), "'created_at'"),
    ],
    ids=["approval-user", "dataset-ref", "approvals-not-list", "metrics-not-dict", "run-not-dict",
         "created-at"],
)  # fmt: skip
def test_malformed_card_is_invalid_input(card: dict[str, Any], mutate: Any, named: str) -> None:
    broken = copy.deepcopy(card)
    mutate(broken)
    with pytest.raises(InvalidInput, match=re.escape(named)):
        render_model_card(broken)


def test_not_a_dict_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="dict"):
        render_model_card(["name"])  # type: ignore[arg-type]
