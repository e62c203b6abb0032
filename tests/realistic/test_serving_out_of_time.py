"""Serving the months after the regime change: every late row is scored as the native
pipeline scores it, and values training never saw are flagged, not refused.

The four pipelines are registered as a new user does, with ``example=x.head(5)``, and
served by a real uvicorn server over HTTP on the plain, V2 and MLflow protocols.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from realistic_pipelines import PIPELINES, split_xy

import modelyard
from modelyard.data.out_of_time import FEATURES
from modelyard.testing.asgi import start_server

CHUNK = 500


def _open_yard(root: Path, user: str = "alice") -> modelyard.Yard:
    return modelyard.connect(
        f"sqlite:///{root / 'yard.db'}",
        artifact_root=str(root / "artifacts"),
        user=user,
        home=str(root / "home"),
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _json_value(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, fitted_pipelines: dict, early: pd.DataFrame
) -> Iterator[str]:
    """A server for the four pipelines (``example=x.head(5)``), and two rejecting endpoints."""
    from modelyard.serving import ServingConfig, create_app
    from modelyard.serving.deployment_spec import parse_deployment

    root = tmp_path_factory.mktemp("oot-serving")
    x, _ = split_xy(early)
    yard = _open_yard(root)
    for name, model in fitted_pipelines.items():
        yard.models.register(name.replace("_", "-"), model, example=x.head(5))
    # Registration policy: this version refuses channels it has not seen.
    yard.models.register(
        "strict-channel",
        fitted_pipelines["ordinal_lightgbm"],
        example=x.head(5),
        input_policy={"columns": {"channel": {"unseen": "reject"}}},
    )
    strict_route = parse_deployment(
        {
            "name": "strict-route",
            "routes": [{"name": "main", "model": "onehot-logistic@latest"}],
            "input_policy": {"unseen": "reject"},
        }
    )
    config = ServingConfig.build(poll_interval_s=0, gc_freeze=False, max_rows=CHUNK)
    refs = [f"{name.replace('_', '-')}@latest" for name in PIPELINES]
    app = create_app([*refs, "strict-channel@latest", strict_route], yard=yard, config=config)
    with start_server(app, ws="none") as server:
        yield server.url
    yard.close()


def _native(model: Any, frame: pd.DataFrame) -> np.ndarray:
    return model.predict_proba(frame[list(FEATURES)])[:, 1]


@pytest.mark.parametrize("name", list(PIPELINES))
def test_every_late_row_is_scored_as_the_native_pipeline_scores_it(
    served: str, fitted_pipelines: dict, late: pd.DataFrame, name: str
) -> None:
    x, _ = split_xy(late)
    endpoint = name.replace("_", "-")
    scores: list[float] = []
    flagged: dict[tuple[str, str], int] = {}
    with httpx.Client(base_url=served, timeout=300) as client:
        for start in range(0, len(x), CHUNK):
            body = {"records": _records(x.iloc[start : start + CHUNK])}
            response = client.post(f"/v1/models/{endpoint}/predict", json=body)
            assert response.status_code == 200, response.text[:2000]
            answer = response.json()
            scores.extend(p["score"] for p in answer["predictions"])
            for warning in answer.get("warnings", []):
                key = (warning["column"], warning["kind"])
                flagged[key] = flagged.get(key, 0) + warning["count"]
    np.testing.assert_allclose(scores, _native(fitted_pipelines[name], x), rtol=0, atol=1e-12)
    # What training never saw was flagged: the new channel, new months, late nulls.
    assert flagged[("channel", "unseen_category")] > 0
    assert flagged[("application_month", "unseen_category")] > 0
    assert flagged[("employment_years", "null")] > 0


def _app_row(late: pd.DataFrame) -> pd.DataFrame:
    """One late application through the new 'app' channel, with no nulls."""
    rows = late[(late["channel"] == "app") & late[list(FEATURES)].notna().all(axis=1)]
    return rows[list(FEATURES)].head(1)


@pytest.mark.parametrize("name", list(PIPELINES))
def test_unseen_category_is_scored_and_flagged_on_every_protocol(
    served: str, fitted_pipelines: dict, late: pd.DataFrame, name: str
) -> None:
    row = _app_row(late)
    expected = float(_native(fitted_pipelines[name], row)[0])
    endpoint = name.replace("_", "-")
    record = _records(row)[0]
    columns = list(FEATURES)
    with httpx.Client(base_url=served, timeout=300) as client:
        plain = client.post(f"/v1/models/{endpoint}/predict", json={"records": [record]})
        v2 = client.post(
            f"/v2/models/{endpoint}/infer",
            json={
                "inputs": [
                    {
                        "name": c,
                        "shape": [1],
                        "datatype": "BYTES"
                        if isinstance(record[c], str)
                        else "INT64"
                        if isinstance(record[c], int)
                        else "FP64",
                        "data": [record[c]],
                    }
                    for c in columns
                ]
            },
        )
        mlflow = client.post(
            f"/v1/models/{endpoint}/invocations",
            json={"dataframe_split": {"columns": columns, "data": [[record[c] for c in columns]]}},
        )
        if name == next(iter(PIPELINES)):  # the first endpoint also answers /invocations
            root = client.post(
                "/invocations",
                json={"dataframe_records": [record]},
            )
            assert root.status_code == 200, root.text[:2000]
            assert root.json()["predictions"][0][1] == pytest.approx(expected, abs=1e-12)
            assert {
                "column": "channel",
                "kind": "unseen_category",
                "value": "app",
                "rows": [0],
                "count": 1,
            } in root.json()["warnings"]
    for response in (plain, v2, mlflow):
        assert response.status_code == 200, response.text[:2000]
    plain_body, v2_body, mlflow_body = plain.json(), v2.json(), mlflow.json()
    assert plain_body["predictions"][0]["score"] == pytest.approx(expected, abs=1e-12)
    probabilities = next(o for o in v2_body["outputs"] if o["name"] == "probabilities")
    assert probabilities["data"][1] == pytest.approx(expected, abs=1e-12)
    assert mlflow_body["predictions"][0][1] == pytest.approx(expected, abs=1e-12)
    for warnings in (
        plain_body["warnings"],
        v2_body["parameters"]["warnings"],
        mlflow_body["warnings"],
    ):
        assert {
            "column": "channel",
            "kind": "unseen_category",
            "value": "app",
            "rows": [0],
            "count": 1,
        } in warnings


def test_metrics_count_the_flagged_values(served: str, late: pd.DataFrame) -> None:
    record = _records(_app_row(late))[0]
    with httpx.Client(base_url=served, timeout=300) as client:
        before = _warning_count(client.get("/metrics").text, "ordinal-lightgbm", "channel")
        for _ in range(3):
            response = client.post(
                "/v1/models/ordinal-lightgbm/predict", json={"records": [record, record]}
            )
            assert response.status_code == 200
        after = _warning_count(client.get("/metrics").text, "ordinal-lightgbm", "channel")
    assert after - before == 6


def _warning_count(text: str, model: str, column: str) -> float:
    for line in text.splitlines():
        if (
            line.startswith("modelyard_input_warnings_total{")
            and f'model="{model}"' in line
            and f'column="{column}"' in line
            and 'kind="unseen_category"' in line
        ):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_wrong_type_is_still_422_naming_the_field(served: str, late: pd.DataFrame) -> None:
    record = {**_records(_app_row(late))[0], "bureau.score": "high"}
    with httpx.Client(base_url=served, timeout=300) as client:
        for name in PIPELINES:
            response = client.post(
                f"/v1/models/{name.replace('_', '-')}/predict", json={"records": [record]}
            )
            assert response.status_code == 422
            body = response.json()
            assert [d["column"] for d in body["details"]] == ["bureau.score"]
            assert body["details"][0]["values"] == ["high"]
            assert "bureau.score" in body["message"]


def test_policy_reject_is_422_naming_field_and_value(served: str, late: pd.DataFrame) -> None:
    record = _records(_app_row(late))[0]
    with httpx.Client(base_url=served, timeout=300) as client:
        # Set at registration, for one column.
        strict = client.post("/v1/models/strict-channel/predict", json={"records": [record]})
        # Set in the deployment, for every column.
        route = client.post("/v1/models/strict-route/predict", json={"records": [record]})
        described = client.get("/v1/models/strict-channel").json()
    for response in (strict, route):
        assert response.status_code == 422, response.text[:1000]
        details = {d["column"]: d for d in response.json()["details"]}
        assert details["channel"]["problem"] == "unseen categories"
        assert details["channel"]["values"] == ["app"]
    assert described["input_policy"]["columns"]["channel"]["unseen"] == "reject"
    assert described["input_policy"]["columns"]["postcode_area"]["unseen"] == "score"


def test_prediction_log_keeps_the_warnings_per_row(
    tmp_path: Path, fitted_pipelines: dict, early: pd.DataFrame, late: pd.DataFrame
) -> None:
    from modelyard.serving import ServingConfig, create_app
    from modelyard.serving.predlog import read_predictions

    x, _ = split_xy(early)
    yard = _open_yard(tmp_path)
    yard.models.register("hgb", fitted_pipelines["native_categorical_hgb"], example=x)
    log_root = str(tmp_path / "log")
    config = ServingConfig.build(
        poll_interval_s=0, gc_freeze=False, prediction_log={"root": log_root}
    )
    app = create_app("hgb@latest", yard=yard, config=config)
    server = start_server(app, ws="none")
    app_row = _records(_app_row(late))[0]
    in_domain = _records(early[list(FEATURES)].tail(1))[0]
    try:
        response = httpx.post(
            f"{server.url}/v1/models/hgb/predict",
            json={"records": [in_domain, app_row]},
            timeout=300,
        )
        assert response.status_code == 200
    finally:
        server.stop()  # the lifespan's shutdown flushes the log
        yard.close()
    logged = read_predictions(log_root, "hgb").to_pandas().sort_values("_row")
    assert logged["_warnings"].iloc[0] is None  # the whole training set is the domain here
    flags = json.loads(logged["_warnings"].iloc[1])
    assert {"column": "channel", "kind": "unseen_category"} in flags
    assert logged["channel"].tolist() == [in_domain["channel"], "app"]
