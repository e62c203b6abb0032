"""Real-time serving: Modelyard against the HTTP ceiling, a hand-written FastAPI endpoint
and ``mlflow models serve``, on the same LightGBM credit model.

One run measures four servers on one scikit-learn pipeline (ColumnTransformer
with an OrdinalEncoder for the categoricals, LGBMClassifier with 200 trees of
31 leaves): requests/s, p50 and p99 for 1-row and 100-row bodies at
concurrency 1, 8 and 32, a closed loop from ``wrk`` (pinned to core 1, a Lua
script that POSTs the body and prints the latency percentiles as JSON) against
each server pinned to core 0. Points are interleaved (every server at one
point, then the next point; the server order rotates each round) and the
median over rounds is reported. Before any timing, each model server's answer
to the 100-row body is compared with the in-process ``predict_proba``.

Also measured: server CPU time per request (utime + stime of the server's
process tree from /proc, over each timed point), Modelyard's launch to first
successful prediction and its idle RSS.

Modelyard runs as ``modelyard serve credit-risk@champion`` with its defaults:
micro-batching on, every prediction logged to Parquet, the registry polled
for alias moves.

    .venv/bin/python benchmarks/serving.py              # full run, writes docs/benchmarks.md
    .venv/bin/python benchmarks/serving.py --quick      # 5 s points, no docs
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _peers import MLFLOW_REQUIREMENTS, PEER_ENV, ensure_venv, package_versions, run_peer
from _report import write_section

PEERS = Path(__file__).resolve().parent / "peers"
BIN = Path(sys.executable).parent
SERVER_CORE, LOAD_CORE = "0", "1"
MLFLOW_SERVING_REQUIREMENTS = [
    *MLFLOW_REQUIREMENTS,
    "lightgbm==4.7.0",
    "scikit-learn==1.9.1",
    "numpy==2.4.6",
]

LUA = r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = f:read("*a")
f:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "errors": %d, "non_2xx": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass
class Server:
    name: str
    label: str
    path: str
    body_key: str
    command: list[str]
    env: dict[str, str] | None = None
    cwd: str | None = None
    port: int = 0
    cores: str = SERVER_CORE  # taskset list; "0,1" for a server with two workers
    process: subprocess.Popen[bytes] | None = None
    results: dict[tuple[int, int], list[dict[str, float]]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    todo += [int(c) for c in fh.read().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / ticks


def rss_mib(pid: int) -> float:
    total = 0
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
        except (OSError, StopIteration):
            continue
    return total / 1024


def start(server: Server) -> None:
    server.port = free_port()
    command = [c.replace("{port}", str(server.port)) for c in server.command]
    server.process = subprocess.Popen(
        ["taskset", "-c", server.cores, *command],
        env=server.env,
        cwd=server.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: MLflow starts uvicorn as a child
    )


def wait_ready(server: Server, body: bytes, timeout: float = 180.0) -> float:
    """Seconds from now until a POST of ``body`` succeeds."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.label} exited with {server.process.returncode}")
        try:
            response = httpx.post(
                server.url, content=body, headers={"Content-Type": "application/json"}, timeout=5
            )
            if response.status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{server.label} did not answer within {timeout:.0f} s")


def stop(server: Server) -> None:
    process = server.process
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # the group we started, by its leader's PID
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def run_wrk(server: Server, body_file: Path, conc: int, seconds: float, lua: Path) -> dict:
    command = [
        "taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{conc}", f"-d{seconds:g}s",
        "--timeout", "10s", "-s", str(lua), server.url,
    ]  # fmt: skip
    env = {**os.environ, "BENCH_BODY": str(body_file)}
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("{"))
    return json.loads(line)


def predictions_of(server: Server, body: dict) -> np.ndarray:
    response = httpx.post(server.url, json=body, timeout=60)
    response.raise_for_status()
    data = response.json()["predictions"]
    if data and isinstance(data[0], dict):
        keys = list(data[0]["probabilities"])
        return np.array([[p["probabilities"][k] for k in keys] for p in data])
    return np.array(data, dtype=np.float64)


# ---------------------------------------------------------------- setup


