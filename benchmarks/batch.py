"""Batch scoring throughput, CPU and memory: Modelyard's engines vs whole-frame baselines.

Data: ``--rows`` synthetic loan applications (``modelyard.data.synthetic``; 5
million in the full run), generated one million at a time into Parquet files
(row groups of 100,000), so the parent never holds more than one chunk.
Model: the demo's LightGBM pipeline (``lightgbm_pipeline()``: OrdinalEncoder +
200 trees x 31 leaves, one thread) trained on 50,000 rows and registered in a
temporary yard.

Each measured run is its own process under ``/usr/bin/time -v``, started in
its own session so that a sampler can add up the memory of every process of
the run (driver, forkserver, Dask scheduler/nannies/workers, the Spark JVM and
its Python workers) every 0.2 s (RSS and CPU; PSS less often, see GroupMemory):

- ``raw``: ``pandas.read_parquet`` of the whole input + one ``predict_proba``
  (the ceiling of the native model; it needs the whole frame in memory);
- ``local-1`` / ``local-2``: ``modelyard batch score`` with the local engine and
  1 and 2 workers (streaming, one thread per worker);
- ``dask-2``: the Dask engine on its own LocalCluster of 2 single-threaded
  worker processes;
- ``spark-2``: the Spark engine on ``local[2]`` with a plain ``--input``: Spark
  schedules the parts, each task reads and writes Parquet with pyarrow;
- ``spark-read-2``: the Spark engine on Spark's data sources (``--input-format
  parquet``): Spark's Parquet reader, ``mapInArrow`` scoring, Spark's writer
  (partitioned Parquet, a commit per group of buckets), ``local[2]``;
- ``mlflow``: MLflow 3.17 ``mlflow.pyfunc`` (``predict_proba``) on the whole
  frame, in its own virtual environment (skipped with ``--no-mlflow``).

The engines score with ``--form auto`` (``--form``): the compiled scorer
where the version has one, as a production job would. Rows/s are over the
scoring phase (model loading and cluster start-up reported apart); CPU per
row is given twice: the workers' own (each part's process CPU from its read to
its commit) and that of every process of the run from start to exit,
start-ups included (each process's user + system time, sampled with the
memory; ``/usr/bin/time`` alone misses processes nobody waits for, such as
Spark's JVM).

Modes run interleaved (raw, local-1, local-2, dask-2, spark-2, ...) for
``--repeat`` rounds; the report gives medians and the ratios to the raw
ceiling measured in the same run. Before timing, Modelyard's output of the
first file is checked against the model's ``predict_proba``; in the first
round every engine's output is checked to equal the local engine's.

    .venv/bin/python benchmarks/batch.py [--rows 5000000] [--repeat 3] [--no-mlflow]
        [--modes raw,local-1,local-2,dask-2,spark-2,spark-read-2] [--part-rows 250000]
        [--supplement "LABEL"]

``--supplement`` keeps the section's main table and adds this run below it
as a labelled table with its own date, commit and load (replacing an earlier
supplement), for runs of a few modes only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

REPO = Path(__file__).resolve().parents[1]
# This checkout's CLI, whichever environment runs the benchmark.
CLI = [sys.executable, "-m", "modelyard.cli.main"]
WORK = REPO / ".bench" / "batch"
CHUNK = 1_000_000
ROW_GROUP = 100_000
TRAIN_ROWS = 50_000
MODEL = "bench-credit"
ID = "application_id"
# Issue 16: with the compiled scorer every engine at or above the raw rows/s per core,
# the local engine at least twice it; Dask's CPU per row within 1.2x the local engine's.
TARGETS = {"engine_per_core_vs_raw": 1.0, "local_per_core_vs_raw": 2.0, "dask_cpu_vs_local": 1.2}
PACKAGES = [
    "pyarrow",
    "pandas",
    "lightgbm",
    "scikit-learn",
    "onnxruntime",
    "dask",
    "distributed",
    "pyspark",
    "mlflow",
]
MODES = ("raw", "local-1", "local-2", "dask-2", "spark-2", "spark-read-2")
ENGINE_NAMES = {
    "local-1": "Modelyard local engine, 1 worker",
    "local-2": "Modelyard local engine, 2 workers",
    "dask-2": "Modelyard Dask engine, LocalCluster of 2 workers",
    "spark-2": "Modelyard Spark engine, local[2]",
    "spark-read-2": "Modelyard Spark engine on Spark's reader and writer, local[2]",
}
# Spark's Parquet reader refuses the nanosecond timestamps pandas writes (the input's
# application_date, not a model input) unless it reads them as longs.
SPARK_READ_CONF = "spark.sql.legacy.parquet.nanosAsLong=true"


def mode_cores(mode: str) -> int:
    """Workers (cores) of a mode: the number its name ends with; 1 for the baselines."""
    return int(mode.rsplit("-", 1)[1]) if mode in ENGINE_NAMES else 1


# Whole-frame modes hold the input in memory (BENCHMARKING.md: ~0.9 and ~1.4 GB per M rows).
WHOLE_FRAME_GIB_PER_M = {"raw": 0.95, "mlflow": 1.5}


def _mlflow_requirements() -> list[str]:
    import _peers

    pins = [f"{d}=={metadata.version(d)}" for d in ("lightgbm", "scikit-learn")]
    return [*_peers.MLFLOW_REQUIREMENTS, *pins]


# ----------------------------------------------------------------- data and model


def prepare(rows: int, work: Path) -> dict[str, Any]:
    """Write the input (reused when already there), train and register the model."""
    from modelyard.data import synthetic

    data = work / f"input-{rows}"
    marker = data / "_complete"
    if not marker.exists():
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        for number, start in enumerate(range(0, rows, CHUNK)):
            chunk = synthetic.generate(min(CHUNK, rows - start), seed=100 + number, start_id=start)
            chunk.to_parquet(data / f"loans-{number:03d}.parquet", row_group_size=ROW_GROUP)
            print(f"  wrote {start + len(chunk):,} rows", flush=True)
        marker.write_text(str(rows))
    import modelyard
    from modelyard.demo.credit_models import lightgbm_pipeline, split_xy

    X, y = split_xy(synthetic.generate(TRAIN_ROWS, seed=7))
    model = lightgbm_pipeline().fit(X, y)
    import skops.io

    # The raw baseline reads the model back with skops (no pickle loaded here); the pickle
    # is written only for MLflow's peer venv, whose own model format is cloudpickle.
    skops.io.dump(model, work / "model.skops")
    (work / "model.pkl").write_bytes(pickle.dumps(model))
    yard_dir = work / "yard"
    shutil.rmtree(yard_dir, ignore_errors=True)
    env = _env(work)
    yard = modelyard.connect(
        env["MODELYARD_STORE_URL"],
        artifact_root=env["MODELYARD_ARTIFACT_ROOT"],
        home=env["MODELYARD_HOME"],
        user="bench",
    )
    version = yard.models.register(MODEL, model, example=X)
    yard.close()
    return {"input": data, "model": model, "columns": list(X.columns), "ref": version.ref}


def _env(work: Path) -> dict[str, str]:
    yard_dir = work / "yard"
    return {
        **os.environ,
        "MODELYARD_HOME": str(yard_dir),
        "MODELYARD_STORE_URL": f"sqlite:///{yard_dir / 'yard.db'}",
        "MODELYARD_ARTIFACT_ROOT": str(yard_dir / "artifacts"),
        "MODELYARD_USER": "bench",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p
        ),
    }


# ----------------------------------------------------------------- measuring


class GroupMemory:
    """Peak of the summed RSS (and PSS) of every process in a session, sampled.

    RSS and CPU every ``interval``, new processes of the session once a second, PSS
    when the summed RSS passes its peak by 1 % (PSS <= RSS) and every ``pss_every``
    samples.
    PSS comes from ``smaps_rollup``, a walk of each process's page tables in the
    kernel: read five times a second for every process it cost 16 % of a core (5.8 s
    of CPU, mostly system time, over a 35 s local-2 run of 5M rows; 1.3 % read every
    5 s, measured) — taken from the two-core modes, whose workers hold both cores,
    and not from raw or local-1. The
    sampler thread also runs at a lower priority (nice 10) for the same reason.
    """

    def __init__(self, session: int, interval: float = 0.2, pss_every: int = 25) -> None:
        self.session = session
        self.interval = interval
        self.pss_every = pss_every
        self._pss_read_at = 0  # the RSS sum when PSS was last read at an RSS peak
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        # CPU ticks per process (pid, start time) as last sampled: /usr/bin/time misses
        # processes nobody waits for (Spark's JVM), so CPU is summed over the tree here.
        self.cpu_ticks: dict[tuple[int, str], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GroupMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cpu_seconds(self) -> float:
        """CPU of every process seen (to the last sample, 0.2 s at most short for each)."""
        return sum(self.cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")

    def _members(self) -> list[int]:
        found = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[3]) == self.session:
                    found.append(int(entry.name))
        return found

    def _run(self) -> None:
        with contextlib.suppress(OSError):  # Linux: the priority of this thread only
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
        count = 0
        members: list[int] = []
        while not self._stop.wait(self.interval):
            if count % 5 == 0:  # new processes of the session, found once a second
                members = self._members()
            count += 1
            rss = 0
            for pid in members:
                try:
                    statm = Path(f"/proc/{pid}/statm").read_text().split()
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                # utime and stime are fields 14 and 15 of stat; the start time is 22.
                self.cpu_ticks[(pid, fields[19])] = int(fields[11]) + int(fields[12])
                rss += int(statm[1]) * page_kb
            # PSS <= RSS: it is read when the RSS passes its peak by 1 % (where the PSS
            # peak can be) and every pss_every samples, for a peak the RSS does not show.
            if rss > self._pss_read_at * 1.01 or count % self.pss_every == 1:
                self._pss_read_at = max(self._pss_read_at, rss)
                pss = 0
                for pid in members:
                    with contextlib.suppress(OSError):
                        pss += _kb(Path(f"/proc/{pid}/smaps_rollup").read_text(), "Pss")
                self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)


def _kb(text: str, key: str) -> int:
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


def measure(cmd: list[str], env: dict[str, str], timeout: float = 3600) -> dict[str, Any]:
    """Run ``cmd`` under /usr/bin/time -v in its own session; its last stdout line is JSON."""
    load_before = os.getloadavg()[0]
    proc = subprocess.Popen(
        ["/usr/bin/time", "-v", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    with GroupMemory(proc.pid) as memory:
        out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed ({proc.returncode}):\n{err[-3000:]}")
    user = re.search(r"User time \(seconds\): ([\d.]+)", err)
    system = re.search(r"System time \(seconds\): ([\d.]+)", err)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    assert wall and rss, err[-2000:]
    parts = [float(x) for x in wall.group(1).split(":")]
    lines = [line for line in out.splitlines() if line.strip()]
    # Peers print one JSON line last; the CLI prints one indented JSON document.
    result = json.loads(lines[-1] if lines[-1].startswith("{") else out)
    result.update(
        wall_s=sum(x * 60 ** (len(parts) - 1 - i) for i, x in enumerate(parts)),
        max_rss_mb=int(rss.group(1)) / 1024,
        total_cpu_s=max(
            float(user.group(1) if user else 0) + float(system.group(1) if system else 0),
            memory.cpu_seconds,
        ),
        group_rss_mb=memory.peak_rss_kb / 1024,
        group_pss_mb=memory.peak_pss_kb / 1024,
        load=(load_before + os.getloadavg()[0]) / 2,
    )
    return result


def run_raw(model_path: str, input_dir: str, columns: str) -> dict[str, Any]:
    """In a child process: read the whole input, one predict_proba (the ceiling)."""
    import numpy as np
    import pandas as pd

    started = time.perf_counter()
    import skops.io

    # The file this run wrote (prepare): every type in it is the pipeline's own.
    model = skops.io.load(model_path, trusted=skops.io.get_untrusted_types(file=model_path))
    load_s = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    frame = pd.read_parquet(input_dir, columns=columns.split(","))
    read_s = time.perf_counter() - started
    scores = model.predict_proba(frame)[:, 1]
    total_s = time.perf_counter() - started
    return {
        "rows": len(frame),
        "load_s": round(load_s, 3),
        "read_s": round(read_s, 3),
        "predict_s": round(total_s - read_s, 3),
        "score_s": round(total_s, 3),
        "cpu_s": round(time.process_time() - cpu_started, 3),
        "checksum": float(np.sum(scores)),
    }


def mode_command(mode: str, setup: dict[str, Any], work: Path, mlflow: Path | None) -> list[str]:
    columns = ",".join(setup["columns"])
    if mode == "raw":
        return [
            sys.executable,
            __file__,
            "--run-raw",
            str(work / "model.skops"),
            str(setup["input"]),
            columns,
        ]
    if mode in ENGINE_NAMES:
        engine, workers = mode.split("-")[0], str(mode_cores(mode))
        out = work / "out" / mode
        shutil.rmtree(out, ignore_errors=True)
        command = [
            *CLI,
            "batch",
            "score",
            setup["ref"],
            "--input",
            str(setup["input"]),
            "--output",
            str(out),
            "--id-column",
            ID,
            "--engine",
            engine,
            "--form",
            setup["form"],
            "--json",
        ]
        if mode == "spark-read-2":  # Spark's reader: its own splits, no parts
            # --overwrite: a finished job of the same command is otherwise returned as is.
            command += ["--input-format", "parquet", "--spark-conf", SPARK_READ_CONF, "--overwrite"]
        else:
            command += ["--part-rows", str(setup["part_rows"])]
        if engine != "spark":  # Spark's cores come from its master, local[2]
            command += ["--workers", workers]
        return command
    assert mlflow is not None
    import _peers

    return [
        str(mlflow),
        str(_peers.PEERS_DIR / "mlflow_batch.py"),
        "predict",
        str(work / "mlflow-model"),
        str(setup["input"]),
        columns,
    ]


def summarise(mode: str, result: dict[str, Any]) -> dict[str, Any]:
    """Rows/s excluding model load, and the memory figures, of one run."""
    if mode in ENGINE_NAMES:
        params = result["params"]
        rows = result["rows_out"] + result["rows_rejected"]
        return {
            "total_cpu_us_per_row": result["total_cpu_s"] / rows * 1e6,
            "rows": rows,
            "rows_per_s": params["rows_per_s"],
            "load_s": params["load_seconds"],
            "wall_s": result["wall_s"],
            "e2e_rows_per_s": rows / result["wall_s"],
            "group_rss_mb": result["group_rss_mb"],
            "group_pss_mb": result["group_pss_mb"],
            "cpu_us_per_row": params["worker_cpu_us_per_row"],
            "driver_mb": params["driver_peak_rss_mb"],
            "worker_mb": params["worker_peak_rss_mb"],
            # time -v sees only the processes it waits for; workers report their own peak.
            "max_rss_mb": max(
                result["max_rss_mb"],
                params["driver_peak_rss_mb"] or 0,
                params["worker_peak_rss_mb"] or 0,
            ),
            "workers": params.get("workers") or 0,
            "load": result["load"],
        }
    return {
        "total_cpu_us_per_row": result["total_cpu_s"] / result["rows"] * 1e6,
        "rows": result["rows"],
        "rows_per_s": result["rows"] / result["score_s"],
        "predict_rows_per_s": result["rows"] / result["predict_s"],
        "load_s": result["load_s"],
        "wall_s": result["wall_s"],
        "e2e_rows_per_s": result["rows"] / result["wall_s"],
        "group_rss_mb": result["group_rss_mb"],
        "group_pss_mb": result["group_pss_mb"],
        "max_rss_mb": result["max_rss_mb"],
        "cpu_us_per_row": result["cpu_s"] / result["rows"] * 1e6,
        "load": result["load"],
    }


def check_exact(setup: dict[str, Any], work: Path, env: dict[str, str]) -> int:
    """Score the first file with Modelyard and compare with predict_proba, exactly."""
    import numpy as np
    import pandas as pd

    first = sorted(Path(setup["input"]).glob("*.parquet"))[0]
    out = work / "check"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run(
        [
            *CLI,
            "batch",
            "score",
            setup["ref"],
            "--input",
            str(first),
            "--output",
            str(out),
            "--id-column",
            ID,
            "--form",
            setup["form"],
            "--quiet",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    frame = pd.read_parquet(first)
    scored = pd.read_parquet(out).set_index(ID).loc[frame[ID]]
    expected = setup["model"].predict_proba(frame[setup["columns"]])[:, 1]
    difference = float(np.max(np.abs(scored["score"].to_numpy() - expected)))
    if difference > 1e-9:
        raise SystemExit(
            f"Modelyard's scores differ from predict_proba by up to {difference}: "
            "not timing a wrong answer"
        )
    return len(frame), difference


EVALUATOR_ROWS = (1, 10, 100, 10_000)


def evaluator_table(setup: dict[str, Any], rounds: int = 5) -> list[str]:
    """In-process µs per row of the tree evaluators on the model matrix, by request size.

    The model matrix of the first input file's rows (the pipeline's own encoder)
    scored by: ``LGBMClassifier.predict_proba``; LightGBM's C API booster on one
    thread (the call ``predict_proba`` makes, and the compiled scorer's evaluator
    before the tree kernel); the compiled estimator (numba tree kernel). CPU time
    of this process (``time.process_time``, least disturbed by other jobs), each
    size repeated to at least 20,000 rows per timing, the evaluators interleaved,
    medians of ``rounds`` rounds. Answers are checked equal before timing.
    """
    import numpy as np
    import pandas as pd

    from modelyard.compiled._lightgbm_capi import CBooster
    from modelyard.compiled.estimators import compile_estimator

    model = setup["model"]
    first = sorted(Path(setup["input"]).glob("*.parquet"))[0]
    frame = pd.read_parquet(first).iloc[: max(EVALUATOR_ROWS)]
    matrix = np.ascontiguousarray(model[:-1].transform(frame[setup["columns"]]), dtype=np.float64)
    final = model[-1]
    booster = CBooster(final.booster_.model_to_string(), parameters="num_threads=1")
    compiled = compile_estimator(final, matrix.shape[1])
    native = final.predict_proba(matrix)
    if not np.array_equal(compiled.predict(matrix), native) or not np.array_equal(
        booster.predict(matrix), native[:, 1]
    ):
        raise SystemExit("an evaluator differs from predict_proba: not timing a wrong answer")
    evaluators = {
        "`LGBMClassifier.predict_proba`": final.predict_proba,
        "LightGBM C API, one thread": booster.predict,
        f"compiled ({compiled.evaluator})": compiled.predict,
    }
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for rows in EVALUATOR_ROWS:
            block = matrix[:rows]
            repeat = max(1, 20_000 // rows)
            for name, predict in evaluators.items():
                predict(block)
                start = time.process_time()
                for _ in range(repeat):
                    predict(block)
                spent = time.process_time() - start
                times.setdefault((name, rows), []).append(spent / repeat / rows * 1e6)
    med = {key: statistics.median(values) for key, values in times.items()}
    header = "| evaluator | " + " | ".join(f"{r:,} row(s)" for r in EVALUATOR_ROWS) + " |"
    lines = [header, "|---|" + "---|" * len(EVALUATOR_ROWS)]
    for name in evaluators:
        cells = " | ".join(f"{med[(name, r)]:.2f} µs" for r in EVALUATOR_ROWS)
        lines.append(f"| {name} | {cells} |")
    kernel = f"compiled ({compiled.evaluator})"
    speedup = " | ".join(
        f"{med[('LightGBM C API, one thread', r)] / med[(kernel, r)]:.2f}×" for r in EVALUATOR_ROWS
    )
    lines.append(f"| C API ÷ compiled | {speedup} |")
    print("\n".join(lines), flush=True)
    return [
        "In-process CPU µs per row of the tree evaluators on the model matrix (the "
        f"pipeline's encoder already applied; {rounds} interleaved rounds, medians, "
        "`time.process_time`; answers equal to `predict_proba` bit for bit):",
        "",
        *lines,
    ]


def scorer_kind(ref: str, form: str, env: dict[str, str]) -> str:
    """Which scorer a worker loads for ``ref`` (compiled path, booster or native)."""
    import modelyard

    yard = modelyard.connect(
        env["MODELYARD_STORE_URL"],
        artifact_root=env["MODELYARD_ARTIFACT_ROOT"],
        home=env["MODELYARD_HOME"],
        user="bench",
    )
    try:
        name, version, digest = yard.batch._models.resolve_digest(ref)
        return str(yard.batch._bundle(f"{name}/{version}", digest, form).load().form)
    finally:
        yard.close()


def same_output(work: Path, mode: str, reference: str) -> float:
    """Max absolute score difference between two engines' outputs (same ids required)."""
    import numpy as np
    import pandas as pd

    def scores(name: str) -> pd.Series:
        frame = pd.read_parquet(work / "out" / name, columns=[ID, "score"])
        return frame.set_index(ID)["score"].sort_index()

    got, expected = scores(mode), scores(reference)
    if not (got.index.is_unique and got.index.equals(expected.index)):
        raise SystemExit(f"{mode} did not score exactly the rows {reference} scored")
    return float(np.max(np.abs(got.to_numpy() - expected.to_numpy())))


