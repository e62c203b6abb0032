"""SIGKILL a running ``modelyard batch score`` at a random moment; the same command finishes it.

The resumed output must equal an uninterrupted run's: every row once, the
same scores, no duplicate and no missing id. The killed job's workers must
not outlive it, and ``batch status`` shows the interrupted job's progress.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from batch_helpers import (
    COMPARED,
    ID,
    MODEL,
    cli_yard,
    group_members,
    read_output,
    start_job,
    write_parts,
)

from modelyard.data import synthetic

ROWS = 300_000
SEED = int(os.environ.get("MODELYARD_TEST_SEED", "20261124"))


def _completed(manifest: Path, markers: Path) -> int:
    done: set[int] = set()
    with contextlib.suppress(OSError, ValueError):
        done |= {int(k) for k in json.loads(manifest.read_text()).get("completed", {})}
    if markers.exists():
        done |= {int(p.stem.removeprefix("part-")) for p in markers.glob("part-*.json")}
    return len(done)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_sigkill_then_same_command_gives_the_uninterrupted_output(tmp_path, fitted) -> None:
    rng = random.Random(SEED)
    env, yard = cli_yard(tmp_path)
    model, X = fitted
    yard.models.register(MODEL, model, example=X)
    write_parts(synthetic.generate(ROWS, seed=SEED), tmp_path / "in", files=3, row_group=5_000)
    options = ["--id-column", ID, "--part-rows", "10000", "--batch-rows", "5000"]
    reference = yard.batch.score(
        f"{MODEL}/1",
        tmp_path / "in",
        tmp_path / "reference",
        id_column=ID,
        part_rows=10_000,
        batch_rows=5_000,
        workers=2,
        quiet=True,
    )
    assert reference.rows_out == ROWS

    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "modelyard.cli.main",
        "batch",
        "score",
        f"{MODEL}/1",
        "--input",
        str(tmp_path / "in"),
        "--output",
        str(out),
        "--workers",
        "2",
        "--quiet",
        *options,
    ]
    killed = start_job(
        command,
        env,
        tmp_path,
        lambda: _completed(out / "_modelyard_job.json", out / "_modelyard_parts") >= 1,
    )
    try:
        delay = rng.uniform(0.0, 0.6)
        time.sleep(delay)
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        done_at_kill = _completed(out / "_modelyard_job.json", out / "_modelyard_parts")
        print(f"seed {SEED}: killed {delay:.3f} s after the first part; {done_at_kill}/30 done")
        assert done_at_kill < 30, "the job finished before it was killed; nothing was tested"
        # The workers (and the forkserver) notice and exit on their own.
        deadline = time.monotonic() + 300
        while group_members(killed.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert group_members(killed.pid) == []
    finally:
        if group_members(killed.pid):
            os.killpg(killed.pid, signal.SIGKILL)

    job_id = json.loads((out / "_modelyard_job.json").read_text())["job_id"]
    status = subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", "batch", "status", job_id[:8], "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    interrupted = json.loads(status.stdout)
    assert interrupted["status"] == "RUNNING" and interrupted["progress"]["parts_done"] >= 1

    resumed = subprocess.run(
        [*command, "--json"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    record = json.loads(resumed.stdout)
    assert record["id"] == job_id and record["status"] == "FINISHED"
    assert record["params"]["attempts"] == 2
    assert record["params"]["parts_done_before"] >= 1
    assert (record["rows_in"], record["rows_out"], record["rows_rejected"]) == (ROWS, ROWS, 0)

    got, expected = read_output(out), read_output(tmp_path / "reference")
    assert got[ID].is_unique and len(got) == ROWS
    pd.testing.assert_frame_equal(got[COMPARED], expected[COMPARED], check_exact=True)
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    assert not (out / "_modelyard_job.lock").exists()
