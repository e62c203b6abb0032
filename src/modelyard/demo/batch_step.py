"""The quickstart's batch step: score a one-million-loan portfolio with the champion.

The portfolio is synthesised a quarter at a time into Parquet (the demo never
holds it whole), with three rows outside the training domain planted (a new
region, a missing income): a model that can score them scores them and the
summary counts them as warnings; a version whose policy rejects them sends
them to the rejects file with a reason. It is scored by the local engine —
streaming, one worker per core, the ONNX form when the champion's parity
check passed.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from modelyard.data import synthetic
from modelyard.yard import Yard

CHUNKS = 4
ROW_GROUP = 50_000
ID = "application_id"


def write_portfolio(folder: Path, rows: int, *, seed: int = 2027) -> list[Path]:
    """Synthesise ``rows`` loans into ``CHUNKS`` Parquet files, three of them faulty rows."""
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-rows // CHUNKS)
    paths = []
    for number, start in enumerate(range(0, rows, size)):
        chunk = synthetic.generate(
            min(size, rows - start), seed=seed + number, start_id=start, start_date="2026-10-01"
        )
        if number == 0 and len(chunk) >= 3:
            # A region the model never saw, and a missing income: flagged (or rejected).
            chunk.loc[[0, 1], "region"] = "Atlantis"
            chunk.loc[2, "income"] = float("nan")
        path = folder / f"portfolio-{number:02d}.parquet"
        chunk.to_parquet(path, index=False, row_group_size=ROW_GROUP)
        paths.append(path)
    return paths


def run_batch_demo(
    yard: Yard,
    console: Console,
    ref: str = "credit-risk@champion",
    rows: int = 1_000_000,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Write a portfolio of ``rows`` loans, score it with ``ref``, print the throughput."""
    workdir = Path(workdir if workdir is not None else Path(".modelyard") / "demo-batch")
    portfolio, output = workdir / "portfolio", workdir / "scores"
    started = time.perf_counter()
    shutil.rmtree(portfolio, ignore_errors=True)
    write_portfolio(portfolio, rows)
    written = time.perf_counter() - started
    console.print(f"  portfolio: {rows:,} loan applications in {portfolio} ({written:.1f} s)")
    if (output / "_modelyard_job.json").exists():
        shutil.rmtree(output)  # the previous demo's scores: score afresh
    job = yard.batch.score(
        ref,
        portfolio,
        output,
        id_column=ID,
        passthrough=["application_date"],
        part_rows=250_000,
        quiet=True,
    )
    rejects = output / "_rejects"
    reason = None
    if job.rows_rejected:
        import pandas as pd

        reason = pd.read_parquet(rejects)["_reason"].iloc[0]
    console.print(
        f"  batch job {job.id[:12]} ({job.model_ref}, {job.params.get('form')} form, "
        f"{job.params.get('workers')} workers): {job.rows_out:,} loans scored at "
        f"[bold]{job.rows_per_s or 0:,.0f} rows/s[/bold] "
        f"(+{job.params.get('load_seconds', 0):.1f} s to start workers and load the model)"
    )
    if reason is not None:
        console.print(f"  {job.rows_rejected} rows rejected to {rejects}, e.g. “{reason}”")
    if job.warnings:
        flagged = ", ".join(f"{key} × {n:,}" for key, n in job.warnings.items())
        console.print(f"  scored with warnings (outside the training domain): {flagged}")
    console.print(f"  scores: {output}   (modelyard batch status {job.id[:12]})")
    return {
        "job_id": job.id,
        "model": job.model_ref,
        "rows": job.rows_in,
        "rows_scored": job.rows_out,
        "rows_rejected": job.rows_rejected,
        "warnings": job.warnings,
        "rows_per_s": job.rows_per_s,
        "form": job.params.get("form"),
        "seconds": round(time.perf_counter() - started, 2),
        "output": str(output),
    }
