"""Batch scoring throughput and memory: Modelyard's local engine vs whole-frame baselines.

Data: 10 million synthetic loan applications (``modelyard.data.synthetic``),
generated one million at a time into ten Parquet files (row groups of
100,000), so the parent never holds more than one chunk. Model: the demo's
LightGBM pipeline (``lightgbm_pipeline()``: OrdinalEncoder + 200 trees x 31
leaves, one thread) trained on 50,000 rows and registered in a temporary yard.

Each measured run is its own process under ``/usr/bin/time -v``, started in
its own session so that a sampler can add up the memory of every process of
the run (Modelyard's driver, forkserver and workers) every 0.2 s:

- ``raw``: ``pandas.read_parquet`` of the whole input + one ``predict_proba``
  (the ceiling for speed; it needs the whole frame in memory);
- ``local-1`` / ``local-2``: ``modelyard batch score`` with 1 and 2 workers
  (streaming, one LightGBM thread per worker); rows/s over the scoring phase,
  model loading and pool start reported apart;
- ``mlflow``: MLflow 3.17 ``mlflow.pyfunc`` (``predict_proba``) on the whole
  frame, in its own virtual environment with the same scikit-learn and LightGBM.

Modes run interleaved (raw, local-1, local-2, mlflow, raw, ...) for
``--repeat`` rounds; the report gives medians and the ratios to the raw
ceiling measured in the same run. Before timing, Modelyard's output of the
first file is checked to equal the model's ``predict_proba`` exactly.

    .venv/bin/python benchmarks/batch.py [--rows 10000000] [--repeat 3] [--no-mlflow]
"""

from __future__ import annotations

import argparse
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
WORK = REPO / ".bench" / "batch"
CHUNK = 1_000_000
ROW_GROUP = 100_000
TRAIN_ROWS = 50_000
MODEL = "bench-credit"
ID = "application_id"
TARGETS = {"local1_vs_raw": 0.85, "local2_vs_local1": 1.7, "peak_gib": 1.0}
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
    }


# ----------------------------------------------------------------- measuring


