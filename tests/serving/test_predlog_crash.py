"""A server SIGKILLed under load loses at most the rows of its last flush interval, and the
next start recovers the rest from the write-ahead file and counts exactly what was lost.

The log goes to a local directory, or to an S3 bucket (moto's real S3 server)
reached through the object-store settings alone; the write-ahead file is on
the local disk either way, and recovery writes into the bucket.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving_support import ServingProcess, records

from modelyard.serving import read_predictions
from modelyard.testing.object_stores import moto_s3, no_machine_credentials, settings_environment
from modelyard.testing.process import free_port

BUCKET = "modelyard-crash-log"

SERVER = """
import json, sys
import modelyard
from modelyard.serving import ServingConfig
from modelyard.serving.server import serve

root, port, log_root, wal_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
yard = modelyard.connect(
    f"sqlite:///{root}/yard.db", artifact_root=f"{root}/artifacts", user="alice",
    home=f"{root}/home",
)
config = ServingConfig.build(
    poll_interval_s=0, gc_freeze=False, warm_rows=50,
    prediction_log={"root": log_root, "wal_dir": wal_dir, "flush_interval_s": 1.0,
                    "file_interval_s": 3600},
)
serve(["credit-risk@champion"], port=port, config=config, yard=yard, log_level="info")
"""


def _wal_bytes(wal_dir: Path) -> int:
    return sum(p.stat().st_size for p in wal_dir.glob("*/seg-*.wal"))


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


@pytest.fixture(params=["local", "s3"])
def log_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Where the log goes: its root, the servers' environment, the readers' options."""
    if request.param == "local":
        yield {"root": str(tmp_path / "log"), "env": None, "options": {}}
        return
    with moto_s3(BUCKET) as options:
        # The servers reach the bucket through the settings only: no AWS_* variables.
        env = no_machine_credentials(dict(os.environ), str(tmp_path))
        env.update(settings_environment(options))
        yield {"root": f"s3://{BUCKET}/crash-log", "env": env, "options": options}


@pytest.mark.slow
def test_sigkill_mid_load_loses_one_flush_interval_at_most_and_counts_it(
    yard_root, holdout, tmp_path, log_store
) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    log_root, wal_dir = log_store["root"], tmp_path / "wal"
    env, options = log_store["env"], log_store["options"]
    port = free_port()
    args = [str(yard_root), str(port), log_root, str(wal_dir)]
    rows = records(holdout)
    answered: list[str] = []  # request ids that got a 200, in order

    server = ServingProcess(script, args, port, tmp_path / "first.log", env=env).start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:

            def send(i: int) -> None:
                # Distinct bodies: a holdout row with a made-up, unique income.
                record = {**rows[i % len(rows)], "income": 20_000.0 + i * 1.5}
                request_id = f"crash-{i:06d}"
                response = client.post(
                    "/v1/models/credit-risk/predict",
                    json={"records": [record]},
                    headers={"x-request-id": request_id},
                )
                assert response.status_code == 200, response.text
                answered.append(request_id)

            i = 0
            # Load until the write-ahead file holds flushed rows (a ceiling, not a timing
            # assumption), then some more: the kill lands between two flushes.
            deadline = time.monotonic() + 300
            while _wal_bytes(wal_dir) < 4_096:
                for _ in range(50):
                    send(i)
                    i += 1
                assert time.monotonic() < deadline, "nothing reached the write-ahead file"
            for _ in range(300):
                send(i)
                i += 1
    finally:
        server.send(signal.SIGKILL)  # sequential client: no request is in flight here
    assert server.process.returncode == -signal.SIGKILL
    assert read_predictions(log_root, "credit-risk", storage_options=options).num_rows == 0

    port = free_port()
    restarted = ServingProcess(
        script, [args[0], str(port), *args[2:]], port, tmp_path / "second.log", env=env
    ).start()
    try:
        metrics = httpx.get(f"{restarted.url}/metrics", timeout=60).text
    finally:
        restarted.send(signal.SIGTERM)
    lost = _metric(metrics, "modelyard_prediction_log_lost_total")
    recovered = _metric(metrics, "modelyard_prediction_log_recovered_total")

    table = read_predictions(log_root, "credit-risk", storage_options=options)
    logged = table["_request_id"].to_pylist()
    assert len(logged) == len(set(logged)) == recovered > 0  # recovered once each
    assert set(logged) <= set(answered)
    missing = [r for r in answered if r not in set(logged)]
    # Exactly the rows that were lost are counted (one row a request)...
    assert lost == len(missing)
    # ...and they are the last ones answered: everything up to the last flush is on disk.
    assert missing == answered[len(answered) - len(missing) :]
    assert len(missing) < len(answered)
    # The recovered rows are the requests' own rows, not just their ids.
    incomes = dict(zip(logged, table["income"].to_pylist(), strict=True))
    assert incomes[answered[0]] == 20_000.0
    assert incomes[logged[-1]] == 20_000.0 + int(logged[-1].removeprefix("crash-")) * 1.5
    recovery = [x for x in restarted.lines() if "recovered from a process" in x.get("message", "")]
    assert len(recovery) == 1 and recovery[0]["lost_rows"] == lost
    assert recovery[0]["recovered_rows"] == recovered
    # The clean shutdown of the second server leaves no write-ahead file behind.
    assert list(wal_dir.iterdir()) == []
