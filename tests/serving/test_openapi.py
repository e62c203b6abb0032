"""The plain API's OpenAPI comes from the signature, and schemathesis finds no 5xx and no
response that breaks the schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest


def test_openapi_schema_comes_from_the_signature(live) -> None:
    document = httpx.get(f"{live.url}/openapi.json").json()
    operation = document["paths"]["/v1/models/credit-risk/predict"]["post"]
    record = document["components"]["schemas"]["credit-risk.Record"]
    assert record["additionalProperties"] is False
    assert set(record["required"]) == set(record["properties"])
    # The pipeline scores regions unseen in training, so the schema lists none as required
    # values (an enum would make schemathesis expect a 4xx for a new region).
    assert "enum" not in record["properties"]["region"]
    assert "not seen in training" in record["properties"]["region"]["description"]
    item_warnings = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert item_warnings["properties"]["warnings"]["items"]["properties"]["kind"]["enum"] == [
        "unseen_category",
        "out_of_range",
        "null",
    ]
    # LightGBM scores a null (the registration probe showed it): null is allowed, flagged.
    assert record["properties"]["age"]["type"] == ["integer", "null"]
    assert record["properties"]["income"]["type"] == ["number", "null"]
    variants = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [v["title"] for v in variants] == ["records", "columns and data"]
    prediction = operation["responses"]["200"]["content"]["application/json"]["schema"]
    item = prediction["properties"]["predictions"]["items"]
    assert item["properties"]["label"] == {"enum": [0, 1]}
    assert {"400", "413", "422", "500"} <= set(operation["responses"])
    assert "/v1/models/faulty/predict" in document["paths"]
    docs = httpx.get(f"{live.url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_or_schema_violation(live, tmp_path) -> None:
    config = tmp_path / "schemathesis.toml"
    # 413 is the documented answer to a body over the byte limit, whatever its rows: a
    # valid rejection of an invalid request, and a valid answer to a huge valid one.
    config.write_text(
        "[checks.negative_data_rejection]\n"
        'expected-statuses = ["400", "404", "405", "413", "415", "422"]\n'
        "[checks.positive_data_acceptance]\n"
        'expected-statuses = ["200", "413"]\n'
    )
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{live.url}/openapi.json",
        "--include-path-regex",
        "^/v1/models/credit-risk/predict$",
        "--checks",
        "all",
        "--max-examples",
        "60",
        "--seed",
        "20261124",
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert "No issues found" in output or "passed" in output.lower(), output[-3000:]
