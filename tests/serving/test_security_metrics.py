"""API keys (stored hashed), CORS off by default, Prometheus metrics and JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest
from serving_support import open_yard, records, serving_config

from modelyard.errors import InvalidInput
from modelyard.serving import ServingConfig, create_app, hash_api_key
from modelyard.serving.logs import JsonFormatter

KEY = "s3cret-key-for-tests"


def _run(app, coroutine_factory):
    async def main():
        await app.runtime.astart()
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
                return await coroutine_factory(client)
        finally:
            await app.runtime.aclose()

    return asyncio.run(main())


def test_api_keys_are_required_and_stored_hashed(yard_root, holdout) -> None:
    config = serving_config(api_key_hashes=[hash_api_key(KEY)])
    assert KEY not in config.to_json() and hash_api_key(KEY) in config.to_json()
    yard = open_yard(yard_root)
    app = create_app("credit-risk@champion", yard=yard, config=config)
    body = {"records": records(holdout.head(1))}

    async def calls(client):
        url = "/v1/models/credit-risk/predict"
        return {
            "none": await client.post(url, json=body),
            "wrong": await client.post(url, json=body, headers={"X-API-Key": "guess"}),
            "header": await client.post(url, json=body, headers={"X-API-Key": KEY}),
            "bearer": await client.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}),
            "v2 none": await client.get("/v2/models/credit-risk"),
            "v2 key": await client.get("/v2/models/credit-risk", headers={"X-API-Key": KEY}),
            "metrics none": await client.get("/metrics"),
            "live": await client.get("/v2/health/live"),
            "ready": await client.get("/v2/health/ready"),
            "openapi": await client.get("/openapi.json", headers={"X-API-Key": KEY}),
        }

    got = _run(app, calls)
    yard.close()
    assert got["none"].status_code == 401 and got["none"].json()["error"] == "unauthorized"
    assert got["wrong"].status_code == 401
    assert got["header"].status_code == 200 and got["bearer"].status_code == 200
    assert got["v2 none"].status_code == 401 and "error" in got["v2 none"].json()
    assert got["v2 key"].status_code == 200
    assert got["metrics none"].status_code == 401
    assert got["live"].status_code == 200 and got["ready"].status_code == 200
    schemes = got["openapi"].json()["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    with pytest.raises(InvalidInput, match="64 hex digits"):
        ServingConfig.build(api_key_hashes=["plaintext-key"])


def test_cors_is_off_by_default_and_can_be_enabled(yard_root, holdout) -> None:
    body = {"records": records(holdout.head(1))}
    origin = {"Origin": "https://loans.example"}

    async def calls(client):
        return await client.post("/v1/models/credit-risk/predict", json=body, headers=origin)

    with open_yard(yard_root) as yard:
        off = _run(create_app("credit-risk@champion", yard=yard, config=serving_config()), calls)
        on = _run(
            create_app(
                "credit-risk@champion",
                yard=yard,
                config=serving_config(cors_origins=["https://loans.example"]),
            ),
            calls,
        )
    assert off.status_code == 200 and "access-control-allow-origin" not in off.headers
    assert on.status_code == 200
    assert on.headers["access-control-allow-origin"] == "https://loans.example"
    assert on.headers["x-model-version"] == "1"


def test_metrics_expose_the_named_families(live, holdout) -> None:
    httpx.post(
        f"{live.url}/v1/models/credit-risk/predict", json={"records": records(holdout.head(2))}
    )
    httpx.post(
        f"{live.url}/v1/models/credit-risk/predict",
        content=b"{oops",
        headers={"content-type": "application/json"},
    )
    httpx.post(f"{live.url}/v1/models/credit-risk/predict", content=b"{oops")  # no media type
    text = httpx.get(f"{live.url}/metrics").text
    for family in (
        "modelyard_requests_total",
        "modelyard_request_latency_seconds_bucket",
        "modelyard_batch_size_rows_bucket",
        "modelyard_batch_size_requests_bucket",
        "modelyard_prediction_log_queue_rows",
        "modelyard_prediction_log_dropped_total",
        "modelyard_prediction_log_written_total",
        "modelyard_model_load_seconds",
        "modelyard_route_model_version",
        "modelyard_predicted_rows_total",
    ):
        assert family in text, family
    assert (
        'modelyard_requests_total{endpoint="credit-risk",model_version="1",protocol="plain",'
        'route="champion",status="200"}' in text
    )
    assert 'protocol="plain",route="-",status="400"' in text  # malformed JSON
    assert 'protocol="plain",route="-",status="415"' in text  # a body with no media type
    assert 'modelyard_model_load_seconds{model="credit-risk",model_version="1",scorer=' in text


def test_logs_are_json_lines_with_request_ids() -> None:
    record = logging.LogRecord(
        "modelyard.serving", logging.ERROR, __file__, 1, "failed %s", ("x",), None
    )
    record.request_id = "abc123"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed x" and line["request_id"] == "abc123"
    assert line["level"] == "error" and line["ts"].endswith("Z")