class GroupMemory:
    """Peak of the summed RSS (and PSS) of every process in a session, sampled."""

    def __init__(self, session: int, interval: float = 0.2) -> None:
        self.session = session
        self.interval = interval
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> GroupMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

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
        while not self._stop.wait(self.interval):
            rss = pss = 0
            for pid in self._members():
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
                except OSError:
                    continue
                rss += _kb(status, "VmRSS")
                pss += _kb(rollup, "Pss")
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)


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
    model = pickle.loads(Path(model_path).read_bytes())
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
            str(work / "model.pkl"),
            str(setup["input"]),
            columns,
        ]
    if mode.startswith("local-"):
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        return [
            str(REPO / ".venv" / "bin" / "modelyard"),
            "batch",
            "score",
            setup["ref"],
            "--input",
            str(setup["input"]),
            "--output",
            str(out),
            "--id-column",
            ID,
            "--workers",
            mode.split("-")[1],
            "--form",
            "native",
            "--json",
        ]
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
    if mode.startswith("local-"):
        params = result["params"]
        rows = result["rows_out"] + result["rows_rejected"]
        return {
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
                result["max_rss_mb"], params["driver_peak_rss_mb"], params["worker_peak_rss_mb"]
            ),
            "load": result["load"],
        }
    return {
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
            str(REPO / ".venv" / "bin" / "modelyard"),
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
            "native",
            "--quiet",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    frame = pd.read_parquet(first)
    scored = pd.read_parquet(out).set_index(ID).loc[frame[ID]]
    expected = setup["model"].predict_proba(frame[setup["columns"]])[:, 1]
    if not np.array_equal(scored["score"].to_numpy(), expected):
        raise SystemExit("Modelyard's scores differ from predict_proba: not timing a wrong answer")
    return len(frame)


def _available_gib() -> float:
    text = Path("/proc/meminfo").read_text()
    return _kb(text, "MemAvailable") / 1024**2


def report(
    results: dict[str, list[dict[str, Any]]],
    rows: int,
    repeat: int,
    notes: list[str],
    write: bool = True,
) -> dict[str, Any]:
    import _report

    med = {
        mode: {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "rows"}
        for mode, runs in results.items()
    }
    raw = med["raw"]["rows_per_s"]
    names = {
        "raw": "`read_parquet` + one `predict_proba` (whole frame; the ceiling)",
        "local-1": "Modelyard local engine, 1 worker (streaming)",
        "local-2": "Modelyard local engine, 2 workers (streaming)",
        "mlflow": "MLflow 3.17 `mlflow.pyfunc` predict (whole frame)",
    }
    lines = [
        "| mode | rows/s (load excluded) | vs ceiling | end-to-end rows/s | "
        "model load / start | CPU per row | peak RSS, largest process | "
        "peak RSS, all processes | peak PSS, all processes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in ("raw", "local-1", "local-2", "mlflow"):
        if mode not in med:
            continue
        m = med[mode]
        lines.append(
            f"| {names[mode]} | {m['rows_per_s']:,.0f} | {m['rows_per_s'] / raw:.2f}× | "
            f"{m['e2e_rows_per_s']:,.0f} | {m['load_s']:.1f} s | {m['cpu_us_per_row']:.2f} µs | "
            f"{m['max_rss_mb'] / 1024:.2f} GiB | "
            f"{m['group_rss_mb'] / 1024:.2f} GiB | {m['group_pss_mb'] / 1024:.2f} GiB |"
        )
    one, two = med["local-1"], med["local-2"]
    peak = max(one["group_rss_mb"], two["group_rss_mb"]) / 1024
    checks = [
        ("1 worker vs the ceiling", one["rows_per_s"] / raw, TARGETS["local1_vs_raw"], "≥"),
        (
            "2 workers vs 1 worker",
            two["rows_per_s"] / one["rows_per_s"],
            TARGETS["local2_vs_local1"],
            "≥",
        ),
        ("peak RSS, GiB (all processes, 2 workers)", peak, TARGETS["peak_gib"], "<"),
    ]
    lines += ["", "| target | measured | target | met |", "|---|---|---|---|"]
    for label, value, target, sign in checks:
        met = value >= target if sign == "≥" else value < target
        lines.append(f"| {label} | {value:.2f} | {sign} {target} | {'yes' if met else '**no**'} |")
    detail = (
        f"Local engine, per process (medians): driver {one['driver_mb']:.0f} MiB, "
        f"worker {two['worker_mb']:.0f} MiB. The raw ceiling spends "
        f"{rows / med['raw']['predict_rows_per_s']:.0f} s in `predict_proba` "
        f"({med['raw']['predict_rows_per_s']:,.0f} rows/s) and the rest reading."
    )
    rounds = {m: [round(r["rows_per_s"]) for r in runs] for m, runs in results.items()}
    loads = [round(r["load"], 1) for runs in results.values() for r in runs]
    body = "\n".join(
        [
            f"{rows:,} rows of synthetic loan applications in {rows // CHUNK} Parquet files "
            f"(row groups of {ROW_GROUP:,}); the demo's LightGBM pipeline (200 trees × 31 "
            f"leaves, one thread) trained on {TRAIN_ROWS:,} rows. {repeat} interleaved rounds, "
            "medians; each run is its own process. 'Largest process' is `/usr/bin/time -v`'s "
            "maximum resident set size (the method of the peers' figures); 'all processes' "
            "adds up every process of a run (driver, forkserver, workers), sampled every "
            "0.2 s, so library pages the workers share with the forkserver count once per "
            "process; PSS counts them once. The target is held to the strictest, the sum.",
            "",
            *lines,
            "",
            detail,
            "",
            f"Rows/s per round: {json.dumps(rounds)}.",
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
    _report.write_section(
        "batch",
        "Batch scoring: local engine vs whole-frame predict_proba and MLflow",
        body,
        packages=["pyarrow", "pandas", "lightgbm", "scikit-learn", "mlflow"],
    )
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="Do not update docs/.")
    parser.add_argument("--run-raw", nargs=3, metavar=("MODEL", "INPUT", "COLUMNS"))
    args = parser.parse_args()
    if args.run_raw:
        print(json.dumps(run_raw(*args.run_raw)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"preparing {args.rows:,} rows and the model in {WORK}", flush=True)
    setup = prepare(args.rows, WORK)
    env = _env(WORK)
    checked = check_exact(setup, WORK, env)
    notes = [
        f"Checked before timing: Modelyard's scores of {checked:,} rows equal "
        "`predict_proba`'s exactly."
    ]
    modes = ["raw", "local-1", "local-2"]
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
            result = summarise(mode, measure(cmd, peer_env))
            results[mode].append(result)
            print(
                f"round {number + 1} {mode}: {result['rows_per_s']:,.0f} rows/s, "
                f"peak {result['group_rss_mb']:,.0f} MiB, load {result['load']:.1f}",
                flush=True,
            )
    results = {m: r for m, r in results.items() if r}
    med = report(results, args.rows, args.repeat, notes, write=not args.no_write)
    print(json.dumps(med, indent=1))


if __name__ == "__main__":
    main()
