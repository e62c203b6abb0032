"""Bad input never becomes a 500; a model that raises is a 500 with a request id, and the
server keeps serving."""

from __future__ import annotations

import logging

import httpx
from serving_support import records
from serving_testmodels import POISON_INCOME


def _predict(live, body, name="credit-risk", **kwargs):
    return httpx.post(f"{live.url}/v1/models/{name}/predict", json=body, **kwargs)


def test_signature_violation_is_422_naming_each_field_and_value(live, holdout) -> None:
    row = records(holdout.head(1))[0]
    row.update({"region": "Atlantis", "age": "forty", "income": None})
    response = _predict(live, {"records": [row]})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input" and body["request_id"]
    problems = {p["column"]: p for p in body["details"]}
    # The hard contract: a wrong type is refused, naming field and value.
    assert problems["age"]["values"] == ["forty"]
    assert "age" in body["message"] and "'forty'" in body["message"]
    # The soft domain: the unseen region is not a problem (the pipeline scores it).
    assert "region" not in problems
    unseen = {**records(holdout.head(1))[0], "region": "Atlantis"}
    response = _predict(live, {"records": [unseen]})
    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == [
        {
            "column": "region",
            "kind": "unseen_category",
            "value": "Atlantis",
            "rows": [0],
            "count": 1,
        }
    ]
    missing = dict(row)
    del missing["term"]
    missing["colour"] = "red"
    response = _predict(live, {"records": [records(holdout.head(1))[0], missing]})
    problems = {p["column"]: p["problem"] for p in response.json()["details"]}
    assert response.status_code == 422
    assert problems["colour"] == "unexpected column"


def test_structural_problems_are_422(live, holdout) -> None:
    for body, words in [
        ([1, 2], "JSON object"),
        ({"records": []}, "at least one row"),
        ({"records": [1]}, "records[0]"),
        ({"rows": []}, "unknown field"),
        ({"columns": ["age"], "data": [[1, 2]]}, "data[0]"),
    ]:
        response = _predict(live, body)
        assert response.status_code == 422, body
        assert words in response.json()["message"], (body, response.json())


def test_malformed_json_is_400(live) -> None:
    for content in (b"{not json", b"", b'{"records": [}'):
        response = httpx.post(
            f"{live.url}/v1/models/credit-risk/predict",
            content=content,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert response.json()["error"] == "bad_request"
    v2 = httpx.post(
        f"{live.url}/v2/models/credit-risk/infer",
        content=b"[[",
        headers={"Content-Type": "application/json"},
    )
    assert v2.status_code == 400 and isinstance(v2.json()["error"], str)


def test_body_over_limit_is_413(live, holdout) -> None:
    big = {"records": records(holdout.head(400))}  # well over the test server's 64 KiB
    response = _predict(live, big)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"

    def chunks():
        yield b'{"records": ['
        for _ in range(8_000):  # about 96 KiB, chunked: no Content-Length
            yield b'{"age": 40},'
        yield b"{}]}"

    streamed = httpx.post(
        f"{live.url}/v1/models/credit-risk/predict",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert streamed.status_code == 413


def test_unknown_model_is_404_everywhere(live, holdout) -> None:
    body = {"records": records(holdout.head(1))}
    response = _predict(live, body, name="no-such-model")
    assert response.status_code == 404
    assert "no-such-model" in response.json()["message"]
    v2 = httpx.post(f"{live.url}/v2/models/no-such-model/infer", json={"inputs": []})
    assert v2.status_code == 404 and "no-such-model" in v2.json()["error"]
    version = httpx.post(
        f"{live.url}/v2/models/credit-risk/versions/7/infer",
        json={"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": [40]}]},
    )
    assert version.status_code == 404


def test_model_that_raises_is_500_with_request_id_and_server_keeps_serving(
    live, holdout, caplog
) -> None:
    rows = records(holdout.head(3))
    rows[1]["income"] = POISON_INCOME
    with caplog.at_level(logging.ERROR, logger="modelyard.serving"):
        response = _predict(live, {"records": rows}, name="faulty")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "model_error" and body["request_id"]
    assert response.headers["x-request-id"] == body["request_id"]
    assert "666" not in body["message"]  # the client sees no internals...
    logged = [r for r in caplog.records if getattr(r, "request_id", None) == body["request_id"]]
    assert logged and "666" in logged[0].exc_text  # ...the log has them, under the request id
    healthy = _predict(live, {"records": records(holdout.head(3))}, name="faulty")
    assert healthy.status_code == 200
    assert _predict(live, {"records": records(holdout.head(1))}).status_code == 200


def test_mlflow_errors_carry_mlflow_error_codes(live, holdout) -> None:
    bad = httpx.post(f"{live.url}/invocations", json={"dataframe_records": [{"age": "x"}]})
    assert bad.status_code == 422
    assert bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    two = httpx.post(f"{live.url}/invocations", json={"instances": [], "inputs": {}})
    assert two.status_code == 422 and "exactly one" in two.json()["message"]
    xml = httpx.post(
        f"{live.url}/invocations", content=b"<a/>", headers={"Content-Type": "application/xml"}
    )
    assert xml.status_code == 415
