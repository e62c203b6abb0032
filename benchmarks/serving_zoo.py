"""Real-time serving of the pipeline shapes banks register: Modelyard vs a hand-written
FastAPI endpoint (vs ``mlflow models serve`` with ``--mlflow``), and the scorer each got.

Shapes (fitted on the out-of-time generator's early months): one-hot + logistic
regression, imputer + one-hot + HistGradientBoosting, one-hot + LightGBM,
ordinal + LightGBM, scaler + RandomForest, ExtraTrees, GradientBoosting,
ordinal + XGBoost. One ``modelyard serve`` process serves every shape (its
defaults: batching, Parquet prediction log); one hand-written endpoint per shape
(records -> DataFrame -> ``predict_proba``). Every server is pinned to core 0,
``wrk`` to core 1. Each point (rows 1 or 100; concurrency 1, 8, 32) rotates over
distinct bodies — 1,000 one-row bodies, 200 hundred-row bodies, drawn from
held-out rows — so no cache of any kind can answer. Points are interleaved
(every server at a point, then the next point; the order rotates each round)
and the median over rounds is reported. Before timing, each server's answer to
a 100-row body is compared with the in-process native pipeline.

The method and the pieces (server start/stop, wrk, peers) are those of
``benchmarks/serving.py``; read /work/shared/BENCHMARKING.md before running.

    .venv/bin/python benchmarks/serving_zoo.py            # full run, writes docs/benchmarks.md
    .venv/bin/python benchmarks/serving_zoo.py --quick    # 2 s points, 1 row, conc 32, no docs
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import write_section
from serving import (
    BIN,
    LOAD_CORE,
    MLFLOW_SERVING_REQUIREMENTS,
    PEERS,
    SERVER_CORE,
    Server,
    start,
    stop,
    wait_ready,
)

MLFLOW_ZOO_REQUIREMENTS = [*MLFLOW_SERVING_REQUIREMENTS, "xgboost-cpu==3.2.0"]
"""The zoo's MLflow environment also unpickles the XGBoost shape (same pin as the project's)."""

ONE_ROW_BODIES, HUNDRED_ROW_BODIES = 1_000, 1_000
# wrk: every request takes the next body of the file (one JSON body per line).
LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for line in io.lines(os.getenv("BENCH_BODIES")) do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


# ---------------------------------------------------------------- shapes


def shapes() -> dict[str, Callable[[], Any]]:
    """The shapes, as unfitted pipeline builders (names are model names in the yard)."""
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler
    from xgboost import XGBClassifier

    from modelyard.data.out_of_time import CATEGORICAL, NUMERIC

    num, cat = list(NUMERIC), list(CATEGORICAL)

    def ordinal(unknown: float = -1) -> OrdinalEncoder:
        return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=unknown)

    def pipe(*parts: tuple[str, Any, list[str]], model: Any) -> Pipeline:
        return Pipeline([("encode", ColumnTransformer(list(parts))), ("model", model)])

    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return {
        "onehot-logistic": lambda: pipe(
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cat),
            model=LogisticRegression(max_iter=1000),
        ),
        "imputer-onehot-hgb": lambda: pipe(
            ("num", SimpleImputer(strategy="mean"), num),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(
                        handle_unknown="infrequent_if_exist", min_frequency=40, sparse_output=False
                    ),
                ),
                cat,
            ),
            model=HistGradientBoostingClassifier(max_iter=100, random_state=3),
        ),
        "onehot-lightgbm": lambda: pipe(
            ("num", "passthrough", num),
            ("cat", onehot, cat),
            model=LGBMClassifier(n_estimators=200, n_jobs=1, verbose=-1, random_state=3),
        ),
        "ordinal-lightgbm": lambda: pipe(
            ("num", "passthrough", num),
            ("cat", ordinal(), cat),
            model=LGBMClassifier(n_estimators=200, n_jobs=1, verbose=-1, random_state=3),
        ),
        "scaler-forest": lambda: pipe(
            ("num", make_pipeline(SimpleImputer(fill_value=0.0), RobustScaler()), num),
            ("cat", ordinal(), cat),
            model=RandomForestClassifier(n_estimators=100, max_depth=12, random_state=3),
        ),
        "extra-trees": lambda: pipe(
            ("num", SimpleImputer(strategy="median"), num),
            ("cat", ordinal(), cat),
            model=ExtraTreesClassifier(n_estimators=100, max_depth=12, random_state=3),
        ),
        "gradient-boosting": lambda: pipe(
            ("num", SimpleImputer(strategy="median"), num),
            ("cat", ordinal(), cat),
            model=GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=3),
        ),
        "ordinal-xgboost": lambda: pipe(
            ("num", "passthrough", num),
            ("cat", ordinal(np.nan), cat),
            model=XGBClassifier(n_estimators=200, max_depth=4, n_jobs=1, random_state=3),
        ),
    }


# The six shapes of the acceptance: the five of the serving issue plus XGBoost.
DEFAULT_SHAPES = [
    "onehot-logistic",
    "imputer-onehot-hgb",
    "onehot-lightgbm",
    "ordinal-lightgbm",
    "scaler-forest",
    "ordinal-xgboost",
]


# ---------------------------------------------------------------- setup


def prepare(workdir: Path, names: list[str], rows: int) -> dict[str, Any]:
    """Fit and register every shape, write rotating body files; returns what servers need."""
    import modelyard
    from modelyard.data.out_of_time import FEATURES, TARGET, generate_out_of_time, split_at_change

    early, _ = split_at_change(generate_out_of_time(rows, seed=2_026))
    early = early.sample(frac=1.0, random_state=5).reset_index(drop=True)
    cut = len(early) * 2 // 3
    x, y = early[list(FEATURES)].iloc[:cut], early[TARGET].iloc[:cut]
    # Bodies come from held-out rows of the same months: the signature allows the
    # training categories (later months bring new ones, which get a 422 by design).
    pool = early[list(FEATURES)].iloc[cut:]
    for column in pool.columns:
        if pool[column].dtype == object:
            pool = pool[pool[column].isin(set(x[column].dropna())) | pool[column].isna()]
    pool = pool.reset_index(drop=True)
    rng = np.random.default_rng(7)
    builders = shapes()
    models, bodies = {}, {}
    with modelyard.connect(home=str(workdir / "yard"), user="bench") as yard:
        for name in names:
            model = builders[name]().fit(x, y)
            models[name] = model
            (workdir / f"{name}.pkl").write_bytes(pickle.dumps(model))
            yard.models.create(name, risk_tier=3)
            version = yard.models.register(name, model, example=x.head(1_000))
            yard.models.set_alias(name, "champion", version.version)
    records = json.loads(pool.to_json(orient="records"))
    for rows, count in ((1, ONE_ROW_BODIES), (100, HUNDRED_ROW_BODIES)):
        for key in ("records", "dataframe_records"):
            path = workdir / f"bodies-{key}-{rows}.jsonl"
            with path.open("w") as fh:
                for _ in range(count):
                    picked = rng.choice(len(records), size=rows, replace=False)
                    fh.write(json.dumps({key: [records[i] for i in picked]}) + "\n")
            bodies[(key, rows)] = path
    check = {"records": records[:100]}
    return {"models": models, "bodies": bodies, "check": check, "pool": pool}


def servers(
    workdir: Path,
    names: list[str],
    with_mlflow: bool,
    mlflow_python: str | None = None,
    baseline_src: str | None = None,
) -> dict[str, list[Server]]:
    """Per shape: the hand-written endpoint, Modelyard's route (one shared process), MLflow."""
    python = sys.executable
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    yard_env = {**base_env, "MODELYARD_HOME": str(workdir / "yard"), "MODELYARD_USER": "bench"}
    modelyard = Server(
        "modelyard",
        "Modelyard `modelyard serve` (defaults)",
        "",
        "records",
        [str(BIN / "modelyard"), "serve", *[f"{n}@champion" for n in names], "--port", "{port}"],
        env=yard_env,
        cwd=str(workdir),
    )
    found: dict[str, list[Server]] = {}
    for name in names:
        handwritten = Server(
            f"handwritten-{name}",
            "hand-written FastAPI (pandas + predict_proba)",
            "/predict",
            "records",
            [python, str(PEERS / "serving_baselines.py"), "handwritten", "{port}",
             str(workdir / f"{name}.pkl")],
        )  # fmt: skip
        found[name] = [handwritten]
        if with_mlflow:
            found[name].append(_mlflow_server(workdir, name, base_env, mlflow_python))
    found["_modelyard"] = [modelyard]
    # The same command on other sources (an earlier checkout's src/): before vs after.
    found["_baseline"] = (
        [
            Server(
                "baseline",
                f"Modelyard `modelyard serve` (defaults) from {baseline_src}",
                "",
                "records",
                modelyard.command,
                env={**yard_env, "PYTHONPATH": baseline_src},
                cwd=str(workdir),
            )
        ]
        if baseline_src
        else []
    )
    # The same server with two worker processes on both cores (wrk shares core 1 with one).
    found["_workers"] = [
        Server(
            "workers2",
            "Modelyard `modelyard serve --workers 2` (cores 0-1)",
            "",
            "records",
            [*modelyard.command, "--workers", "2"],
            env=yard_env,
            cwd=str(workdir),
            cores=f"{SERVER_CORE},{LOAD_CORE}",
        )
    ]
    return found


