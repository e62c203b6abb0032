"""MLflow tracking costs with a SQLite store; runs INSIDE the mlflow venv.

Imports only mlflow and the standard library. Prints one JSON line at the end:
``runs_1000_s`` (1,000 runs of 5 params + 5 metrics, the ``start_run`` way),
``points_100k_s`` (100,000 points to one run through ``MlflowClient.log_batch``
in chunks of 1,000) and ``log_metric_ms`` (median single ``mlflow.log_metric``).
With smaller ``--runs``/``--points`` the 1,000/100k figures are scaled linearly
from the measured totals, which are reported too.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

BATCH_MAX = 1000  # MLflow's limit on metrics per log_batch call


def _setup(tmp: Path, name: str) -> str:
    """Point MLflow at a fresh SQLite store in ``tmp`` and return a new experiment id."""
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    artifacts = tmp / "artifacts"
    artifacts.mkdir(exist_ok=True)
    exp_id = mlflow.create_experiment(name, artifact_location=artifacts.as_uri())
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def bench_runs(n: int) -> float:
    """Seconds to create ``n`` runs with 5 params and 5 metrics each."""
    start = time.perf_counter()
    for i in range(n):
        with mlflow.start_run():
            mlflow.log_params({f"p{j}": f"{i}-{j}" for j in range(5)})
            mlflow.log_metrics({f"m{j}": float(i * 5 + j) for j in range(5)})
    return time.perf_counter() - start


def bench_points(client: MlflowClient, exp_id: str, n: int) -> float:
    """Seconds to log ``n`` metric points to one run via ``log_batch`` (1,000 per call)."""
    run_id = client.create_run(exp_id).info.run_id
    ts = int(time.time() * 1000)
    start = time.perf_counter()
    for lo in range(0, n, BATCH_MAX):
        metrics = [
            Metric("loss", 1.0 / (k + 1), ts + k, k) for k in range(lo, min(n, lo + BATCH_MAX))
        ]
        client.log_batch(run_id, metrics=metrics)
    elapsed = time.perf_counter() - start
    client.set_terminated(run_id)
    return elapsed


def bench_log_metric(n: int) -> list[float]:
    """Per-call milliseconds of ``n`` single ``mlflow.log_metric`` calls in one active run."""
    times: list[float] = []
    with mlflow.start_run():
        for k in range(n):
            t0 = time.perf_counter()
            mlflow.log_metric("acc", k / n, step=k)
            times.append((time.perf_counter() - t0) * 1000.0)
    return times


def main(argv: list[str] | None = None) -> dict:
    """Run the three measurements and print/return the result as one JSON object."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--log-metric-calls", type=int, default=300)
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="mlflow-tracking-bench-"))
    try:
        exp_id = _setup(tmp, "bench-tracking")
        client = MlflowClient()
        # Warm-up outside the timings: schema creation happened above; one run primes caches.
        with mlflow.start_run():
            mlflow.log_params({"warm": "up"})
            mlflow.log_metrics({"warm": 1.0})

        runs_s = bench_runs(args.runs)
        points_s = bench_points(client, exp_id, args.points)
        lm = bench_log_metric(args.log_metric_calls)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    result = {
        "tool": "mlflow",
        "mlflow_version": mlflow.__version__,
        "python": platform.python_version(),
        "store": "sqlite",
        "runs": args.runs,
        "runs_total_s": round(runs_s, 4),
        "runs_1000_s": round(runs_s * 1000 / args.runs, 3) if args.runs else None,
        "run_ms": round(runs_s * 1000 / args.runs, 3) if args.runs else None,
        "points": args.points,
        "points_total_s": round(points_s, 4),
        "points_100k_s": round(points_s * 100_000 / args.points, 3) if args.points else None,
        "log_batch_chunk": BATCH_MAX,
        "log_metric_calls": args.log_metric_calls,
        "log_metric_ms": round(statistics.median(lm), 4) if lm else None,
        "log_metric_mean_ms": round(statistics.fmean(lm), 4) if lm else None,
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
