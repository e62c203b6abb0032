"""Prediction logging: every record reaches the sink after shutdown or is counted as dropped;
Parquet and Redis Streams sinks; feedback; reading back."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute
import pytest
from serving_support import open_yard, records, serving_config, start_server

from modelyard.flavors.signature import ColumnSpec, Signature
from modelyard.serving import create_app, read_feedback, read_predictions
from modelyard.serving.config import PredictionLogConfig
from modelyard.serving.inputs import Payload
from modelyard.serving.predlog import META_COLUMNS, PredictionLog, RedisStreamSink, read_stream
from modelyard.testing.environment import require


def test_100000_predictions_all_in_the_log_after_shutdown(yard_root, holdout, tmp_path) -> None:
    log_root = str(tmp_path / "log")
    yard = open_yard(yard_root)
    app = create_app(
        "credit-risk@champion",
        yard=yard,
        config=serving_config(prediction_log={"root": log_root, "flush_interval_s": 0.5}),
    )
    server = start_server(app)
    body = {"records": records(holdout.head(100))}
    statuses: list[int] = []
    request_ids: set[str] = set()

    async def load() -> None:
        async with httpx.AsyncClient(timeout=30) as client:

            async def worker(count: int) -> None:
                for _ in range(count):
                    response = await client.post(
                        f"{server.url}/v1/models/credit-risk/predict", json=body
                    )
                    statuses.append(response.status_code)
                    request_ids.add(response.headers["x-request-id"])

            await asyncio.gather(*(worker(125) for _ in range(8)))

    try:
        asyncio.run(load())
    finally:
        server.stop()  # the lifespan's shutdown flushes the queue
        yard.close()
    assert statuses == [200] * 1_000
    predlog = app.runtime.predlog
    table = read_predictions(log_root, "credit-risk")
    assert predlog.dropped == 0
    assert table.num_rows == predlog.written == 100_000
    assert set(table["_request_id"].to_pylist()) == request_ids
    assert table.column_names[-len(META_COLUMNS) :] == list(META_COLUMNS)
    assert table.schema.field("_ts").type == pa.timestamp("ms", tz="UTC")
    assert table.schema.field("age").type == pa.int64()
    assert table.schema.field("region").type == pa.string()
    assert sorted(set(table["_row"].to_pylist())) == list(range(100))
    # The logged inputs are exactly what was sent (decoded from the fast path's matrix).
    first = table.filter(pa.compute.equal(table["_request_id"], table["_request_id"][0]))
    logged = first.to_pandas().sort_values("_row")[list(holdout.columns)].reset_index(drop=True)
    assert logged.equals(holdout.head(100).reset_index(drop=True))


class _StubServed:
    name, version, task, binary, class_keys = "m", 3, "classification", True, ["0", "1"]
    signature = Signature((ColumnSpec("x", "float"), ColumnSpec("kind", "string")))


class _SlowSink:
    def __init__(self, fail: bool = False) -> None:
        self.rows = 0
        self.fail = fail

    def write(self, kind, endpoint, day, table) -> None:
        time.sleep(0.01)
        if self.fail:
            raise OSError("disk full")
        self.rows += table.num_rows

    def close(self) -> None:
        pass


def _feed(log: PredictionLog, rows: int, per_request: int = 10) -> None:
    outputs = np.tile([0.25, 0.75], (per_request, 1))
    for i in range(rows // per_request):
        payload = Payload.from_columns({"x": [float(i)] * per_request, "kind": ["a"] * per_request})
        log.log("ep", "champion", False, _StubServed(), f"r{i}", 1_700_000_000_000, 1.0,
                payload, outputs, None)  # fmt: skip


def test_a_full_queue_counts_drops_and_never_blocks() -> None:
    sink = _SlowSink()
    log = PredictionLog(sink, PredictionLogConfig(queue_max_rows=5_000, flush_interval_s=0.05))
    log.start()
    started = time.perf_counter()
    _feed(log, 100_000)
    assert time.perf_counter() - started < 5.0  # no request waits for the sink
    log.close()
    assert log.dropped > 0
    assert log.written + log.dropped == 100_000
    assert sink.rows == log.written


def test_a_failing_sink_drops_and_counts(caplog) -> None:
    log = PredictionLog(_SlowSink(fail=True), PredictionLogConfig())
    _feed(log, 1_000)
    log.close()
    assert log.dropped == 1_000 and log.written == 0
    assert "sink failed twice" in caplog.text


def test_redis_stream_round_trip() -> None:
    url = "redis://127.0.0.1:6379/0"
    stream = f"modelyard-test:{uuid.uuid4().hex}"
    try:
        sink = RedisStreamSink(url, stream, maxlen=None)
    except Exception as exc:
        require("Redis at 127.0.0.1:6379", "start redis-server", exc)
    log = PredictionLog(sink, PredictionLogConfig(sink="redis"))
    try:
        _feed(log, 2_000)
        log.close()
        table = read_stream(url, stream)
        assert table.num_rows == 2_000 == log.written
        assert set(table["_endpoint"].to_pylist()) == {"ep"}
        assert table["_score"].to_pylist()[:2] == [0.75, 0.75]
        assert table.schema.field("_ts").type == pa.timestamp("ms", tz="UTC")
        assert table["x"].to_pylist()[:12] == [0.0] * 10 + [1.0] * 2
        assert read_stream(url, stream, count=15).num_rows == 15
    finally:
        import redis

        client = redis.Redis.from_url(url)
        client.delete(stream)
        client.close()


def test_feedback_is_stored_and_joins_predictions(yard_root, holdout, tmp_path) -> None:
    log_root = str(tmp_path / "log")
    yard = open_yard(yard_root)
    app = create_app(
        "credit-risk@champion", yard=yard, config=serving_config(prediction_log={"root": log_root})
    )

    async def scenario():
        await app.runtime.astart()
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
                scored = await client.post(
                    "/v1/models/credit-risk/predict", json={"records": records(holdout.head(3))}
                )
                request_id = scored.json()["request_id"]
                ok = await client.post(
                    "/v1/feedback",
                    json={
                        "labels": [
                            {"request_id": request_id, "row": 2, "label": 1},
                            {"request_id": request_id, "label": 0},
                            {"entity": "customer-9", "label": "1"},
                        ]
                    },
                )
                bad = await client.post("/v1/feedback", json={"labels": [{"label": 1}]})
                unknown = await client.post(
                    "/v1/feedback",
                    json={"endpoint": "nope", "labels": [{"entity": "e", "label": 1}]},
                )
                return request_id, ok, bad, unknown
        finally:
            await app.runtime.aclose()

    request_id, ok, bad, unknown = asyncio.run(scenario())
    yard.close()
    assert ok.status_code == 200 and ok.json()["accepted"] == 3
    assert bad.status_code == 422 and "labels[0]" in bad.json()["message"]
    assert unknown.status_code == 404
    labels = read_feedback(log_root, "credit-risk").to_pylist()
    assert [(x["_request_id"], x["_row"], x["_entity"], x["label"]) for x in labels] == [
        (request_id, 2, None, "1"),
        (request_id, 0, None, "0"),
        (None, None, "customer-9", "1"),
    ]
    predictions = read_predictions(log_root, "credit-risk").to_pandas()
    joined = predictions.merge(
        read_feedback(log_root, "credit-risk").to_pandas(), on=["_request_id", "_row"]
    )
    assert sorted(joined["_row"]) == [0, 2]


def test_read_predictions_filters_by_time(tmp_path) -> None:
    from modelyard.serving.predlog import ParquetSink

    log = PredictionLog(ParquetSink(str(tmp_path)), PredictionLogConfig())
    outputs = np.array([[0.5, 0.5]])
    now = datetime.now(UTC)
    for days in (0, 1, 3):
        ts = int((now - timedelta(days=days)).timestamp() * 1000)
        payload = Payload.from_records([{"x": 1.0, "kind": "a"}])
        log.log("ep", "r", False, _StubServed(), f"d{days}", ts, 1.0, payload, outputs, None)
    log.close()
    assert read_predictions(str(tmp_path), "ep").num_rows == 3
    recent = read_predictions(str(tmp_path), "ep", since=now - timedelta(days=2))
    assert sorted(recent["_request_id"].to_pylist()) == ["d0", "d1"]
    old = read_predictions(str(tmp_path), "ep", until=(now - timedelta(days=2)).isoformat())
    assert old["_request_id"].to_pylist() == ["d3"]
    assert read_predictions(str(tmp_path), "other").num_rows == 0
    with pytest.raises(Exception, match="not an ISO date"):
        read_predictions(str(tmp_path), "ep", since="yesterday")
    assert threading.active_count() >= 1