MLFLOW_PYTHON_ENV = "MODELYARD_BENCH_MLFLOW_PYTHON"


def _mlflow_server(
    workdir: Path, name: str, base_env: dict[str, str], mlflow_python: str | None
) -> Server:
    from _peers import PEER_ENV, ensure_venv, run_peer

    # MLflow is never a dependency of the project: it lives in its own virtual environment,
    # either one given (--mlflow-python or MODELYARD_BENCH_MLFLOW_PYTHON) or one built here.
    venv_python = (
        Path(mlflow_python) if mlflow_python else ensure_venv("mlflow-zoo", MLFLOW_ZOO_REQUIREMENTS)
    )
    (workdir / "example.json").write_text("[]")
    saved = run_peer(
        venv_python,
        PEERS / "mlflow_serving.py",
        [str(workdir / f"{name}.pkl"), str(workdir / "example.json"), str(workdir / f"mf-{name}")],
    )
    venv_bin = venv_python.parent
    env = {
        **{k: v for k, v in base_env.items() if k not in ("PYTHONPATH", "PYTHONHOME")},
        **PEER_ENV,
        "VIRTUAL_ENV": str(venv_bin.parent),
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    cwd = workdir / f"mf-cwd-{name}"
    cwd.mkdir(exist_ok=True)
    return Server(
        f"mlflow-{name}",
        f"`mlflow models serve` {saved['mlflow']} (1 worker)",
        "/invocations",
        "dataframe_records",
        [str(venv_bin / "mlflow"), "models", "serve", "-m", saved["model_dir"],
         "--env-manager", "local", "-h", "127.0.0.1", "-p", "{port}", "-w", "1"],
        env=env,
        cwd=str(cwd),
    )  # fmt: skip


# ---------------------------------------------------------------- measuring


def url_of(server: Server, shape: str) -> str:
    if server.name in ("modelyard", "workers2", "baseline"):
        return f"http://127.0.0.1:{server.port}/v1/models/{shape}/predict"
    return server.url


def answers(server: Server, shape: str, body: dict[str, Any]) -> np.ndarray:
    response = httpx.post(url_of(server, shape), json=body, timeout=120)
    response.raise_for_status()
    data = response.json()["predictions"]
    if data and isinstance(data[0], dict):
        keys = list(data[0]["probabilities"])
        return np.array([[p["probabilities"][k] for k in keys] for p in data])
    return np.array(data, dtype=np.float64)


def run_wrk(url: str, bodies: Path, conc: int, seconds: float, lua: Path) -> dict[str, Any]:
    command = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{conc}", f"-d{seconds:g}s",
               "--timeout", "10s", "-s", str(lua), url]  # fmt: skip
    env = {**os.environ, "BENCH_BODIES": str(bodies)}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    result = json.loads(next(x for x in out.splitlines() if x.startswith("{")))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def scorer_of(modelyard: Server, shape: str) -> str:
    meta = httpx.get(f"http://127.0.0.1:{modelyard.port}/v2/models/{shape}", timeout=60).json()
    return str(meta["parameters"]["scorer"])


