"""The three protocols against a real uvicorn server give the model's own answers."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from serving_support import records

from modelyard.data.synthetic import FEATURES

NUMERIC_INT = ("age", "term", "num_open_accounts", "delinquencies_2y")
CATEGORICAL = ("home_ownership", "region", "loan_purpose")


def _v2_type(column: str) -> str:
    if column in CATEGORICAL:
        return "BYTES"
    return "INT64" if column in NUMERIC_INT else "FP64"


@pytest.fixture(scope="module")
def expected(credit_models, holdout) -> np.ndarray:
    return credit_models[0].predict_proba(holdout.head(100))


def test_plain_records_give_exact_probabilities(live, holdout, expected) -> None:
    response = httpx.post(
        f"{live.url}/v1/models/credit-risk/predict", json={"records": records(holdout.head(100))}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "credit-risk" and body["model_version"] == 1
    assert body["route"] == "champion"
    assert response.headers["x-model-version"] == "1"
    assert response.headers["x-request-id"] == body["request_id"]
    got = np.array(
        [[p["probabilities"]["0"], p["probabilities"]["1"]] for p in body["predictions"]]
    )
    assert np.array_equal(got, expected)
    assert [p["score"] for p in body["predictions"]] == expected[:, 1].tolist()
    assert [p["label"] for p in body["predictions"]] == expected.argmax(axis=1).tolist()


def test_plain_columns_and_client_ids(live, holdout, expected) -> None:
    frame = holdout.head(100)
    response = httpx.post(
        f"{live.url}/v1/models/credit-risk/predict",
        json={"columns": list(FEATURES), "data": frame.values.tolist(), "id": "batch-7"},
        headers={"X-Request-Id": "client-42"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "batch-7" and body["request_id"] == "client-42"
    assert [p["score"] for p in body["predictions"]] == expected[:, 1].tolist()
    shuffled = list(reversed(FEATURES))
    response = httpx.post(
        f"{live.url}/v1/models/credit-risk/predict",
        json={"columns": shuffled, "data": frame[shuffled].values.tolist()},
    )
    assert [p["score"] for p in response.json()["predictions"]] == expected[:, 1].tolist()


def test_mlflow_formats_equal_the_plain_api(live, holdout, expected) -> None:
    frame = holdout.head(100)
    plain = httpx.post(
        f"{live.url}/v1/models/credit-risk/predict", json={"records": records(frame)}
    ).json()
    plain_rows = [[p["probabilities"]["0"], p["probabilities"]["1"]] for p in plain["predictions"]]
    split = frame.to_dict(orient="split")
    bodies = {
        "dataframe_split": {
            "dataframe_split": {"columns": split["columns"], "data": split["data"]}
        },
        "dataframe_records": {"dataframe_records": records(frame)},
        "instances": {"instances": records(frame)},
        "inputs (columns)": {"inputs": {c: frame[c].tolist() for c in FEATURES}},
        "inputs (rows)": {"inputs": frame.values.tolist(), "params": {}},
    }
    for name, body in bodies.items():
        response = httpx.post(f"{live.url}/invocations", json=body)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["predictions"] == plain_rows, name
        assert response.headers["x-model-version"] == "1"
    csv = httpx.post(
        f"{live.url}/invocations",
        content=frame.to_csv(index=False).encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert csv.status_code == 200, csv.text
    assert np.allclose(csv.json()["predictions"], expected, rtol=0, atol=1e-12)
    assert httpx.get(f"{live.url}/ping").status_code == 200


def test_v2_json_tensor_per_column_and_2d(live, holdout, expected) -> None:
    frame = holdout.head(100)
    body = {
        "id": "req-1",
        "inputs": [
            {"name": c, "shape": [100, 1], "datatype": _v2_type(c), "data": frame[c].tolist()}
            for c in FEATURES
        ],
    }
    response = httpx.post(f"{live.url}/v2/models/credit-risk/infer", json=body)
    assert response.status_code == 200, response.text
    out = response.json()
    assert out["model_name"] == "credit-risk" and out["model_version"] == "1"
    assert out["id"] == "req-1"
    tensors = {t["name"]: t for t in out["outputs"]}
    assert tensors["probabilities"]["shape"] == [100, 2]
    assert np.array_equal(np.array(tensors["probabilities"]["data"]).reshape(100, 2), expected)
    assert tensors["label"]["datatype"] == "INT64"
    matrix = {
        "inputs": [
            {
                "name": "input-0",
                "shape": [100, len(FEATURES)],
                "datatype": "BYTES",
                "data": [[str(v) for v in row] for row in frame.values.tolist()],
            }
        ],
        "outputs": [{"name": "probabilities"}],
    }
    response = httpx.post(f"{live.url}/v2/models/credit-risk/versions/1/infer", json=matrix)
    assert response.status_code == 200, response.text
    (probabilities,) = response.json()["outputs"]
    assert np.array_equal(np.array(probabilities["data"]).reshape(100, 2), expected)


def test_v2_health_and_metadata(live) -> None:
    assert httpx.get(f"{live.url}/v2/health/live").status_code == 200
    assert httpx.get(f"{live.url}/v2/health/ready").status_code == 200
    assert httpx.get(f"{live.url}/v2/models/credit-risk/ready").status_code == 200
    assert httpx.get(f"{live.url}/v2/models/credit-risk/versions/1/ready").status_code == 200
    missing = httpx.get(f"{live.url}/v2/models/credit-risk/versions/9/ready")
    assert missing.status_code == 404 and "version '9'" in missing.json()["error"]
    server = httpx.get(f"{live.url}/v2").json()
    assert server["name"] == "modelyard" and "binary_tensor_data" in server["extensions"]
    meta = httpx.get(f"{live.url}/v2/models/credit-risk").json()
    assert meta["name"] == "credit-risk" and meta["versions"] == ["1"]
    inputs = {t["name"]: t for t in meta["inputs"]}
    assert inputs["region"] == {"name": "region", "datatype": "BYTES", "shape": [-1]}
    assert inputs["age"]["datatype"] == "INT64" and inputs["income"]["datatype"] == "FP64"
    assert [o["name"] for o in meta["outputs"]] == ["label", "probabilities"]
    assert meta["parameters"]["scorer"] == "lightgbm-compiled"
    unknown = httpx.get(f"{live.url}/v2/models/nope")
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]


def test_tritonclient_gets_correct_probabilities(live, holdout, expected) -> None:
    import tritonclient.http as triton

    frame = holdout.head(100)
    client = triton.InferenceServerClient(url=f"127.0.0.1:{live.port}")
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("credit-risk")
        metadata = client.get_model_metadata("credit-risk")
        inputs = []
        for spec in metadata["inputs"]:
            column = spec["name"]
            values = frame[column].to_numpy()
            if spec["datatype"] == "BYTES":
                values = values.astype(object)
            elif spec["datatype"] == "INT64":
                values = values.astype(np.int64)
            tensor = triton.InferInput(column, [len(frame)], spec["datatype"])
            tensor.set_data_from_numpy(values)  # binary tensor extension, tritonclient's default
            inputs.append(tensor)
        result = client.infer("credit-risk", inputs)
        assert np.array_equal(result.as_numpy("probabilities"), expected)
        assert result.as_numpy("label").tolist() == expected.argmax(axis=1).tolist()
        assert result.get_response()["model_version"] == "1"
        as_json = client.infer(
            "credit-risk",
            inputs,
            outputs=[triton.InferRequestedOutput("probabilities", binary_data=False)],
        )
        assert np.array_equal(as_json.as_numpy("probabilities"), expected)
    finally:
        client.close()


def test_dataframe_split_names_its_own_columns_for_a_model_without_a_signature() -> None:
    from modelyard.serving.protocols.mlflow import parse_json

    body = {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, 4.0]]}}
    payload = parse_json(body, None)
    assert payload.names == ["a", "b"] and payload.n == 2
