"""Reasons on request from a real uvicorn server: plain and V2 give the same reasons per row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from serving_support import LiveServer, open_yard, records, serving_config, start_server

from modelyard.data.synthetic import FEATURES
from modelyard.demo.credit_models import logistic_pipeline, split_xy
from modelyard.explain import Explainer, default_text, validate_table

TABLE = {
    "reasons": {
        c: {"code": f"C{i:02d}", "text": f"{c} counted against the application"}
        for i, c in enumerate(FEATURES)
        if c != "age"
    },
    "excluded": {"age": "protected attribute"},
}


@pytest.fixture(scope="module")
def explain_root(
    tmp_path_factory: pytest.TempPathFactory, credit_models: Any, train_frame: pd.DataFrame
) -> Path:
    from serving_testmodels import FaultyScorecard

    root = tmp_path_factory.mktemp("explain-yard")
    example = train_frame[list(FEATURES)].head(1000)
    x, y = split_xy(train_frame)
    with open_yard(root) as alice:
        alice.models.register("tabled", credit_models[0], example=example, reasons=TABLE)
        alice.models.register("untabled", logistic_pipeline().fit(x, y), example=example)
        alice.models.register(
            "opaque", FaultyScorecard(), example=example.head(100), trusted_code=True
        )
    return root


@pytest.fixture(scope="module")
def explain_server(explain_root: Path) -> Iterator[LiveServer]:
    from modelyard.serving import create_app

    yard = open_yard(explain_root)
    app = create_app(
        ["tabled@latest", "untabled@latest", "opaque@latest"], yard=yard, config=serving_config()
    )
    server = start_server(app)
    yield server
    server.stop()
    yard.close()


def _plain(server: LiveServer, name: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/models/{name}/predict", json=body, timeout=120)


def _v2_body(frame: pd.DataFrame, explain: Any) -> dict[str, Any]:
    inputs = []
    for column in FEATURES:
        values = frame[column].tolist()
        kind = frame[column].dtype.kind
        datatype = "BYTES" if kind == "O" else "INT64" if kind == "i" else "FP64"
        inputs.append({"name": column, "shape": [len(frame)], "datatype": datatype, "data": values})
    return {"inputs": inputs, "parameters": {"explain": explain}}


def test_plain_reasons_follow_the_table_and_match_the_contributions(
    explain_server: LiveServer, holdout: pd.DataFrame, credit_models: Any
) -> None:
    rows = holdout.head(25)
    response = _plain(explain_server, "tabled", {"records": records(rows), "explain": 3})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    contributions = Explainer(credit_models[0], list(FEATURES)).contributions(rows)
    table = validate_table(TABLE, list(FEATURES))
    for i, prediction in enumerate(predictions):
        reasons = prediction["reasons"]
        assert 1 <= len(reasons) <= 3
        for reason in reasons:
            assert reason["column"] != "age"
            assert reason["code"] == table.reasons[reason["column"]]["code"]
            assert reason["text"] == table.reasons[reason["column"]]["text"]
            j = FEATURES.index(reason["column"])
            assert reason["contribution"] == pytest.approx(contributions.values[i, j], abs=1e-12)
            assert reason["contribution"] > 0
        assert [r["contribution"] for r in reasons] == sorted(
            (r["contribution"] for r in reasons), reverse=True
        )
    # The score itself is unchanged by asking for reasons.
    plain = _plain(explain_server, "tabled", {"records": records(rows)}).json()["predictions"]
    assert [p["score"] for p in plain] == [p["score"] for p in predictions]
    assert all("reasons" not in p for p in plain)


def test_v2_gives_the_same_reasons_as_plain(
    explain_server: LiveServer, holdout: pd.DataFrame
) -> None:
    rows = holdout.iloc[100:120]
    plain = _plain(explain_server, "tabled", {"records": records(rows), "explain": 4}).json()
    response = httpx.post(
        f"{explain_server.url}/v2/models/tabled/infer", json=_v2_body(rows, 4), timeout=120
    )
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    assert outputs["reasons"]["datatype"] == "BYTES" and outputs["reasons"]["shape"] == [20]
    v2_reasons = [json.loads(text) for text in outputs["reasons"]["data"]]
    assert v2_reasons == [p["reasons"] for p in plain["predictions"]]
    # Asking for named outputs still returns the reasons that were asked for.
    body = {**_v2_body(rows, 2), "outputs": [{"name": "probabilities"}]}
    named = httpx.post(f"{explain_server.url}/v2/models/tabled/infer", json=body, timeout=120)
    assert [o["name"] for o in named.json()["outputs"]] == ["probabilities", "reasons"]


def test_without_a_table_columns_are_codes_with_a_plain_text(
    explain_server: LiveServer, holdout: pd.DataFrame
) -> None:
    rows = holdout.head(10)
    response = _plain(explain_server, "untabled", {"records": records(rows), "explain": 2})
    assert response.status_code == 200, response.text
    reasons = [r for p in response.json()["predictions"] for r in p["reasons"]]
    assert reasons
    for reason in reasons:
        assert reason["code"] == reason["column"]
        assert reason["text"] == default_text(reason["column"])
        value = rows[reason["column"]].tolist()
        assert reason["value"] in value or np.isnan(reason["value"] or 0.0)


@pytest.mark.parametrize("explain", ["3", -1, 21, True, 2.5, None])
def test_a_bad_explain_is_refused_naming_the_field(
    explain_server: LiveServer, holdout: pd.DataFrame, explain: Any
) -> None:
    body = {"records": records(holdout.head(2)), "explain": explain}
    response = _plain(explain_server, "tabled", body)
    assert response.status_code == 422 and "explain" in response.json()["message"]
    v2 = httpx.post(
        f"{explain_server.url}/v2/models/tabled/infer", json=_v2_body(holdout.head(2), explain)
    )
    assert v2.status_code == 422 and "parameters.explain" in v2.json()["error"]


def test_a_whole_float_explain_is_the_integer_it_equals(
    explain_server: LiveServer, holdout: pd.DataFrame
) -> None:
    """JSON Schema's ``integer`` (the OpenAPI document's type) includes 3.0."""
    body = {"records": records(holdout.head(2)), "explain": 2.0}
    response = _plain(explain_server, "tabled", body)
    assert response.status_code == 200, response.text
    assert all(len(p["reasons"]) <= 2 for p in response.json()["predictions"])


def test_a_model_that_cannot_be_explained_says_why(
    explain_server: LiveServer, holdout: pd.DataFrame
) -> None:
    rows = records(holdout.head(2))
    response = _plain(explain_server, "opaque", {"records": rows, "explain": 2})
    assert response.status_code == 422
    assert "cannot explain" in response.json()["message"]
    assert "FaultyScorecard" in response.json()["message"]
    assert _plain(explain_server, "opaque", {"records": rows}).status_code == 200


def test_explaining_beside_scoring_reports_the_first_failure(
    explain_server: LiveServer, holdout: pd.DataFrame
) -> None:
    """A many-row request whose scoring fails answers the scoring failure, and one
    whose explanation alone fails answers that. (This model is trusted code scored on
    a frame, explained after scoring; the compiled path's matrix is explained while
    it is scored, whose dropped failure the next test covers.)"""
    from serving_testmodels import POISON_INCOME

    rows = records(holdout.head(20))  # more rows than are explained inline
    poisoned = [dict(r) for r in rows]
    poisoned[7]["income"] = POISON_INCOME
    failed = _plain(explain_server, "opaque", {"records": poisoned, "explain": 3})
    assert failed.status_code == 500, failed.text
    assert "failed while scoring" in failed.json()["message"]
    unexplained = _plain(explain_server, "opaque", {"records": rows, "explain": 3})
    assert unexplained.status_code == 422
    assert "cannot explain" in unexplained.json()["message"]
    explained = _plain(explain_server, "tabled", {"records": rows, "explain": 3})
    assert explained.status_code == 200
    assert all(p["reasons"] for p in explained.json()["predictions"])


def test_an_explanation_nobody_awaits_is_not_reported_as_never_retrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When scoring fails first, the explanation's own failure is read and dropped;
    a plain task in its place is reported when collected (the check can fail)."""
    import asyncio
    import gc

    from modelyard.serving.service import _in_background

    async def explanation_that_fails() -> None:
        raise ValueError("cannot explain")

    async def started_and_dropped(start: Any) -> None:
        start(explanation_that_fails())
        await asyncio.sleep(0.01)

    def reported() -> list[str]:
        gc.collect()
        return [r.getMessage() for r in caplog.records if "never retrieved" in r.getMessage()]

    with caplog.at_level("ERROR", logger="asyncio"):
        asyncio.run(started_and_dropped(asyncio.ensure_future))
        assert reported(), "a dropped failed task should be reported"
        caplog.clear()
        asyncio.run(started_and_dropped(_in_background))
        assert reported() == []