def prepare(workdir: Path) -> dict[str, Any]:
    """Train the model, register it in a fresh yard, write bodies; returns what servers need."""
    import modelyard
    from modelyard.data import synthetic
    from modelyard.data.synthetic import FEATURES
    from modelyard.demo.credit_models import lightgbm_pipeline, split_xy

    x, y = split_xy(synthetic.generate(20_000, seed=2_026))
    model = lightgbm_pipeline().fit(x, y)
    holdout = synthetic.generate(100, seed=2_027)[list(FEATURES)]
    (workdir / "model.pkl").write_bytes(pickle.dumps(model))
    yard_env = {
        "MODELYARD_HOME": str(workdir / "yard"),
        "MODELYARD_USER": "bench",
    }
    with modelyard.connect(home=str(workdir / "yard"), user="bench") as yard:
        yard.models.create("credit-risk", risk_tier=3)
        version = yard.models.register("credit-risk", model, example=x.head(1_000))
        yard.models.set_alias("credit-risk", "champion", version.version)
    bodies = {}
    for rows in (1, 100):
        records = holdout.head(rows).to_dict(orient="records")
        for key in ("records", "dataframe_records"):
            path = workdir / f"{key}-{rows}.json"
            path.write_text(json.dumps({key: records}))
            bodies[(key, rows)] = path
    (workdir / "example.json").write_text(json.dumps(x.head(20).to_dict(orient="records")))
    return {
        "model": model,
        "holdout": holdout,
        "bodies": bodies,
        "yard_env": yard_env,
        "train_rows": len(x),
    }


