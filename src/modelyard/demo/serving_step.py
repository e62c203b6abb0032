"""The serving step of the demo: serve the champion, call it over two protocols, stop it.

``run_serving_demo`` starts ``modelyard serve`` as a background process on a
free port with the yard's own store and artifact settings, waits until it is
ready, sends a few hundred requests through the plain JSON API and the Open
Inference Protocol (checking every answer against the model scored
in-process), prints a short table, then stops the server with SIGTERM and
checks that the prediction log holds every row it was sent.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from modelyard.errors import BackendUnavailable, IntegrityError

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.yard import Yard

__all__ = ["run_serving_demo"]

_V2_TYPES = {"integer": "INT64", "float": "FP64", "boolean": "BOOL"}


PARITY_TOLERANCE = 1e-5


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(yard: Yard) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    settings = yard.settings
    env.update(
        {
            "MODELYARD_HOME": str(settings.home),
            "MODELYARD_STORE_URL": settings.resolved_store_url,
            "MODELYARD_ARTIFACT_ROOT": settings.resolved_artifact_root,
            "MODELYARD_USER": str(settings.user),
        }
    )
    if yard.token is not None:
        # The server process opens the store itself: on a store with users it acts
        # with the demo user's token, as any other command must.
        env["MODELYARD_TOKEN"] = yard.token
    if settings.config_file is not None:
        env["MODELYARD_CONFIG"] = str(settings.config_file)
    return env


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BackendUnavailable(f"the server exited with code {process.returncode}")
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise BackendUnavailable(f"the server was not ready within {timeout:.0f} s")


def _v2_body(frame: pd.DataFrame, types: dict[str, str]) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": column,
                "shape": [len(frame)],
                "datatype": _V2_TYPES.get(types[column], "BYTES"),
                "data": frame[column].tolist(),
            }
            for column in frame.columns
        ]
    }


def run_serving_demo(
    yard: Yard,
    console: Console | None = None,
    ref: str = "credit-risk@champion",
    frame: pd.DataFrame | None = None,
    *,
    requests: int = 300,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Serve ``ref`` in a subprocess, call it, stop it; returns what was measured.

    Raises:
        IntegrityError: An answer differs from the in-process model, or the
            prediction log lacks rows after shutdown.
        BackendUnavailable: The server did not start or did not stop cleanly.
    """
    from modelyard.serving.predlog import read_predictions

    console = console or Console()
    loaded = yard.models.load(ref)
    name, version, _ = yard.models.resolve_digest(ref)
    if loaded.signature is None:
        raise IntegrityError(f"{ref} has no signature; the serving demo needs one")
    columns = loaded.signature.input_names
    types = {s.name: s.type for s in loaded.signature.inputs}
    if frame is None:
        from modelyard.data import synthetic

        frame = synthetic.generate(requests, seed=2_026)
    frame = frame[columns].head(requests).reset_index(drop=True)
    expected = loaded.predict_proba(frame)

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "modelyard.cli.main", "serve", ref,
        "--port", str(port), "--log-level", "warning", "--poll-interval", "0",
    ]  # fmt: skip
    console.print(f"[bold]Serving[/bold] {ref} (version {version}) at {url}")
    launched = time.perf_counter()
    process = subprocess.Popen(command, env=_environment(yard), stdout=subprocess.DEVNULL)
    latencies: dict[str, list[float]] = {"plain": [], "v2": []}
    versions: set[int] = set()
    request_ids: list[str] = []
    try:
        _wait_ready(process, url, timeout)
        first_prediction_s = time.perf_counter() - launched
        with httpx.Client(base_url=url, timeout=30.0) as client:
            for i in range(len(frame)):
                row = frame.iloc[i : i + 1]
                protocol = "plain" if i % 3 else "v2"
                started = time.perf_counter()
                if protocol == "plain":
                    response = client.post(
                        f"/v1/models/{name}/predict", json={"records": row.to_dict("records")}
                    )
                else:
                    response = client.post(f"/v2/models/{name}/infer", json=_v2_body(row, types))
                latencies[protocol].append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise IntegrityError(f"{protocol} request failed: {response.text[:300]}")
                body = response.json()
                request_ids.append(response.headers["x-request-id"])
                versions.add(int(response.headers["x-model-version"]))
                if protocol == "plain":
                    probabilities = body["predictions"][0]["probabilities"]
                    got = [[probabilities[str(c)] for c in loaded.classes or []]]
                else:
                    tensors = {t["name"]: t for t in body["outputs"]}
                    got = [tensors["probabilities"]["data"]]
                # The server may answer from the parity-checked ONNX form: equal within its
                # parity tolerance, and exactly equal on the native paths.
                diff = np.abs(np.asarray(got, dtype=np.float64) - expected[i : i + 1]).max()
                if diff > PARITY_TOLERANCE:
                    raise IntegrityError(
                        f"row {i}: the server's answer differs from the model's by {diff:.2e}"
                    )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BackendUnavailable("the server did not stop within 60 s of SIGTERM") from None
    # uvicorn re-raises the SIGTERM it handled once shutdown is complete, so a clean stop
    # ends with -SIGTERM; the flushed prediction log below is the proof of a clean stop.
    if code not in (0, -signal.SIGTERM):
        raise BackendUnavailable(f"the server stopped with exit code {code}")
    root = yard.settings.resolved_artifact_root
    logged = read_predictions(root, name, storage_options=yard.settings.storage_options(root))
    ours = set(request_ids)
    found = sum(1 for rid in logged["_request_id"].to_pylist() if rid in ours)
    if found != len(request_ids):
        raise IntegrityError(
            f"the prediction log has {found} of the {len(request_ids)} rows sent after shutdown"
        )

    table = Table(title="Serving demo", title_justify="left", header_style="bold")
    for column in ("protocol", "requests", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right" if column != "protocol" else "left")
    result: dict[str, Any] = {
        "ref": ref,
        "url": url,
        "requests": len(request_ids),
        "versions": sorted(versions),
        "first_prediction_s": round(first_prediction_s, 3),
        "logged_rows": found,
    }
    for protocol, values in latencies.items():
        ms = sorted(v * 1000 for v in values)
        p50 = statistics.median(ms)
        p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
        table.add_row(protocol, str(len(ms)), f"{p50:.2f}", f"{p99:.2f}")
        result[protocol] = {"requests": len(ms), "p50_ms": round(p50, 3), "p99_ms": round(p99, 3)}
    console.print(table)
    console.print(
        f"versions answering: {', '.join(map(str, sorted(versions)))}; first prediction "
        f"{first_prediction_s:.2f} s after launch; {found} rows in the prediction log; "
        "server stopped cleanly"
    )
    return result
