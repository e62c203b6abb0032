"""What Spark's own reader and writer cost before any scoring: the floor of ``spark-read-2``.

``benchmarks/batch.py`` measures the Spark engine on Spark's reader and writer
(``spark-read-2``) far below the raw ``predict_proba`` rows/s per core. This
script measures how much of that is Spark moving the rows, with no model at all,
on the same input (``.bench/batch/input-N``, written by ``batch.py``), against
raw measured in the same run:

- ``read-write``: Spark reads the id column and writes it with a random score,
  partitioned by the job's bucket column (``pmod(xxhash64(id), 8)``), with
  dynamic partition overwrite — no Python worker;
- ``python-pass``: every input column goes through ``mapInArrow`` to the Python
  workers, which return the id, a random score and the bucket (no model), and
  Spark writes them the same way;
- ``python-pass-cached``: the same, kept in Spark's cache (uncompressed, as the
  engine's job settings make it), counted per bucket, then written in 4 groups
  of 2 buckets — the engine's one pass and group commits, without the model.

Each Spark mode runs on ``local[2]`` in its own process; rows/s time the action
only (the JVM's start excluded, as the engine's rows/s exclude its start).
Rounds are interleaved; medians.

    python benchmarks/spark_floor.py [--rows 5000000] [--repeat 2] [--no-write]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report
import batch

MODES = ("raw", "read-write", "python-pass", "python-pass-cached")
SPARK_MODES = MODES[1:]
BUCKETS = 8
GROUPS = ([0, 1], [2, 3], [4, 5], [6, 7])
PACKAGES = ["pyspark", "pyarrow", "pandas", "lightgbm", "scikit-learn"]


def run_spark(mode: str, source: str, out: str) -> dict[str, Any]:
    """One Spark mode on ``local[2]``; the action's seconds and rows."""
    import numpy as np
    import pyarrow as pa
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as sf

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config(*batch.SPARK_READ_CONF.split("=", 1))
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "20000")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.sql.inMemoryColumnarStorage.compressed", "false")
        .getOrCreate()
    )
    frame = spark.read.parquet(source).withColumn(
        "bucket", sf.expr(f"pmod(xxhash64({batch.ID}), {BUCKETS})")
    )
    schema = f"{batch.ID} string, score double, bucket long"

    key = batch.ID  # a local: the function is pickled for the Python workers, batch is not

    def passed(batches: Any) -> Any:
        for part in batches:
            yield pa.RecordBatch.from_arrays(
                [part.column(key), pa.array(np.random.random(part.num_rows)), part["bucket"]],
                names=[key, "score", "bucket"],
            )

    def write(rows: Any) -> None:
        rows.write.mode("overwrite").partitionBy("bucket").parquet(out)

    started = time.perf_counter()
    if mode == "read-write":
        write(frame.select(batch.ID, sf.rand().alias("score"), "bucket"))
    elif mode == "python-pass":
        write(frame.mapInArrow(passed, schema))
    else:
        mapped = frame.mapInArrow(passed, schema).persist()
        mapped.groupBy("bucket").count().collect()
        for group in GROUPS:
            write(mapped.where(sf.col("bucket").isin(group)))
        mapped.unpersist()
    seconds = time.perf_counter() - started
    rows = spark.read.parquet(out).count()
    spark.stop()
    return {"seconds": seconds, "rows": rows}


def measure(mode: str, rows: int, work: Path) -> dict[str, Any]:
    source = work / f"input-{rows}"
    if mode == "raw":
        columns = ",".join(_model_columns())
        command = [
            sys.executable,
            batch.__file__,
            "--run-raw",
            str(work / "model.skops"),
            str(source),
            columns,
        ]
    else:
        out = work / "out" / f"floor-{mode}"
        shutil.rmtree(out, ignore_errors=True)
        command = [sys.executable, __file__, "--run-spark", mode, str(source), str(out)]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    seconds = result["score_s"] if mode == "raw" else result["seconds"]
    if result["rows"] != rows:
        raise RuntimeError(f"{mode}: {result['rows']} rows out of {rows}")
    return {"rows_per_s": rows / seconds}


def _model_columns() -> list[str]:
    from modelyard.data import synthetic
    from modelyard.demo.credit_models import split_xy

    x, _ = split_xy(synthetic.generate(10, seed=1))
    return list(x.columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--run-spark", nargs=3, metavar=("MODE", "INPUT", "OUTPUT"))
    args = parser.parse_args()
    if args.run_spark:
        print(json.dumps(run_spark(*args.run_spark)))
        return
    work = batch.WORK
    if (
        not (work / f"input-{args.rows}" / "_complete").exists()
        or not (work / "model.skops").exists()
    ):
        raise SystemExit(f"run benchmarks/batch.py --rows {args.rows} first (it writes the input)")
    runs: dict[str, list[float]] = {m: [] for m in MODES}
    loads = []
    for number in range(args.repeat):
        for mode in MODES:
            loads.append(os.getloadavg()[0])
            rate = measure(mode, args.rows, work)["rows_per_s"]
            runs[mode].append(rate)
            print(f"round {number + 1} {mode}: {rate:,.0f} rows/s", flush=True)
    med = {m: statistics.median(v) for m, v in runs.items()}
    raw = med["raw"]
    lines = [
        f"{args.rows:,} rows (`benchmarks/batch.py`'s input); {args.repeat} interleaved "
        "rounds, medians; each run is its own process; Spark's rows/s time the action "
        "only (the JVM's start excluded). No model in the Spark modes: they show what "
        "Spark's reader, `mapInArrow` and writer cost before a row is scored.",
        "",
        "| mode | rows/s | rows/s per core vs raw |",
        "|---|---|---|",
        f"| raw: `read_parquet` + one `predict_proba` (one core) | {raw:,.0f} | 1.00× |",
    ]
    names = {
        "read-write": "Spark reads the ids, writes them with a score, partitioned (no Python)",
        "python-pass": "every input column through `mapInArrow` and back, then written",
        "python-pass-cached": "the same, cached, counted, written in 4 groups (the engine's "
        "pass without the model)",
    }
    for mode in SPARK_MODES:
        lines.append(f"| {names[mode]} | {med[mode]:,.0f} | {med[mode] / 2 / raw:.2f}× |")
    lines += [
        "",
        f"Rows/s per round: {json.dumps({m: [round(r) for r in v] for m, v in runs.items()})}. "
        f"Load average at each run's start: {min(loads):.1f}–{max(loads):.1f} (2 cores).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        _report.write_section(
            "spark-floor",
            "Spark's reader and writer before any scoring (the floor of spark-read-2)",
            body,
            packages=PACKAGES,
        )


if __name__ == "__main__":
    main()
