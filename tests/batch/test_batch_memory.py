"""Memory stays flat: scoring 2 million rows takes no more than scoring 250 thousand.

The job runs in a child process (the CLI) so its peak resident set size is
its own; each worker reports its peak with every part. Both must stay well
under the size of the input as one DataFrame, and the same whether the input
has 250 thousand rows or eight times as many. A worker's floor is the
libraries and the model it loads (about 300 MiB here), so the absolute bound
is the input as one frame and the real claim is the flatness check.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from batch_helpers import ID, MODEL, cli_yard

from modelyard.data import synthetic

BLOCK = 250_000
WRAPPER = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stderr.write(done.stderr)\n"
    "print(done.stdout.strip().replace('\\n', ' '))\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n"
    "sys.exit(done.returncode)\n"
)


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_input(tmp_path: Path, fitted) -> None:
    env, yard = cli_yard(tmp_path)
    # Both jobs compile the tree kernel at load: otherwise only the large one crosses the
    # batch threshold and pays numba's compile memory, a fixed cost, not the input's.
    env = {**env, "MODELYARD_BATCH_KERNEL_AFTER_ROWS": "0"}
    model, X = fitted
    yard.models.register(MODEL, model, example=X)
    yard.close()
    block = synthetic.generate(BLOCK, seed=5)
    frame_mb = block.memory_usage(deep=True).sum() / 2**20 * 8  # the 2M-row input as a frame
    (tmp_path / "small").mkdir()
    (tmp_path / "large").mkdir()
    block.to_parquet(tmp_path / "small" / "a.parquet", row_group_size=50_000)
    for number in range(8):  # the same rows eight times: only the size matters here
        block.to_parquet(tmp_path / "large" / f"{number}.parquet", row_group_size=50_000)

    peaks = {}
    for name in ("small", "large"):
        command = [
            sys.executable,
            "-m",
            "modelyard.cli.main",
            "batch",
            "score",
            f"{MODEL}/1",
            "-i",
            str(tmp_path / name),
            "-o",
            str(tmp_path / f"out-{name}"),
            "--id-column",
            ID,
            "--workers",
            "2",
            "--part-rows",
            "200000",
            "--batch-rows",
            "50000",
            "--json",
        ]
        done = subprocess.run(
            [sys.executable, "-c", WRAPPER, *command],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        record_line, driver_line = done.stdout.strip().splitlines()[-2:]
        record = json.loads(record_line)
        assert record["rows_out"] == (BLOCK if name == "small" else 8 * BLOCK)
        peaks[name] = (int(driver_line), record["params"]["worker_peak_rss_mb"])
    print(f"input as one frame: {frame_mb:,.0f} MiB; peaks (driver, worker) MiB: {peaks}")
    for driver, worker in peaks.values():
        assert driver < frame_mb and worker < frame_mb
    assert peaks["large"][0] <= peaks["small"][0] * 1.15 + 20
    assert peaks["large"][1] <= peaks["small"][1] * 1.15 + 20
