"""``--part-rows`` cuts a large row group into row ranges: resumption follows it.

A 500,000-row file written as one row group becomes five parts of 100,000
rows with ``--part-rows 100000``; a job killed after some parts completed
redoes only the others, and its output equals an uninterrupted run's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from batch_helpers import (
    COMPARED,
    ID,
    MODEL,
    cli_yard,
    kill_group,
    part_markers,
    read_output,
    start_job,
)

from modelyard.batch.job import InputFile, plan_parts
from modelyard.data import synthetic

ROWS = 500_000
PART_ROWS = 100_000


def test_plan_cuts_row_groups_larger_than_part_rows_into_row_ranges() -> None:
    files = [
        InputFile("a", "a", 1, "v", (500_000,)),
        InputFile("b", "b", 1, "v", (30_000,) * 5),
        InputFile("c", "c", 1, "v", (50_000, 250_000, 50_000)),
    ]
    parts = plan_parts(files, PART_ROWS)
    ranges = [(p.file, p.start, p.stop, p.skip, p.rows) for p in parts]
    assert ranges == [
        *[(0, 0, 1, k * PART_ROWS, PART_ROWS) for k in range(5)],
        (1, 0, 3, 0, 90_000),
        (1, 3, 5, 0, 60_000),
        (2, 0, 1, 0, 50_000),
        (2, 1, 2, 0, 100_000),
        (2, 1, 2, 100_000, 100_000),
        (2, 1, 2, 200_000, 50_000),
        (2, 2, 3, 0, 50_000),
    ]
    assert [p.index for p in parts] == list(range(len(parts)))
    # Each file's rows are covered once.
    for number, item in enumerate(files):
        assert sum(p.rows or 0 for p in parts if p.file == number) == item.rows


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_then_rerun_redoes_only_the_incomplete_row_ranges(tmp_path, fitted) -> None:
    env, yard = cli_yard(tmp_path)
    model, X = fitted
    yard.models.register(MODEL, model, example=X)
    source = tmp_path / "in" / "loans.parquet"
    source.parent.mkdir()
    synthetic.generate(ROWS, seed=4242).to_parquet(source, index=False, row_group_size=ROWS)
    assert pq.ParquetFile(source).metadata.num_row_groups == 1

    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "modelyard.cli.main", "batch", "score", f"{MODEL}/1",
        "--input", str(source), "--output", str(out), "--id-column", ID,
        "--part-rows", str(PART_ROWS), "--batch-rows", "10000", "--workers", "1", "--quiet",
    ]  # fmt: skip
    kill_group(start_job(command, env, tmp_path, lambda: part_markers(out)))
    before = part_markers(out)
    manifest = json.loads((out / "_modelyard_job.json").read_text())
    assert len(manifest["parts"]) == ROWS // PART_ROWS
    assert [p.get("skip", 0) for p in manifest["parts"]] == [k * PART_ROWS for k in range(5)]
    assert 1 <= len(before) < 5, "the job finished before it was killed; nothing was tested"

    resumed = subprocess.run(
        [*command, "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr
    record = json.loads(resumed.stdout)
    assert record["params"]["parts_done_before"] == len(before)
    after = part_markers(out)
    assert sorted(after) == [0, 1, 2, 3, 4]
    # The parts finished before the kill were not scored again.
    assert {k: after[k] for k in before} == before

    reference = yard.batch.score(
        f"{MODEL}/1", source, tmp_path / "reference", id_column=ID, workers=1, quiet=True
    )
    assert reference.params["parts_total"] == 1
    got, expected = read_output(out), read_output(tmp_path / "reference")
    assert got[ID].is_unique and len(got) == ROWS
    pd.testing.assert_frame_equal(got[COMPARED], expected[COMPARED], check_exact=True)
    yard.close()