def _available_gib() -> float:
    text = Path("/proc/meminfo").read_text()
    return _kb(text, "MemAvailable") / 1024**2


def report(
    results: dict[str, list[dict[str, Any]]],
    rows: int,
    repeat: int,
    notes: list[str],
    write: bool = True,
    supplement: str | None = None,
) -> dict[str, Any]:
    import _report

    med = {
        mode: {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "rows"}
        for mode, runs in results.items()
    }
    raw = med["raw"]["rows_per_s"]
    names = {
        "raw": "`read_parquet` + one `predict_proba` (whole frame, one core; the ceiling)",
        **{m: f"{n} (`--form auto`)" for m, n in ENGINE_NAMES.items()},
        "mlflow": "MLflow 3.17 `mlflow.pyfunc` predict (whole frame)",
    }
    lines = [
        "| mode | rows/s (load excluded) | vs raw | rows/s per core vs raw | "
        "end-to-end rows/s | model load / start | CPU per row, workers | "
        "CPU per row, all processes, whole run | peak RSS, all processes | "
        "peak PSS, all processes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    per_core: dict[str, float] = {}
    for mode in ("raw", *ENGINE_NAMES, "mlflow"):
        if mode not in med:
            continue
        m = med[mode]
        cores = mode_cores(mode)
        per_core[mode] = m["rows_per_s"] / cores / raw
        workers_cpu = f"{m['cpu_us_per_row']:.2f} µs"
        lines.append(
            f"| {names[mode]} | {m['rows_per_s']:,.0f} | {m['rows_per_s'] / raw:.2f}× | "
            f"{per_core[mode]:.2f}× | {m['e2e_rows_per_s']:,.0f} | {m['load_s']:.1f} s | "
            f"{workers_cpu} | {m['total_cpu_us_per_row']:.2f} µs | "
            f"{m['group_rss_mb'] / 1024:.2f} GiB | {m['group_pss_mb'] / 1024:.2f} GiB |"
        )
    checks = []
    for mode in ENGINE_NAMES:
        if mode in per_core:
            target = TARGETS[
                "local_per_core_vs_raw" if mode.startswith("local") else "engine_per_core_vs_raw"
            ]
            checks.append((f"{mode}: rows/s per core vs raw", per_core[mode], target, "≥"))
    if "dask-2" in med and "local-2" in med:
        for label, key in (("workers", "cpu_us_per_row"), ("whole run", "total_cpu_us_per_row")):
            checks.append(
                (
                    f"dask-2 vs local-2: CPU per row ({label})",
                    med["dask-2"][key] / med["local-2"][key],
                    TARGETS["dask_cpu_vs_local"],
                    "≤",
                )
            )
    lines += ["", "| target | measured | target | met |", "|---|---|---|---|"]
    for label, value, target, sign in checks:
        met = value >= target if sign == "≥" else value <= target
        lines.append(f"| {label} | {value:.2f} | {sign} {target} | {'yes' if met else '**no**'} |")
    rounds = {m: [round(r["rows_per_s"]) for r in runs] for m, runs in results.items()}
    cpu_rounds = {m: [round(r["cpu_us_per_row"], 2) for r in runs] for m, runs in results.items()}
    loads = [round(r["load"], 1) for runs in results.values() for r in runs]
    body = "\n".join(
        [
            f"{rows:,} rows of synthetic loan applications in {-(-rows // CHUNK)} Parquet "
            f"file(s) (row groups of {ROW_GROUP:,}); the demo's LightGBM pipeline (200 trees "
            f"× 31 leaves, one thread) trained on {TRAIN_ROWS:,} rows. {repeat} interleaved "
            "rounds, medians; each run is its own process tree. 'Rows/s per core' divides an "
            "engine's rows/s by its worker count (raw runs on one core). 'CPU per row, "
            "workers' is the workers' own CPU from each part's read to its commit (for raw: "
            "the process CPU of reading and predicting); 'all processes, whole run' is the "
            "user + system time of every process of the run from start to exit (sampled "
            "with the memory, or `/usr/bin/time`'s if larger), start-ups and model loads "
            "included. Memory: every process of a run "
            "(driver, forkserver, Dask scheduler, nannies and workers, Spark's JVM and "
            "Python workers) sampled and summed, RSS every 0.2 s, PSS when the RSS passes "
            "its peak by 1 % and every 5 s (reading every process's PSS five times a second cost "
            "16 % of a core, taken from the two-core modes); PSS counts shared pages once.",
            "",
            *lines,
            "",
            f"Rows/s per round: {json.dumps(rounds)}.",
            "",
            f"Workers' CPU µs per row per round: {json.dumps(cpu_rounds)}.",
            "",
            f"Load average of the (shared) machine during the runs: {min(loads)}–{max(loads)} "
            "(2 cores); absolute rows/s drop with it, the interleaved ratios much less.",
            "",
            *notes,
        ]
    )
    if not write:
        print(body)
        return med
    if supplement:
        write_supplement(supplement, body)
        return med
    _report.write_section(
        "batch-engines",
        "Batch scoring engines: local, Dask and Spark vs whole-frame predict_proba",
        body,
        packages=PACKAGES,
    )
    return med


SECTION = "batch-engines"


def write_supplement(label: str, body: str) -> None:
    """Add ``body`` below the section's main table (replacing an earlier supplement).

    A run of a few modes (e.g. ``raw,spark-2,spark-read-2``) must not erase the
    full table: it goes, with its own date, commit and packages, between
    ``<!-- supplement -->`` markers at the end of the section.
    """
    import _report

    text = _report.DOC.read_text()
    start, end = f"<!-- section:{SECTION} -->", f"<!-- /section:{SECTION} -->"
    if start not in text or end not in text:
        raise SystemExit(f"--supplement: docs/benchmarks.md has no section {SECTION!r} to add to")
    before, rest = text.split(start, 1)
    inside, after = rest.split(end, 1)
    inside = re.sub(r"\n*<!-- supplement -->.*?<!-- /supplement -->\n*", "\n", inside, flags=re.S)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    block = (
        f"<!-- supplement -->\n### {label}\n\n"
        f"Measured {stamp} at commit {_report.git_sha()} on {_report.machine()}.  \n"
        f"Packages: {_report.versions(['modelyard', *PACKAGES])}.\n\n"
        f"{body.strip()}\n<!-- /supplement -->"
    )
    _report.DOC.write_text(f"{before}{start}{inside.rstrip()}\n\n{block}\n{end}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES), help="Comma-separated modes.")
    parser.add_argument("--form", default="auto", choices=["auto", "native", "onnx"])
    parser.add_argument("--part-rows", type=int, default=250_000)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/.")
    parser.add_argument("--note", action="append", default=[], help="A line for the report.")
    parser.add_argument(
        "--supplement",
        metavar="LABEL",
        help="Keep the section's main table; add this run below it under the heading LABEL.",
    )
    parser.add_argument("--run-raw", nargs=3, metavar=("MODEL", "INPUT", "COLUMNS"))
    parser.add_argument(
        "--evaluators-only",
        action="store_true",
        help="Print the in-process evaluator table (µs per row by request size) and stop.",
    )
    args = parser.parse_args()
    if args.run_raw:
        print(json.dumps(run_raw(*args.run_raw)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"preparing {args.rows:,} rows and the model in {WORK}", flush=True)
    setup = prepare(args.rows, WORK)
    setup["form"], setup["part_rows"] = args.form, args.part_rows
    evaluators = evaluator_table(setup)
    if args.evaluators_only:
        return
    setup["scorer"] = scorer_kind(setup["ref"], args.form, _env(WORK))
    env = _env(WORK)
    checked, difference = check_exact(setup, WORK, env)
    notes = [
        f"Checked before timing: Modelyard's scores (`--form {args.form}`) of {checked:,} "
        f"rows differ from `predict_proba`'s by at most {difference:.1e}.",
        *args.note,
        "",
        *([] if args.supplement else evaluators),
        "",
    ]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or "raw" not in modes:
        raise SystemExit(f"--modes: choose from {', '.join(MODES)} (raw included); got {unknown}")
    mlflow = None
    if not args.no_mlflow:
        import _peers

        mlflow = _peers.ensure_venv("mlflow-lightgbm", _mlflow_requirements())
        shutil.rmtree(WORK / "mlflow-model", ignore_errors=True)
        _peers.run_peer(
            mlflow,
            _peers.PEERS_DIR / "mlflow_batch.py",
            ["save", str(WORK / "model.pkl"), str(WORK / "mlflow-model")],
        )
        versions = _peers.package_versions(mlflow, ["mlflow", "lightgbm", "scikit-learn"])
        notes.append(f"MLflow peer venv: {', '.join(f'{k} {v}' for k, v in versions.items())}.")
        modes.append("mlflow")
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    engines_seen: list[str] = []
    for number in range(args.repeat):
        for mode in modes:
            need = 2 + args.rows / 1e6 * WHOLE_FRAME_GIB_PER_M.get(mode, 0.0)
            if _available_gib() < need:
                print(f"round {number + 1}: skipping {mode}: needs {need:.0f} GiB free", flush=True)
                continue
            cmd = mode_command(mode, setup, WORK, mlflow)
            peer_env = env
            if mode == "mlflow":
                import _peers

                peer_env = _peers._clean_env(mlflow.parent.parent)
            measured = measure(cmd, peer_env)
            result = summarise(mode, measured)
            results[mode].append(result)
            if mode in ENGINE_NAMES and mode not in engines_seen:
                engines_seen.append(mode)
                form = measured["params"].get("form") or measured.get("form")
                notes.append(f"{mode}: stored form {form!r}, scorer {setup['scorer']!r}.")
                if engines_seen[0] != mode:
                    gap = same_output(WORK, mode, engines_seen[0])
                    notes.append(
                        f"{mode}: same rows as {engines_seen[0]}, scores differ by at most "
                        f"{gap:.1e}."
                    )
            print(
                f"round {number + 1} {mode}: {result['rows_per_s']:,.0f} rows/s, "
                f"cpu {result['cpu_us_per_row']:.2f} us/row (total "
                f"{result['total_cpu_us_per_row']:.2f}), peak {result['group_rss_mb']:,.0f} MiB, "
                f"load {result['load']:.1f}",
                flush=True,
            )
    results = {m: r for m, r in results.items() if r}
    med = report(
        results, args.rows, args.repeat, notes, write=not args.no_write, supplement=args.supplement
    )
    print(json.dumps(med, indent=1))


if __name__ == "__main__":
    main()
