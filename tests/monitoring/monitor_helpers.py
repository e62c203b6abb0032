"""Helpers of the monitoring service tests: a trained credit model, a registered version
with training and holdout datasets, prediction-log parts in the serving schema, a real
local webhook receiver and a clock the tests move by hand."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from modelyard.data import synthetic
from modelyard.data.synthetic import FEATURES, TARGET
from modelyard.demo.credit_models import lightgbm_pipeline, split_xy
from modelyard.serving.predlog import META_COLUMNS, ParquetSink

TRAIN_ROWS = 12_000
HOLDOUT_ROWS = 8_000
START = datetime(2026, 3, 1, tzinfo=UTC)
T0 = int(START.timestamp() * 1000)
HOUR_MS = 3_600_000


@pytest.fixture(scope="session")
def train_frame() -> pd.DataFrame:
    return synthetic.generate(TRAIN_ROWS, seed=71)


@pytest.fixture(scope="session")
def holdout_frame() -> pd.DataFrame:
    return synthetic.generate(HOLDOUT_ROWS, seed=72, start_id=TRAIN_ROWS)


@pytest.fixture(scope="session")
def credit_model(train_frame: pd.DataFrame) -> Any:
    return lightgbm_pipeline(n_estimators=60).fit(*split_xy(train_frame))


def register_version(
    yard: Any,
    model: Any,
    train: pd.DataFrame,
    holdout: pd.DataFrame | None,
    *,
    name: str = "credit-risk",
    risk_tier: int = 3,
) -> Any:
    """``name``'s next version, trained on ``train`` (role training), with ``holdout``."""
    if name not in yard.models.model_names():
        yard.models.create(name, risk_tier=risk_tier)
    inputs = {"training": yard.datasets.register(f"{name}-train", train)}
    if holdout is not None:
        inputs["holdout"] = yard.datasets.register(f"{name}-holdout", holdout)
    with yard.start_run(experiment=name) as run:
        for role, dataset in inputs.items():
            run.log_input(dataset, role=role)
    return yard.models.register(
        name, model, run=run.id, example=train[list(FEATURES)].head(500), target=TARGET
    )


def log_table(
    frame: pd.DataFrame,
    scores: np.ndarray,
    *,
    model: str,
    version: int,
    start: datetime,
    seconds: float = 10.0,
    endpoint: str = "credit-risk",
    route: str = "champion",
    shadow: bool = False,
    entity: bool = True,
    warnings: list[str | None] | None = None,
) -> pa.Table:
    """Rows as the serving prediction log writes them: features, then the meta columns
    (``warnings``: each row's ``_warnings`` JSON, or None; meta columns this helper does
    not know are null)."""
    n = len(frame)
    table = pa.Table.from_pandas(frame[list(FEATURES)], preserve_index=False)
    ts = [start + timedelta(seconds=seconds * i) for i in range(n)]
    meta = {
        "_request_id": pa.array([uuid.uuid4().hex for _ in range(n)], pa.string()),
        "_row": pa.array([0] * n, pa.int64()),
        "_ts": pa.array(ts, pa.timestamp("ms", tz="UTC")),
        "_endpoint": pa.array([endpoint] * n, pa.string()),
        "_route": pa.array([route] * n, pa.string()),
        "_shadow": pa.array([shadow] * n, pa.bool_()),
        "_model": pa.array([model] * n, pa.string()),
        "_version": pa.array([version] * n, pa.int64()),
        "_latency_ms": pa.array([1.0] * n, pa.float64()),
        "_score": pa.array(np.asarray(scores, dtype=np.float64), pa.float64()),
        "_label": pa.array(["0"] * n, pa.string()),
        "_entity": pa.array(
            frame["application_id"].tolist() if entity else [None] * n, pa.string()
        ),
        "_warnings": pa.nulls(n, pa.string()),
    }
    if warnings is not None:
        meta["_warnings"] = pa.array(warnings, pa.string())
    for name in META_COLUMNS:
        table = table.append_column(name, meta.get(name, pa.nulls(n, pa.string())))
    if "_warnings" in meta and "_warnings" not in META_COLUMNS:
        table = table.append_column("_warnings", meta["_warnings"])
    return table


def write_log(root: str, table: pa.Table, kind: str = "predictions") -> None:
    """One part per UTC day of ``_ts``, written by the serving Parquet sink."""
    sink = ParquetSink(root)
    days = pd.Series(table["_ts"].to_pandas()).dt.strftime("%Y-%m-%d").to_numpy()
    endpoint = table["_endpoint"][0].as_py() if "_endpoint" in table.column_names else None
    for day in sorted(set(days)):
        part = table.filter(pa.array(days == day))
        sink.write(kind, endpoint or "credit-risk", day, part)


def feedback_table(log: pa.Table, labels: Any, at: datetime) -> pa.Table:
    n = log.num_rows
    return pa.table(
        {
            "_request_id": log["_request_id"],
            "_row": log["_row"],
            "_entity": pa.array([None] * n, pa.string()),
            "_ts": pa.array([at] * n, pa.timestamp("ms", tz="UTC")),
            "label": pa.array([str(int(v)) for v in labels], pa.string()),
        }
    )


def write_feedback(root: str, endpoint: str, table: pa.Table, day: str) -> None:
    ParquetSink(root).write("feedback", endpoint, day, table)


class Clock:
    """Epoch milliseconds that move only when a test says so."""

    def __init__(self, ms: int = T0) -> None:
        self.ms = ms

    def __call__(self) -> int:
        return self.ms

    def advance(self, hours: float) -> None:
        self.ms += int(hours * HOUR_MS)


class Receiver:
    """A real HTTP server on a free localhost port that keeps every JSON body POSTed."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(body)
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