def report(results: dict[Any, list[dict[str, Any]]], scorers: dict[str, str], args: Any) -> str:
    lines = [
        f"Rounds: {args.rounds}; {args.seconds:g} s a point; servers on core 0, wrk on core 1;"
        f" {ONE_ROW_BODIES} distinct 1-row bodies, {HUNDRED_ROW_BODIES} distinct 100-row bodies"
        " rotated per request. Median requests/s and p99 over rounds; ratio = Modelyard /"
        " hand-written in the same round.",
        "",
        "| shape | scorer | rows | conc | Modelyard req/s (p99) | hand-written req/s (p99) "
        "| mlflow req/s (p99) | ratio |",
        "|---|---|---|---|---|---|---|---|",
    ]
    baseline = any(k[3] == "baseline" for k in results)
    if baseline:
        lines[0] += f" Baseline: the same server run from {args.baseline_src}."
        lines[2] += " baseline req/s (p99) | baseline ratio |"
        lines[3] += "---|---|"
    keys = sorted({k[:3] for k in results}, key=lambda k: (k[0], k[1], k[2]))
    for shape, rows, conc in keys:
        cells = {}
        for who in ("modelyard", "handwritten", "mlflow", "baseline"):
            found = results.get((shape, rows, conc, who))
            if not found:
                cells[who] = None
                continue
            rps = statistics.median(r["rps"] for r in found)
            p99 = statistics.median(r["p99_us"] for r in found) / 1000
            cells[who] = (rps, f"{rps:,.0f} ({p99:.1f} ms)")
        ratio = (
            f"{cells['modelyard'][0] / cells['handwritten'][0]:.1f}x"
            if cells["modelyard"] and cells["handwritten"] and cells["handwritten"][0]
            else "–"
        )
        mlflow = cells["mlflow"][1] if cells["mlflow"] else "not run"
        line = (
            f"| {shape} | {scorers.get(shape, '?')} | {rows} | {conc} | "
            f"{cells['modelyard'][1] if cells['modelyard'] else '–'} | "
            f"{cells['handwritten'][1] if cells['handwritten'] else '–'} | {mlflow} | {ratio} |"
        )
        if baseline:
            base = cells["baseline"]
            base_ratio = (
                f"{base[0] / cells['handwritten'][0]:.1f}x"
                if base and cells["handwritten"] and cells["handwritten"][0]
                else "–"
            )
            line += f" {base[1] if base else '–'} | {base_ratio} |"
        lines.append(line)
    return "\n".join(lines)