def test_the_openapi_document_describes_explain(explain_server: LiveServer) -> None:
    document = httpx.get(f"{explain_server.url}/openapi.json").json()
    text = json.dumps(document)
    assert '"explain"' in text and '"reasons"' in text


@pytest.mark.parametrize("name", ["tabled", "untabled"])
def test_batch_gives_the_same_reasons_as_v2(
    explain_server: LiveServer, explain_root: Path, holdout: pd.DataFrame, name: str
) -> None:
    rows = holdout.iloc[200:260].reset_index(drop=True)
    source = explain_root / f"{name}-input.parquet"
    rows.to_parquet(source, index=False)
    with open_yard(explain_root) as yard:
        job = yard.batch.score(
            f"{name}@latest",
            str(source),
            str(explain_root / f"{name}-out"),
            workers=1,
            quiet=True,
            explain=3,
            form="native",
        )
    assert job.status == "FINISHED" and job.rows_out == len(rows)
    scored = pd.read_parquet(explain_root / f"{name}-out").reset_index(drop=True)
    response = httpx.post(
        f"{explain_server.url}/v2/models/{name}/infer", json=_v2_body(rows, 3), timeout=120
    )
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    served = [json.loads(text) for text in outputs["reasons"]["data"]]
    for i, reasons in enumerate(served):
        for rank in range(1, 4):
            got = scored.loc[i, f"reason_{rank}_code"]
            if rank > len(reasons):
                assert got is None
                continue
            want = reasons[rank - 1]
            assert got == want["code"]
            assert scored.loc[i, f"reason_{rank}_text"] == want["text"]
            assert scored.loc[i, f"reason_{rank}_column"] == want["column"]
            assert scored.loc[i, f"reason_{rank}_value"] == str(want["value"])
            assert scored.loc[i, f"reason_{rank}_contribution"] == pytest.approx(
                want["contribution"], abs=1e-12
            )


