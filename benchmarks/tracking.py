"""Tracking throughput: Modelyard against MLflow's SQLite tracking store, same run.

Measures (1) 1,000 runs with 5 params and 5 metrics each, logged the natural
way (`with start_run(): log_params(...); log_metrics(...)`), (2) 100,000
metric points into one run through the batch call, (3) one single
`log_metric` call. Modelyard and MLflow rounds alternate (A B A B) and the
medians are reported with their ratio. MLflow runs in its own virtual
environment (benchmarks/_peers.py), each on a fresh SQLite file.

    .venv/bin/python benchmarks/tracking.py [--rounds 3] [--runs 1000] [--points 100000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _peers
import _report


def modelyard_round(runs: int, points: int, single_calls: int) -> dict[str, float]:
    import modelyard

    with tempfile.TemporaryDirectory() as tmp:
        yard = modelyard.connect(f"sqlite:///{tmp}/yard.db", artifact_root=f"{tmp}/artifacts")
        with yard.start_run(experiment="warmup") as run:  # schema, environment capture
            run.log_metrics({"x": 1.0})
        t0 = time.perf_counter()
        for i in range(runs):
            with yard.start_run(experiment="bench", name=f"run-{i}") as run:
                run.log_params({f"param_{k}": k * i for k in range(5)})
                run.log_metrics({f"metric_{k}": k * 0.1 + i for k in range(5)})
        runs_s = time.perf_counter() - t0
        with yard.start_run(experiment="bench", name="points") as run:
            t0 = time.perf_counter()
            for start in range(0, points, 1000):  # chunks of 1000, as MLflow's API allows
                run.log_batch(
                    (f"m{j % 10}", float(j), j // 10, None)
                    for j in range(start, min(start + 1000, points))
                )
            points_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            run.log_batch((f"n{j % 10}", float(j), j // 10, None) for j in range(points))
            points_one_call_s = time.perf_counter() - t0
            single = []
            for j in range(single_calls):
                t0 = time.perf_counter()
                run.log_metric("single", float(j), step=j)
                single.append(time.perf_counter() - t0)
        yard.close()
    return {
        "runs_s": runs_s * 1000 / runs,
        "points_s": points_s * 100_000 / points,
        "points_one_call_s": points_one_call_s * 100_000 / points,
        "log_metric_ms": statistics.median(single) * 1000,
    }


def mlflow_round(python: Path, runs: int, points: int, single_calls: int) -> dict[str, float]:
    out = _peers.run_peer(
        python,
        _peers.PEERS_DIR / "mlflow_tracking.py",
        ["--runs", str(runs), "--points", str(points), "--log-metric-calls", str(single_calls)],
    )
    return {
        "runs_s": out["runs_1000_s"],
        "points_s": out["points_100k_s"],
        "log_metric_ms": out["log_metric_ms"],
        "version": out["mlflow_version"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--single-calls", type=int, default=300)
    parser.add_argument("--no-mlflow", action="store_true", help="skip the peer (smoke runs)")
    args = parser.parse_args()

    python = None if args.no_mlflow else _peers.ensure_mlflow()
    mine, theirs = [], []
    for r in range(args.rounds):
        mine.append(modelyard_round(args.runs, args.points, args.single_calls))
        print(f"round {r + 1} modelyard: {json.dumps(mine[-1])}", flush=True)
        if python is not None:
            theirs.append(mlflow_round(python, args.runs, args.points, args.single_calls))
            print(f"round {r + 1} mlflow:    {json.dumps(theirs[-1])}", flush=True)

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    lines = [
        f"{args.rounds} interleaved rounds; medians. Runs and points are scaled to 1,000 runs "
        f"and 100,000 points from {args.runs:,} runs and {args.points:,} points a round. "
        "Both on a fresh SQLite file on local disk.",
        "",
        "| measure | Modelyard | MLflow | MLflow / Modelyard | target |",
        "|---|---|---|---|---|",
    ]
    rows = [
        ("1,000 runs × (5 params + 5 metrics)", "runs_s", "s", "≥ 10×"),
        ("100,000 points, batches of 1,000", "points_s", "s", "≥ 10×"),
        ("one `log_metric` call", "log_metric_ms", "ms", ""),
    ]
    summary = {}
    for label, key, unit, target in rows:
        m = med(mine, key)
        if theirs:
            t = med(theirs, key)
            ratio = f"{t / m:.1f}×"
            summary[key] = t / m
            lines.append(f"| {label} | {m:.3f} {unit} | {t:.3f} {unit} | {ratio} | {target} |")
        else:
            lines.append(f"| {label} | {m:.3f} {unit} | - | - | {target} |")
    lines.append(
        f"| 100,000 points in one `log_batch` call | {med(mine, 'points_one_call_s'):.3f} s "
        "| (API limit 1,000 a call) | | |"
    )
    if theirs:
        lines.append("")
        lines.append(f"MLflow {theirs[0]['version']} in its own virtual environment.")
    print("\n".join(lines))
    if python is not None:
        _report.write_section(
            "tracking",
            "Tracking: runs and metric points (vs MLflow)",
            "\n".join(lines),
            packages=["sqlalchemy", "pandas", "pyarrow"],
        )


if __name__ == "__main__":
    main()
