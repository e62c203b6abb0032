"""The Dask engine on a LocalCluster (processes, 2 single-threaded workers).

Partitions are Arrow-backed pandas frames that share the buffers of the
Arrow batches read from Parquet, and go back to Arrow for scoring without a
copy. On the out-of-time data (a model trained on the months before the
regime change, scoring the months after), a Dask job killed midway and run
again gives every row once, with exactly the local engine's scores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from batch_helpers import ID, cli_yard, kill_group, part_markers, read_output, start_job
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from modelyard.batch.engines.dask import arrow_frame, frame_batches
from modelyard.data.out_of_time import (
    CATEGORICAL,
    FEATURES,
    NUMERIC,
    TARGET,
    generate_out_of_time,
    split_at_change,
)

ROWS = 160_000  # about 40,000 rows after the change
PART_ROWS = 4_000
OOT_COMPARED = [ID, "score", "label", "model_name", "model_version"]


def _buffer_addresses(table: pa.Table) -> list[int]:
    return [
        buf.address
        for column in table.columns
        for chunk in column.chunks
        for buf in chunk.buffers()
        if buf is not None
    ]


def test_partitions_share_the_arrow_buffers_both_ways() -> None:
    table = pa.table(
        {
            "income": pa.array(np.arange(10_000, dtype=np.float64)),
            "region": pa.array(["north", "south"] * 5_000),
            "branch": pa.array(np.arange(10_000) % 7),
        }
    )
    tables = [table.slice(0, 6_000), table.slice(6_000)]
    frame = arrow_frame(tables, table.schema)
    assert all(isinstance(dtype, pd.ArrowDtype) for dtype in frame.dtypes)
    batches = frame_batches(frame, table.schema, 2_500)
    assert [b.num_rows for b in batches] == [2_500] * 4
    back = pa.concat_tables(batches)
    assert back.equals(table)
    # No byte was copied: every buffer of the result is one of the input's.
    assert set(_buffer_addresses(back)) <= set(_buffer_addresses(table))


def _ordinal_lightgbm() -> Pipeline:
    from lightgbm import LGBMClassifier

    encode = ColumnTransformer(
        [
            ("num", "passthrough", NUMERIC),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
        ]
    )
    model = LGBMClassifier(n_estimators=40, num_leaves=15, n_jobs=1, verbose=-1, random_state=3)
    return Pipeline([("encode", encode), ("model", model)])


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_dask_job_killed_midway_resumes_to_the_local_engines_output(
    tmp_path: Path, dask_scheduler: str
) -> None:
    early, late = split_at_change(generate_out_of_time(ROWS, seed=16))
    env, yard = cli_yard(tmp_path)
    env.pop("MODELYARD_DASK_SCHEDULER", None)
    x, y = early[list(FEATURES)], early[TARGET]
    yard.models.register("oot", _ordinal_lightgbm().fit(x, y), example=x.head(5))
    folder = tmp_path / "late"
    folder.mkdir()
    rows = len(late)
    frame = late[[ID, "application_date", *FEATURES]].reset_index(drop=True)
    half = rows // 2
    # Row groups larger than the parts: the parts are row ranges inside them.
    frame.iloc[:half].to_parquet(folder / "late-0.parquet", index=False, row_group_size=10_000)
    frame.iloc[half:].to_parquet(folder / "late-1.parquet", index=False, row_group_size=10_000)

    out = tmp_path / "dask"
    command = [
        sys.executable, "-m", "modelyard.cli.main", "batch", "score", "oot/1",
        "--input", str(folder), "--output", str(out), "--id-column", ID,
        "--part-rows", str(PART_ROWS), "--batch-rows", "2000", "--engine", "dask",
        "--workers", "2", "--quiet",
    ]  # fmt: skip
    # First attempt: its own LocalCluster (2 worker processes), killed with all its
    # processes once a part is done.
    kill_group(start_job(command, env, tmp_path, lambda: part_markers(out)))
    parts_total = len(json.loads((out / "_modelyard_job.json").read_text())["parts"])
    done_at_kill = part_markers(out)
    # Row groups of 10,000 (and one short tail group per file), cut into ranges of 4,000.
    groups = [
        meta.row_group(i).num_rows
        for path in sorted(folder.glob("*.parquet"))
        for meta in [pq.ParquetFile(path).metadata]
        for i in range(meta.num_row_groups)
    ]
    assert parts_total == sum(-(-n // PART_ROWS) for n in groups) > len(groups)
    assert 1 <= len(done_at_kill) < parts_total, "nothing was left to resume"

    # Second attempt: the same command on the session's cluster (named by the setting).
    resumed = subprocess.run(
        [*command, "--json"],
        env={**env, "MODELYARD_DASK_SCHEDULER": dask_scheduler},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    record = json.loads(resumed.stdout)
    assert record["status"] == "FINISHED" and record["params"]["attempts"] == 2
    assert record["params"]["parts_done_before"] >= len(done_at_kill)
    assert (record["rows_in"], record["rows_out"], record["rows_rejected"]) == (rows, rows, 0)
    # The months after the change hold values training never saw: scored and counted.
    assert record["params"]["warnings"], record["params"]

    local = yard.batch.score(
        "oot/1", folder, tmp_path / "local", id_column=ID, part_rows=PART_ROWS, workers=1,
        quiet=True,
    )  # fmt: skip
    assert local.status == "FINISHED"
    got, expected = read_output(out), read_output(tmp_path / "local")
    assert got[ID].is_unique and len(got) == rows
    assert set(got[ID]) == set(frame[ID])
    pd.testing.assert_frame_equal(got[OOT_COMPARED], expected[OOT_COMPARED], check_exact=True)
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
    yard.close()


def test_the_engines_own_cluster_runs_its_workers_quiet() -> None:
    """The settings reach the worker processes (a forkserver child each), not only this
    process's config: the blocked-loop check every second, not every 20 ms, and no
    statistical profiler (each took CPU from the scoring, measured in _QUIET_WORKERS)."""
    script = (
        "import dask\n"
        "from distributed import Client, LocalCluster\n"
        "from modelyard.batch.engines.dask import _own_cluster_settings\n"
        "if __name__ == '__main__':\n"
        "    with dask.config.set(_own_cluster_settings()):\n"
        "        cluster = LocalCluster(n_workers=1, processes=True, threads_per_worker=1,\n"
        "                               dashboard_address=':0')\n"
        "    with cluster, Client(cluster) as client:\n"
        "        keys = ('distributed.admin.tick.interval', 'distributed.worker.profile.enabled')\n"
        "        seen = client.run(lambda: [dask.config.get(k) for k in keys])\n"
        "        print(list(seen.values()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[['1s', False]]"