def workers_report(scaling: dict[Any, list[dict[str, Any]]]) -> str:
    """``--workers 1`` (core 0) vs ``--workers 2`` (cores 0 and 1), interleaved."""
    affinity = len(os.sched_getaffinity(0))
    lines = [
        f"Workers on this machine: {os.cpu_count()} cores ({affinity} usable by this process)."
        " One worker pinned to core 0 against two workers on cores 0-1; wrk stays on core 1,"
        " so with two workers it shares a core with one of them. Median over rounds.",
        "",
        "| shape | rows | conc | 1 worker req/s (p99) | 2 workers req/s (p99) | 2 / 1 |",
        "|---|---|---|---|---|---|",
    ]
    for shape, rows, conc in sorted({k[:3] for k in scaling}):
        cells = []
        for who in ("modelyard", "workers2"):
            found = scaling.get((shape, rows, conc, who), [])
            rps = statistics.median(r["rps"] for r in found) if found else 0.0
            p99 = statistics.median(r["p99_us"] for r in found) / 1000 if found else 0.0
            cells.append((rps, f"{rps:,.0f} ({p99:.1f} ms)"))
        ratio = f"{cells[1][0] / cells[0][0]:.2f}x" if cells[0][0] else "–"
        lines.append(f"| {shape} | {rows} | {conc} | {cells[0][1]} | {cells[1][1]} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds (median).")
    parser.add_argument("--seconds", type=float, default=20.0, help="Seconds a point.")
    parser.add_argument("--quick", action="store_true", help="2 s points, 1 row, conc 32.")
    parser.add_argument("--shapes", nargs="*", help="Only these shapes.")
    parser.add_argument(
        "--mlflow",
        action="store_true",
        help="Also `mlflow models serve` (installs MLflow into its own venv, not this one).",
    )
    parser.add_argument(
        "--mlflow-python",
        default=os.environ.get(MLFLOW_PYTHON_ENV),
        help=f"python of a virtual environment holding MLflow (or ${MLFLOW_PYTHON_ENV}); "
        "implies --mlflow. Without it, --mlflow builds one under .bench/venvs.",
    )
    parser.add_argument(
        "--workers-shapes",
        nargs="*",
        default=["ordinal-lightgbm", "onehot-logistic"],
        help="Shapes measured with --workers 1 vs 2 (none: skip).",
    )
    parser.add_argument("--rows", nargs="*", type=int, default=[1, 100], help="Rows a body.")
    parser.add_argument("--conc", nargs="*", type=int, default=[1, 8, 32], help="Connections.")
    parser.add_argument(
        "--baseline-src",
        help="Also run `modelyard serve` with PYTHONPATH set to this src/ directory (another"
        " checkout: before vs after, same run, same bodies).",
    )
    parser.add_argument("--write", action="store_true", help="Write docs even with --quick.")
    args = parser.parse_args(argv)
    args.mlflow = args.mlflow or bool(args.mlflow_python)
    names = args.shapes or DEFAULT_SHAPES
    worker_shapes = [n for n in args.workers_shapes if n in names]
    worker_points = [(1, 32), (100, 32)]
    points = [(rows, conc) for rows in args.rows for conc in args.conc]
    worker_points = [p for p in worker_points if p[0] in args.rows]
    if args.quick:
        args.rounds, args.seconds = 1, 2.0
        points = [(1, 32)]
    results: dict[Any, list[dict[str, Any]]] = {}
    scaling: dict[Any, list[dict[str, Any]]] = {}
    scorers: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="modelyard-zoo-") as tmp:
        workdir = Path(tmp)
        setup = prepare(workdir, names, 12_000 if args.quick else 40_000)
        lua = workdir / "rotate.lua"
        lua.write_text(LUA)
        found = servers(workdir, names, args.mlflow, args.mlflow_python, args.baseline_src)
        modelyard = found["_modelyard"][0]
        workers2 = found["_workers"][0]
        baseline = found["_baseline"]
        every = [modelyard] + [s for n in names for s in found[n]]
        if worker_shapes:
            every.append(workers2)
        try:
            for server in every:
                start(server)
            if baseline:
                # Started once Modelyard has stored the compiled forms (no race on the yard).
                for name in names:
                    modelyard.path = f"/v1/models/{name}/predict"
                    wait_ready(modelyard, json.dumps(setup["check"]).encode(), timeout=600)
                start(baseline[0])
                every.append(baseline[0])
            first = json.dumps(setup["check"]).encode()
            for server in every:
                if server not in (modelyard, workers2, *baseline):  # theirs are per shape, below
                    # Each in its own body format (MLflow reads dataframe_records).
                    own = json.dumps({server.body_key: setup["check"]["records"]}).encode()
                    wait_ready(server, own, timeout=600)
            for name in names:
                modelyard.path = f"/v1/models/{name}/predict"
                wait_ready(modelyard, first, timeout=600)
                if name in worker_shapes:
                    workers2.path = modelyard.path
                    wait_ready(workers2, first, timeout=600)
                scorers[name] = scorer_of(modelyard, name)
                expected = setup["models"][name].predict_proba(setup["pool"].head(100))
                if baseline:
                    baseline[0].path = modelyard.path
                    wait_ready(baseline[0], first, timeout=600)
                checked = [modelyard, *found[name], *baseline]
                checked += [workers2] if name in worker_shapes else []
                for server in checked:
                    body = {server.body_key: setup["check"]["records"]}
                    got = answers(server, name, body)
                    if not np.allclose(got, expected, rtol=0, atol=1e-9):
                        raise RuntimeError(f"{server.label} gives wrong answers for {name}")
            for round_number in range(args.rounds):
                for rows, conc in points:
                    for name in names:
                        order = [modelyard, *found[name], *baseline]
                        shift = round_number % len(order)
                        for server in order[shift:] + order[:shift]:
                            who = server.name.split("-")[0]
                            result = run_wrk(
                                url_of(server, name),
                                setup["bodies"][(server.body_key, rows)],
                                conc,
                                args.seconds,
                                lua,
                            )
                            results.setdefault((name, rows, conc, who), []).append(result)
                            print(name, rows, conc, who, f"{result['rps']:.0f} req/s", flush=True)
                for rows, conc in worker_points:
                    for name in worker_shapes:
                        pair = [modelyard, workers2][:: 1 if round_number % 2 == 0 else -1]
                        for server in pair:
                            result = run_wrk(
                                url_of(server, name),
                                setup["bodies"][("records", rows)],
                                conc,
                                args.seconds,
                                lua,
                            )
                            key = (name, rows, conc, server.name)
                            scaling.setdefault(key, []).append(result)
                            print(*key, f"{result['rps']:.0f} req/s", flush=True)
        finally:
            for server in every:
                stop(server)
    body = report(results, scorers, args)
    if scaling:
        body += "\n\n" + workers_report(scaling)
    if not args.mlflow:
        body += "\n\n`mlflow models serve` was not run (pass `--mlflow`; it installs MLflow into"
        body += " its own virtual environment under .bench/venvs, never the project's)."
    print(body)
    if not args.quick or args.write:
        write_section(
            "serving-zoo",
            "Serving: the pipeline zoo (compiled scorers vs a hand-written endpoint)",
            body,
            ["scikit-learn", "lightgbm", "xgboost", "numpy"],
        )
    return {"scorers": scorers, "results": {"|".join(map(str, k)): v for k, v in results.items()}}


if __name__ == "__main__":
    main()
