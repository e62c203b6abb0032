"""The quickstart's batch step, on a small portfolio."""

from __future__ import annotations

from batch_helpers import MODEL
from rich.console import Console

from modelyard.demo.batch_step import run_batch_demo


def test_batch_demo_scores_the_portfolio_and_shows_rejects(by, tmp_path) -> None:
    console = Console(record=True, width=200)
    result = run_batch_demo(by, console, ref=f"{MODEL}/1", rows=20_000, workdir=tmp_path / "demo")
    assert result["rows"] == 20_000
    assert (result["rows_scored"], result["rows_rejected"]) == (19_997, 3)
    assert result["rows_per_s"] > 0 and result["form"] == "native"
    text = console.export_text()
    assert "rows/s" in text and "unseen category (got 'Atlantis')" in text
    assert by.batch.status(result["job_id"]).status == "FINISHED"
    again = run_batch_demo(by, console, ref=f"{MODEL}/1", rows=20_000, workdir=tmp_path / "demo")
    assert again["rows_scored"] == 19_997  # scored afresh, not refused as another job's output


def test_batch_demo_scores_out_of_domain_rows_by_default(by, fitted, tmp_path) -> None:
    """Without a rejecting policy the planted rows are scored and counted as warnings."""
    model, X = fitted
    version = by.models.register(MODEL, model, example=X)
    console = Console(record=True, width=200)
    result = run_batch_demo(by, console, ref=version.ref, rows=20_000, workdir=tmp_path / "demo")
    assert (result["rows_scored"], result["rows_rejected"]) == (20_000, 0)
    assert result["warnings"]["region: unseen_category"] == 2
    assert result["warnings"]["income: null"] == 1
    assert "scored with warnings" in console.export_text()