def servers(workdir: Path, setup: dict[str, Any], with_mlflow: bool) -> list[Server]:
    python = sys.executable
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    found = [
        Server(
            "ceiling",
            "bare Starlette, constant response (ceiling)",
            "/predict",
            "records",
            [python, str(PEERS / "serving_baselines.py"), "ceiling", "{port}"],
        ),
        Server(
            "handwritten",
            "hand-written FastAPI (pandas + predict_proba)",
            "/predict",
            "records",
            [
                python,
                str(PEERS / "serving_baselines.py"),
                "handwritten",
                "{port}",
                str(workdir / "model.pkl"),
            ],
        ),
    ]
    if with_mlflow:
        venv_python = ensure_venv("mlflow-serving", MLFLOW_SERVING_REQUIREMENTS)
        saved = run_peer(
            venv_python,
            PEERS / "mlflow_serving.py",
            [str(workdir / "model.pkl"), str(workdir / "example.json"), str(workdir / "mlflow")],
        )
        venv_bin = venv_python.parent
        env = {
            **{k: v for k, v in base_env.items() if k not in ("PYTHONPATH", "PYTHONHOME")},
            **PEER_ENV,
            "VIRTUAL_ENV": str(venv_bin.parent),
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        mlflow_cwd = workdir / "mlflow-cwd"
        mlflow_cwd.mkdir(exist_ok=True)
        found.append(
            Server(
                "mlflow",
                f"`mlflow models serve` {saved['mlflow']} (1 worker)",
                "/invocations",
                "dataframe_records",
                [
                    str(venv_bin / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    saved["model_dir"],
                    "--env-manager",
                    "local",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    "{port}",
                    "-w",
                    "1",
                ],
                env=env,
                cwd=str(mlflow_cwd),
            )
        )
    found.append(
        Server(
            "modelyard",
            "Modelyard `modelyard serve` (defaults: batching, Parquet log)",
            "/v1/models/credit-risk/predict",
            "records",
            [str(BIN / "modelyard"), "serve", "credit-risk@champion", "--port", "{port}"],
            env={**base_env, **setup["yard_env"]},
            cwd=str(workdir),
        )
    )
    return found


def cold_starts(server: Server, body: bytes, repeats: int) -> dict[str, float]:
    """Launch to first successful prediction and RSS one second later (idle).

    The first launch is reported apart: Modelyard's first start of a version
    loads the pickled pipeline, compiles it, checks the compiled form against it
    and stores that form; restarts (the median of the others) start from it.
    """
    launches, rss = [], []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        start(server)
        wait_ready(server, body)
        launches.append(time.perf_counter() - started)
        time.sleep(1.0)
        assert server.process is not None
        rss.append(rss_mib(server.process.pid))
        stop(server)
    return {
        "first_launch_s": launches[0],
        "first_rss_mib": rss[0],
        "launch_s": statistics.median(launches[1:]),
        "idle_rss_mib": statistics.median(rss[1:]),
    }


# ---------------------------------------------------------------- report


def _fmt_rate(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _fmt_ms(us: float) -> str:
    ms = us / 1000
    return f"{ms:.2f}" if ms < 10 else f"{ms:.0f}"


def summarise(found: list[Server]) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for server in found:
        for (rows, conc), runs in server.results.items():
            out.setdefault(server.name, {})[f"{rows}x{conc}"] = {
                "rps": statistics.median(r["rps"] for r in runs),
                "p50_us": statistics.median(r["p50_us"] for r in runs),
                "p99_us": statistics.median(r["p99_us"] for r in runs),
                "cpu_ms": statistics.median(r["cpu_ms"] for r in runs),
                "errors": sum(r["errors"] + r["non_2xx"] for r in runs),
            }
    return out


def report(
    found: list[Server],
    table: dict[str, dict[str, dict[str, float]]],
    checks: dict[str, float],
    cold: dict[str, dict[str, float]],
    args: argparse.Namespace,
    concurrencies: tuple[int, ...],
    setup: dict[str, Any],
    mlflow_versions: dict[str, Any],
) -> str:
    lines = [
        f"One LightGBM credit model (`lightgbm_pipeline()`: ColumnTransformer with an "
        f"OrdinalEncoder for 3 categoricals, LGBMClassifier 200 trees × 31 leaves, 14 "
        f"features), trained on {setup['train_rows']:,} synthetic rows. Each server pinned to "
        f"core {SERVER_CORE}, `wrk -t1` (closed loop, Lua POST script) pinned to core "
        f"{LOAD_CORE}; {args.duration:g} s a point after a {args.warmup:g} s warm-up, "
        f"{args.rounds} round(s), servers interleaved at every point (median over rounds). "
        "Every model server's answer to the 100-row body was checked against the in-process "
        "`predict_proba` before timing: "
        + ", ".join(f"{name} max |diff| {diff:.1e}" for name, diff in checks.items())
        + ". Requests/s, then p50 / p99 latency in ms; CPU = server CPU time "
        "(utime + stime of its process tree) per request.",
        "",
    ]
    for rows in (1, 100):
        lines += [
            f"**{rows} row{'s' * (rows > 1)} per request**",
            "",
            "| server | "
            + " | ".join(f"conc {c}: req/s | p50 / p99 ms" for c in concurrencies)
            + " | CPU / req (conc 32) |",
            "|---|" + "---:|---:|" * len(concurrencies) + "---:|",
        ]
        for server in found:
            cells = []
            for conc in concurrencies:
                point = table.get(server.name, {}).get(f"{rows}x{conc}")
                if point is None:
                    cells += ["–", "–"]
                    continue
                cells += [
                    _fmt_rate(point["rps"]),
                    f"{_fmt_ms(point['p50_us'])} / {_fmt_ms(point['p99_us'])}",
                ]
            cpu = table.get(server.name, {}).get(f"{rows}x32", {}).get("cpu_ms")
            cpu_cell = f"{cpu:.3f} ms" if cpu is not None else "–"
            lines.append(f"| {server.label} | " + " | ".join(cells) + f" | {cpu_cell} |")
        lines.append("")
    my = table.get("modelyard", {})
    hand = table.get("handwritten", {})
    ceiling = table.get("ceiling", {})
    ml = table.get("mlflow", {})

    def ratio(a: dict, b: dict, key: str) -> float | None:
        if key not in a or key not in b or not b[key]["rps"]:
            return None
        return a[key]["rps"] / b[key]["rps"]

    targets = []
    r = ratio(my, hand, "1x32")
    targets.append(
        ("1 row, conc 32: vs hand-written FastAPI", r, "≥ 20×", r is not None and r >= 20)
    )
    r = ratio(my, ml, "1x32")
    targets.append(
        ("1 row, conc 32: vs `mlflow models serve`", r, "≥ 30×", r is not None and r >= 30)
    )
    r = ratio(my, ceiling, "1x32")
    targets.append(
        ("1 row, conc 32: share of the ceiling", r, "≥ 35%", r is not None and r >= 0.35)
    )
    r = ratio(my, hand, "100x32")
    targets.append(
        ("100 rows, conc 32: vs hand-written FastAPI", r, "≥ 5×", r is not None and r >= 5)
    )
    lines += ["**Modelyard against the targets**", "", "| measure | measured | target | met |"]
    lines.append("|---|---:|---:|:---:|")
    for name, value, target, met in targets:
        if value is None:
            shown = "not measured"
        elif "share" in name:
            shown = f"{value * 100:.0f}%"
        else:
            shown = f"{value:.1f}×"
        lines.append(f"| {name} | {shown} | {target} | {'yes' if met else 'no'} |")
    if "1x32" in my:
        p99 = my["1x32"]["p99_us"] / 1000
        context = (
            f" (ceiling's: {ceiling['1x32']['p99_us'] / 1000:.1f} ms)" if "1x32" in ceiling else ""
        )
        lines.append(
            f"| 1 row, conc 32: p99{context} | {p99:.1f} ms | ≤ 20 ms | "
            f"{'yes' if p99 <= 20 else 'no'} |"
        )
        cpu = my["1x32"]["cpu_ms"]
        lines.append(
            f"| server CPU per 1-row request, conc 32 | {cpu:.3f} ms | ≤ 0.3 ms | "
            f"{'yes' if cpu <= 0.3 else 'no'} |"
        )
    if "modelyard" in cold:
        c = cold["modelyard"]
        lines.append(
            f"| restart: launch to first successful prediction | {c['launch_s']:.2f} s | ≤ 1.5 s | "
            f"{'yes' if c['launch_s'] <= 1.5 else 'no'} |"
        )
        lines.append(
            f"| idle RSS after a restart | {c['idle_rss_mib']:.0f} MiB | ≤ 200 MiB | "
            f"{'yes' if c['idle_rss_mib'] <= 200 else 'no'} |"
        )
    lines.append("")
    if cold:
        lines += [
            "**Cold start**: launch → first successful 1-row prediction, and RSS 1 s later. "
            "Restart = median of later launches; Modelyard's first launch of a version also "
            "compiles the pipeline, checks the compiled form on the input example and stores it.",
            "",
            "| server | first launch | RSS | restart | RSS |",
            "|---|---:|---:|---:|---:|",
        ]
        for server in found:
            if server.name in cold:
                c = cold[server.name]
                lines.append(
                    f"| {server.label} | {c['first_launch_s']:.2f} s | {c['first_rss_mib']:.0f} "
                    f"MiB | {c['launch_s']:.2f} s | {c['idle_rss_mib']:.0f} MiB |"
                )
        lines.append("")
    if "100x32" in my and "100x32" in hand:
        lines += [
            "Where the time goes, 100 rows: Modelyard spends "
            f"{my['100x32']['cpu_ms']:.2f} ms of CPU per request, most of it in LightGBM's own "
            "tree traversal for 100 rows (≈ 0.7–1 ms on this machine, the same call the "
            "scikit-learn model makes); the hand-written endpoint spends "
            f"{hand['100x32']['cpu_ms']:.2f} ms, the same trees plus pandas and the "
            "scikit-learn pipeline. The ratio is therefore capped near "
            "(hand-written CPU) / (trees alone) whatever the server does around the trees. "
            "1 row: batching turns 32 concurrent requests into one model call, so the trees "
            "cost ≈ 5 µs a row instead of ≈ 20 µs a call.",
            "",
        ]
    errors = {s.name: sum(p["errors"] for p in table.get(s.name, {}).values()) for s in found}
    lines.append(
        "Failed or non-2xx requests during timing: "
        + ", ".join(f"{name} {count:,.0f}" for name, count in errors.items())
        + "."
    )
    if mlflow_versions:
        lines.append(
            "MLflow peer environment: "
            + ", ".join(f"{k} {v}" for k, v in mlflow_versions.items() if v)
            + "."
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="Seconds a point.")
    parser.add_argument("--warmup", type=float, default=3.0, help="Seconds before each point.")
    parser.add_argument("--rounds", type=int, default=1, help="Interleaved rounds (median).")
    parser.add_argument("--quick", action="store_true", help="5 s points, conc 1 and 32.")
    parser.add_argument("--no-mlflow", action="store_true", help="Skip the MLflow peer.")
    parser.add_argument("--cold-repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="Write docs even with --quick.")
    args = parser.parse_args(argv)
    concurrencies: tuple[int, ...] = (1, 8, 32)
    if args.quick:
        args.duration, args.warmup, concurrencies = 5.0, 1.0, (1, 32)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="modelyard-bench-serving-"))
    lua = workdir / "post.lua"
    lua.write_text(LUA)
    print(f"workdir {workdir}", flush=True)
    setup = prepare(workdir)
    found = servers(workdir, setup, with_mlflow=not args.no_mlflow)
    mlflow_versions: dict[str, Any] = {}
    if not args.no_mlflow:
        mlflow_versions = package_versions(
            ensure_venv("mlflow-serving", MLFLOW_SERVING_REQUIREMENTS),
            ["mlflow", "scikit-learn", "lightgbm", "pandas", "fastapi", "uvicorn"],
        )
    one_row = setup["bodies"][("records", 1)].read_bytes()
    cold: dict[str, dict[str, float]] = {}
    checks: dict[str, float] = {}
    try:
        by_name = {s.name: s for s in found}
        print("cold starts...", flush=True)
        cold["modelyard"] = cold_starts(by_name["modelyard"], one_row, args.cold_repeats)
        cold["handwritten"] = cold_starts(by_name["handwritten"], one_row, 2)
        if "mlflow" in by_name:
            body = setup["bodies"][("dataframe_records", 1)].read_bytes()
            cold["mlflow"] = cold_starts(by_name["mlflow"], body, 2)
        print(json.dumps(cold), flush=True)
        for server in found:
            start(server)
            body = setup["bodies"][(server.body_key, 1)].read_bytes()
            wait_ready(server, body)
        expected = setup["model"].predict_proba(setup["holdout"])
        for server in found:
            if server.name == "ceiling":
                continue
            key = server.body_key
            got = predictions_of(server, json.loads(setup["bodies"][(key, 100)].read_text()))
            diff = float(np.max(np.abs(got - expected)))
            if got.shape != expected.shape or diff > 1e-9:
                raise SystemExit(f"{server.label} answers wrongly (max diff {diff})")
            checks[server.name] = diff
        print(f"answers checked: {checks}", flush=True)
        points = [(rows, conc) for rows in (1, 100) for conc in concurrencies]
        loads: list[float] = []
        for round_number in range(args.rounds):
            order = found[round_number % len(found) :] + found[: round_number % len(found)]
            for rows, conc in points:
                for server in order:
                    body_file = setup["bodies"][(server.body_key, rows)]
                    run_wrk(server, body_file, conc, args.warmup, lua)
                    assert server.process is not None
                    cpu_before = cpu_seconds(server.process.pid)
                    result = run_wrk(server, body_file, conc, args.duration, lua)
                    cpu_used = cpu_seconds(server.process.pid) - cpu_before
                    seconds = result["duration_us"] / 1e6
                    loads.append(os.getloadavg()[0])
                    point = {
                        "rps": result["requests"] / seconds,
                        "p50_us": result["p50_us"],
                        "p99_us": result["p99_us"],
                        "errors": result["errors"],
                        "non_2xx": result["non_2xx"],
                        "cpu_ms": 1000 * cpu_used / max(result["requests"], 1),
                    }
                    server.results.setdefault((rows, conc), []).append(point)
                    print(
                        f"round {round_number + 1} {server.name:11s} rows {rows:3d} conc "
                        f"{conc:2d}: {point['rps']:9.1f} req/s p50 {point['p50_us'] / 1000:8.2f} "
                        f"ms p99 {point['p99_us'] / 1000:8.2f} ms cpu/req "
                        f"{point['cpu_ms']:.3f} ms errors {result['errors'] + result['non_2xx']}",
                        flush=True,
                    )
    finally:
        for server in found:
            stop(server)
    table = summarise(found)
    markdown = report(found, table, checks, cold, args, concurrencies, setup, mlflow_versions)
    if loads:
        markdown += (
            f"\n\nThe machine's 1-minute load average during the timed points was "
            f"{min(loads):.1f}–{max(loads):.1f} on 2 cores (other jobs shared the VM): "
            "absolute figures and p99 above all carry that noise; the ratios of servers "
            "measured side by side carry less of it."
        )
    print(markdown)
    if not args.quick or args.write:
        write_section(
            "serving",
            "Serving: Modelyard vs the HTTP ceiling, hand-written FastAPI and MLflow",
            markdown,
            packages=["fastapi", "starlette", "uvicorn", "lightgbm", "scikit-learn", "pandas"],
        )
    shutil.rmtree(workdir, ignore_errors=True)
    return {"table": table, "cold": cold, "checks": checks}


if __name__ == "__main__":
    main()
