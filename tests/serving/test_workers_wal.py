"""``--workers 2``: each worker process keeps its own write-ahead file of the prediction log,
and after a SIGKILL of the whole server the next start (two workers again, recovering at
the same moment) puts every flushed row into the Parquet log exactly once and counts the
rest as lost."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from serving_support import ServingProcess, records

from modelyard.serving import read_predictions
from modelyard.testing.identity import has_users, issue_token
from modelyard.testing.process import free_port

SERVER = """
import sys
from modelyard.serving import ServingConfig
from modelyard.serving.server import serve

if __name__ == "__main__":  # workers are spawned: they import this file again
    port, log_root, wal_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    config = ServingConfig.build(
        poll_interval_s=0, gc_freeze=False, warm_rows=50,
        prediction_log={"root": log_root, "wal_dir": wal_dir, "flush_interval_s": 1.0,
                        "file_interval_s": 3600},
    )
    serve(["credit-risk@champion"], port=port, workers=2, config=config, log_level="info")
"""


def _stop(server: ServingProcess, sig: int) -> None:
    """Signal the master and its workers (one group); after a SIGTERM, wait until the
    workers, which flush their logs as they stop, are gone too."""
    server.send(sig, group=True)
    if sig == signal.SIGTERM:
        deadline = time.monotonic() + 300
        while _group_alive(server.process.pid):
            assert time.monotonic() < deadline, "workers did not stop"
            time.sleep(0.2)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wal_dirs(wal_dir: Path) -> dict[str, int]:
    """Each process's write-ahead directory and the bytes of its segments."""
    if not wal_dir.is_dir():
        return {}
    return {
        d.name: sum(p.stat().st_size for p in d.glob("seg-*.wal"))
        for d in wal_dir.iterdir()
        if d.is_dir()
    }


@pytest.mark.slow
def test_two_workers_keep_their_own_wal_and_a_restart_recovers_every_flushed_row(
    yard_root, holdout, tmp_path
) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    log_root, wal_dir = tmp_path / "log", tmp_path / "wal"
    store_url = f"sqlite:///{yard_root / 'yard.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
    env |= {
        "MODELYARD_STORE_URL": store_url,
        "MODELYARD_ARTIFACT_ROOT": str(yard_root / "artifacts"),
        "MODELYARD_HOME": str(yard_root / "home"),
        "MODELYARD_USER": "alice",
    }
    if has_users(store_url):
        env["MODELYARD_TOKEN"] = issue_token(store_url, "alice")
    rows = records(holdout)
    answered: list[str] = []

    port = free_port()
    server = ServingProcess(
        script, [str(port), str(log_root), str(wal_dir)], port, tmp_path / "a",
        env=env, new_session=True,
    ).start()  # fmt: skip
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:

            def send(i: int) -> None:
                record = {**rows[i % len(rows)], "income": 20_000.0 + i * 1.5}
                request_id = f"w-{i:06d}"
                response = client.post(
                    "/v1/models/credit-risk/predict",
                    json={"records": [record]},
                    # A connection a request: the kernel hands each to whichever worker
                    # accepts first, so both workers get rows (keep-alive would pin one).
                    headers={"x-request-id": request_id, "connection": "close"},
                )
                assert response.status_code == 200, response.text
                answered.append(request_id)

            # Eight requests at once, so both workers are busy. Load until
            # both workers' write-ahead files hold flushed rows (a ceiling, not a timing).
            i = 0
            deadline = time.monotonic() + 300
            with ThreadPoolExecutor(8) as pool:
                while sum(1 for size in _wal_dirs(wal_dir).values() if size > 1_024) < 2:
                    list(pool.map(send, range(i, i + 200)))
                    i += 200
                    assert time.monotonic() < deadline, f"one WAL only: {_wal_dirs(wal_dir)}"
                list(pool.map(send, range(i, i + 200)))
        directories = _wal_dirs(wal_dir)
        pids = {name.split("-")[-2] for name in directories}
        assert len(directories) == 2 and len(pids) == 2, directories  # one per worker
    finally:
        _stop(server, signal.SIGKILL)
    assert not log_root.exists() or read_predictions(str(log_root), "credit-risk").num_rows == 0

    # Two workers again: both look at the dead directories at once; each is recovered once.
    port = free_port()
    restarted = ServingProcess(
        script, [str(port), str(log_root), str(wal_dir)], port, tmp_path / "b",
        env=env, new_session=True,
    ).start()  # fmt: skip
    _stop(restarted, signal.SIGTERM)
    recoveries = [
        x for x in restarted.lines() if "recovered from a process" in x.get("message", "")
    ]
    assert len(recoveries) == 2, recoveries  # the two dead workers' directories
    assert not any("cannot recover" in x.get("message", "") for x in restarted.lines())
    recovered = sum(x["recovered_rows"] for x in recoveries)
    lost = sum(x["lost_rows"] for x in recoveries)

    table = read_predictions(str(log_root), "credit-risk")
    logged = table["_request_id"].to_pylist()
    assert len(logged) == len(set(logged)) == recovered > 0  # each row once
    assert set(logged) <= set(answered)
    assert lost == len(answered) - len(logged)  # what is missing is exactly what is counted
    assert lost < len(answered)
    assert list(wal_dir.iterdir()) == []  # the clean stop left nothing behind
