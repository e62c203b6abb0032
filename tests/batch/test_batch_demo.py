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
