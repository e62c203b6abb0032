"""Platform server latency with 10,000 runs and 1,000 versions in the store.

Seeds a store (SQLite, then PostgreSQL on 127.0.0.1:5432) with 10,000 runs
(params, metrics) and 1,000 versions of one model (plus 49 other models),
starts ``modelyard server`` on it, and times sequential requests from one
client: the models list (API), a run search with a filter and an order (API),
the model page (UI HTML, signed in) and its versions list (API). Reports p50
and p99 per request; the target is p99 ≤ 200 ms.

    .venv/bin/python benchmarks/server.py [--runs 10000] [--versions 1000] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _report

PG_SERVER = os.environ.get("MODELYARD_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
TARGET_P99_MS = 200.0
LOADS: list[float] = []  # 1-minute load averages around the measurements


def seed(store_url: str, root: Path, runs: int, versions: int) -> dict[str, float]:
    import modelyard
    from modelyard.data.synthetic import generate
    from modelyard.demo.credit_models import logistic_pipeline, split_xy

    yard = modelyard.connect(
        store_url, artifact_root=str(root / "artifacts"), user="root", home=str(root)
    )
    yard.users.add("root", ["admin", "developer"])
    started = time.perf_counter()
    for i in range(runs):
        run_id = yard.runs.create(
            experiment=f"exp-{i % 20}", name=f"run-{i}", capture_environment=False
        )
        yard.runs.log_params(run_id, {"model": "lgbm" if i % 2 else "logreg", "seed": i})
        yard.runs.log_metrics(
            run_id, [("auc", (i * 7919 % 1000) / 1000, None, None), ("ks", 0.3, None, None)]
        )
        yard.runs.end(run_id)
    runs_s = time.perf_counter() - started
    x, y = split_xy(generate(2_000, seed=1))
    first = yard.models.register("credit-risk", logistic_pipeline().fit(x, y), example=x.head(20))
    started = time.perf_counter()
    for _ in range(versions - 1):
        yard.models.register_artifact("credit-risk", first.artifact_digest)
    for i in range(49):
        yard.models.register_artifact(f"model-{i:02d}", first.artifact_digest)
    versions_s = time.perf_counter() - started
    token = yard.tokens.create("root", name="bench", expires_in="1d").secret
    yard.close()
    (root / "token").write_text(token)
    return {"seed_runs_s": runs_s, "seed_versions_s": versions_s}


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def measure(url: str, token: str, requests: int) -> dict[str, tuple[float, float]]:
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    ui = httpx.Client(base_url=url, timeout=60)
    assert ui.post("/login", data={"user": "root", "token": token}).status_code == 303
    calls = {
        "models list (API, 50 a page)": lambda: api.get("/api/v1/models", params={"limit": 50}),
        "run search (API: filter + order, 50 a page)": lambda: api.get(
            "/api/v1/runs",
            params={
                "filter": "metrics.auc > 0.5 and params.model = 'lgbm'",
                "order_by": "metrics.auc desc",
                "limit": 50,
            },
        ),
        "model page (UI HTML, 25 versions a page)": lambda: ui.get("/models/credit-risk"),
        "versions list (API, 50 a page)": lambda: api.get(
            "/api/v1/models/credit-risk/versions", params={"limit": 50}
        ),
        "runs page (UI HTML, filter + order)": lambda: ui.get(
            "/runs", params={"filter": "metrics.auc > 0.5", "order_by": "metrics.auc desc"}
        ),
    }
    results = {}
    LOADS.append(os.getloadavg()[0])
    for label, call in calls.items():
        for _ in range(10):  # warm-up: connections, caches, templates
            assert call().status_code == 200
        samples = []
        for _ in range(requests):
            t0 = time.perf_counter()
            response = call()
            samples.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.text[:300]
        results[label] = percentiles(samples)
        print(f"  {label}: p50 {results[label][0]:.1f} ms, p99 {results[label][1]:.1f} ms")
    LOADS.append(os.getloadavg()[0])
    api.close()
    ui.close()
    return results


def postgres_database() -> tuple[str, object]:
    from sqlalchemy import create_engine, text

    name = f"modelyard_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG_SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{PG_SERVER}/{name}", drop


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, object]:
    from modelyard.testing.platform import PlatformServer

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        drop = None
        if backend == "sqlite":
            store_url = f"sqlite:///{root / 'yard.db'}"
        else:
            store_url, drop = postgres_database()
        try:
            print(
                f"{backend}: seeding {args.runs:,} runs and {args.versions:,} versions", flush=True
            )
            seeded = seed(store_url, root, args.runs, args.versions)
            print(f"  seeded in {seeded['seed_runs_s'] + seeded['seed_versions_s']:.0f} s")
            with PlatformServer(store_url, str(root / "artifacts"), home=root / "server") as server:
                figures = measure(server.url, (root / "token").read_text(), args.requests)
        finally:
            if drop is not None:
                drop()
    return {"figures": figures, **seeded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    backends = ["sqlite"] + ([] if args.no_postgres else ["postgres"])
    results = {b: run_backend(b, args) for b in backends}
    labels = list(next(iter(results.values()))["figures"])
    header = " | ".join(f"{b} p50 | {b} p99" for b in backends)
    lines = [
        f"{args.runs:,} runs (2 params, 2 metrics each, 20 experiments) and "
        f"{args.versions:,} versions of one model plus 49 other models in the store; "
        f"`modelyard server` (one uvicorn process) on localhost; {args.requests} sequential "
        "requests per row from one client after 10 warm-up requests. Times per request, "
        f"client-side. Target: p99 ≤ {TARGET_P99_MS:.0f} ms.",
        "",
        f"| request | {header} |",
        "|---|" + "---|" * (2 * len(backends)),
    ]
    worst = 0.0
    for label in labels:
        cells = []
        for b in backends:
            p50, p99 = results[b]["figures"][label]
            worst = max(worst, p99)
            cells += [f"{p50:.1f} ms", f"{p99:.1f} ms"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Worst p99: {worst:.0f} ms ({'meets' if worst <= TARGET_P99_MS else 'misses'} the "
        f"{TARGET_P99_MS:.0f} ms target). Seeding (service calls): "
        + ", ".join(
            f"{b} {r['seed_runs_s']:.0f} s for the runs and {r['seed_versions_s']:.1f} s "
            "for the versions"
            for b, r in results.items()
        )
        + ".",
        "",
        f"The machine's 1-minute load average during the measurements was "
        f"{min(LOADS):.1f}–{max(LOADS):.1f} on {os.cpu_count()} cores (other jobs were running); "
        "p99 on a shared VM mostly measures that noise. Run search ordered by a metric walks "
        "the latest_metrics (key, value) index and stops at the page, so its cost follows the "
        "page size, not the number of matching runs.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        _report.write_section(
            "server",
            "Platform server: list and page latency at 10,000 runs and 1,000 versions",
            text,
            packages=["fastapi", "uvicorn", "sqlalchemy", "psycopg", "jinja2"],
        )


if __name__ == "__main__":
    main()