def test_batch_refuses_an_explain_it_cannot_give(explain_root: Path, holdout: pd.DataFrame) -> None:
    from modelyard.errors import InvalidInput

    source = explain_root / "opaque-input.parquet"
    holdout.head(5).to_parquet(source, index=False)
    with open_yard(explain_root) as yard:
        # Trusted code is loaded only where it is scored, so that is where it is refused.
        with pytest.raises(InvalidInput, match="explain: cannot explain FaultyScorecard"):
            yard.batch.score("opaque@latest", str(source), str(explain_root / "o"), explain=2)
        with pytest.raises(InvalidInput, match="explain: must be a whole number"):
            yard.batch.score("tabled@latest", str(source), str(explain_root / "o"), explain=-1)


def test_rows_the_contract_scores_with_warnings_are_explained_as_scored(
    explain_server: LiveServer, holdout: pd.DataFrame
) -> None:
    rows = records(holdout.head(3))
    rows[1]["region"] = None  # a null where training had none: scored with a warning
    rows[2]["region"] = "atlantis"  # a category training never saw
    plain = _plain(explain_server, "tabled", {"records": rows})
    explained = _plain(explain_server, "tabled", {"records": rows, "explain": 3})
    assert plain.status_code == 200, plain.text
    assert explained.status_code == 200, explained.text
    body = explained.json()
    assert {w["column"] for w in body["warnings"]} == {"region"}
    assert body["warnings"] == plain.json()["warnings"]
    assert [p["probabilities"] for p in body["predictions"]] == [
        p["probabilities"] for p in plain.json()["predictions"]
    ]
    assert all(0 < len(p["reasons"]) <= 3 for p in body["predictions"])


def test_a_matrix_is_never_trusted_for_rows_with_nulls(
    explain_root: Path, holdout: pd.DataFrame, credit_models: Any
) -> None:
    """The matrix check runs on the example's null-free rows: rows with nulls use the frame.

    A compiled encoder that imputed a null (here: the row's matrix as if the value
    were present) would otherwise be explained from, unchecked.
    """
    from modelyard.serving.explanations import _explain
    from modelyard.serving.inputs import Payload
    from modelyard.serving.models import MATRIX, Prepared, load_version

    rows = holdout.iloc[200:204][list(FEATURES)].copy()
    with open_yard(explain_root) as yard:
        served = load_version(yard, "tabled@latest", serving_config())
        assert served.fast is not None
        served.explain_source.explainer(served)
        assert served.explain_source.use_matrix(served)  # the null-free check passed
        imputed = served.fast.encode(Payload.from_columns({c: rows[c].tolist() for c in FEATURES}))
        assert imputed is not None
        rows["income"] = rows["income"].astype(float)
        rows.iloc[1, rows.columns.get_loc("income")] = np.nan
        columns = {c: rows[c].tolist() for c in FEATURES}
        columns["income"] = [None if np.isnan(v) else v for v in columns["income"]]
        payload = Payload.from_columns(columns)
        prepared = Prepared(MATRIX, imputed, len(rows))
        reasons = _explain(served, payload, 13, prepared, served.contract_for(None))
    contributions = Explainer(credit_models[0], list(FEATURES)).contributions(rows)
    for i, row in enumerate(reasons):
        assert row
        for reason in row:
            j = FEATURES.index(reason["column"])
            assert reason["contribution"] == pytest.approx(contributions.values[i, j], abs=1e-9)


def test_the_values_reasons_show_are_those_of_a_frame_of_the_rows() -> None:
    """Small explained requests skip building a frame: the values shown stay the same."""

    from modelyard.explain import top_reasons
    from modelyard.serving.explanations import _shown
    from modelyard.serving.inputs import Payload

    records = [
        {"whole": 1, "mixed": 1, "text": "a", "flag": True, "big": 3},
        {"whole": 2, "mixed": 2.5, "text": "b", "flag": False, "big": 4.0},
    ]
    payload = Payload.from_records(records)
    columns = list(records[0])
    values = np.ones((2, len(columns)))
    shown = top_reasons(values, columns, _shown(payload), None, len(columns))
    framed = top_reasons(values, columns, pd.DataFrame(payload.as_columns()), None, 5)
    assert shown == framed
    as_json = [[(r["value"], type(r["value"])) for r in row] for row in shown]
    assert as_json == [[(r["value"], type(r["value"])) for r in row] for row in framed]
    assert shown[0][1]["value"] == 1.0 and type(shown[0][1]["value"]) is float
