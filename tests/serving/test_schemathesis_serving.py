"""schemathesis over the whole serving app — every operation, every check, every phase
(examples, coverage, fuzzing, stateful) — finds no 5xx and no response off the schema.

Bounded for CI: a few examples per operation and one worker, about a minute on a
busy 2-core machine. The seed is fixed, so a failure here reproduces.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serving_support import open_yard, records, serving_config, start_server

from modelyard.serving import create_app

# 413 is the documented answer to a body over the byte limit, whatever its rows: a valid
# rejection of an invalid request, and a valid answer to a huge valid one.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = ["400", "404", "405", "413", "415", "422"]
[checks.positive_data_acceptance]
expected-statuses = ["200", "413"]
"""


@pytest.fixture(scope="module")
def serving(yard_root, tmp_path_factory):
    wal = tmp_path_factory.mktemp("fuzz-wal")
    yard = open_yard(yard_root)
    app = create_app(
        "credit-risk@champion",
        yard=yard,
        config=serving_config(
            max_body_bytes=64 * 1024,
            prediction_log={"root": str(wal / "log"), "wal_dir": str(wal / "wal")},
        ),
    )
    server = start_server(app)
    yield server
    server.stop()
    yard.close()


def run_schemathesis(url: str, tmp_path: Path, *extra: str) -> str:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "5",
        "--seed",
        "20261207",
        "--workers",
        "1",
        "--no-color",
        "--request-timeout",
        "60",
        *extra,
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    output = run.stdout + run.stderr
    failures = output[output.find("= FAILURES =") : output.find("= WARNINGS =")]
    assert run.returncode == 0, (failures or output)[:12000]
    return output


@pytest.mark.slow
def test_schemathesis_finds_nothing_on_the_serving_app(serving, tmp_path) -> None:
    output = run_schemathesis(serving.url, tmp_path)
    assert "No issues found" in output, output[-3000:]


# ---------------------------------------------------------------- the faults it found


def test_feedback_naming_an_endpoint_with_an_object_is_422(serving) -> None:
    response = httpx.post(
        f"{serving.url}/v1/feedback",
        json={"endpoint": {}, "labels": [{"entity": "e", "label": 1}]},
    )
    assert response.status_code == 422
    assert response.json()["message"].startswith("endpoint: must be a string")


def test_v2_datatype_of_the_wrong_type_is_422(serving, holdout) -> None:
    row = records(holdout.head(1))[0]
    inputs = [{"name": k, "shape": [1], "datatype": "FP64", "data": [v]} for k, v in row.items()]
    inputs[0]["datatype"] = {}
    response = httpx.post(f"{serving.url}/v2/models/credit-risk/infer", json={"inputs": inputs})
    assert response.status_code == 422
    assert "datatype: must be one of" in response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/credit-risk/predict",
        "/v2/models/credit-risk/infer",
        "/invocations",
        "/v1/feedback",
    ],
)
@pytest.mark.parametrize("content_type", ["text/plain", None, "application/xml"])
def test_a_body_in_another_media_type_or_none_is_415(serving, holdout, path, content_type) -> None:
    body = b'{"records": [], "inputs": [], "labels": []}'  # JSON, but not declared as such
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(f"{serving.url}{path}", content=body, headers=headers)
    assert response.status_code == 415, response.text
    text = response.text
    assert "Content-Type" in text and (content_type or "no Content-Type") in text


def test_health_answers_match_the_published_schema(serving) -> None:
    document = httpx.get(f"{serving.url}/openapi.json").json()
    for path, body in (
        ("/v2/health/live", {"live": True}),
        ("/v2/health/ready", {"ready": True}),
        ("/v2/models/credit-risk/ready", {"name": "credit-risk", "ready": True}),
        ("/ping", {"status": "ok"}),
        ("/health", {"status": "ok"}),
    ):
        response = httpx.get(f"{serving.url}{path}")
        assert response.status_code == 200 and response.json() == body, path
        assert response.headers["content-type"] == "application/json"
        template = path.replace("credit-risk", "{name}")
        documented = document["paths"][template]["get"]["responses"]["200"]["content"]
        assert set(documented) == {"application/json"}
        assert set(documented["application/json"]["schema"]["required"]) <= set(body)
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert set(metrics) == {"text/plain"}
    assert httpx.get(f"{serving.url}/metrics").headers["content-type"].startswith("text/plain")
    unknown = httpx.get(f"{serving.url}/v2/models/nope/ready")
    assert unknown.status_code == 404
    assert "404" in document["paths"]["/v2/models/{name}/ready"]["get"]["responses"]
