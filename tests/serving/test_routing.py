"""Traffic management: canary weights, sticky entities, shadows that only reach the log,
and deployment files validated with errors that name the field."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from serving_support import open_yard, records, serving_config

from modelyard.errors import InvalidInput
from modelyard.serving import create_app, read_predictions
from modelyard.serving.deployment_spec import load_deployment_file, parse_deployment

CANARY = {
    "name": "credit",
    "routes": [
        {"name": "champion", "model": "credit-risk@champion", "weight": 90},
        {"name": "challenger", "model": "credit-risk@challenger", "weight": 10},
    ],
}


async def _post_many(app, bodies, *, concurrency=25, headers=None):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://serving") as client:
        out = []
        for start in range(0, len(bodies), concurrency):
            chunk = bodies[start : start + concurrency]
            out += await asyncio.gather(
                *(client.post("/v1/models/credit/predict", json=b, headers=headers) for b in chunk)
            )
        return out


@pytest.fixture
def serve_spec(yard_root, tmp_path):
    """Build an app for a spec; run a coroutine against it; flush its log at the end."""
    opened = []

    def run(spec, coroutine_factory, **config):
        yard = open_yard(yard_root)
        opened.append(yard)
        log_root = str(tmp_path / "log")
        app = create_app(
            parse_deployment(spec),
            yard=yard,
            config=serving_config(prediction_log={"root": log_root}, **config),
        )

        async def main():
            await app.runtime.astart()
            try:
                return await coroutine_factory(app)
            finally:
                await app.runtime.aclose()

        return asyncio.run(main()), log_root

    yield run
    for yard in opened:
        yard.close()


def test_canary_weights_within_three_points_over_10000_requests(serve_spec, holdout) -> None:
    rows = records(holdout.head(100))
    bodies = [{"records": [rows[i % 100]]} for i in range(10_000)]
    responses, _ = serve_spec(CANARY, lambda app: _post_many(app, bodies))
    assert all(r.status_code == 200 for r in responses)
    routes = Counter(r.json()["route"] for r in responses)
    assert abs(routes["champion"] / 10_000 - 0.90) <= 0.03, routes
    assert abs(routes["challenger"] / 10_000 - 0.10) <= 0.03, routes
    for r in responses[:500]:
        assert r.json()["model_version"] == (1 if r.json()["route"] == "champion" else 2)
        assert r.headers["x-route"] == r.json()["route"]


def test_sticky_routing_keeps_each_entity_on_its_route(serve_spec, holdout) -> None:
    spec = {
        **CANARY,
        "routes": [{**r, "weight": 50} for r in CANARY["routes"]],
        "sticky": {"key": "customer_id"},
    }
    row = records(holdout.head(1))[0]
    entities = [f"customer-{i}" for i in range(60)]
    bodies = [{"records": [row], "entity": e} for e in entities * 5]

    async def scenario(app):
        by_body = await _post_many(app, bodies)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://s") as client:
            by_header = [
                await client.post(
                    "/v1/models/credit/predict",
                    json={"records": [row]},
                    headers={"X-Entity-Key": e},
                )
                for e in entities
            ]
        return by_body, by_header

    (by_body, by_header), log_root = serve_spec(spec, scenario)
    routes: dict[str, set[str]] = {}
    for body, response in zip(bodies, by_body, strict=True):
        routes.setdefault(body["entity"], set()).add(response.json()["route"])
    assert all(len(r) == 1 for r in routes.values()), "an entity changed route"
    assert {next(iter(r)) for r in routes.values()} == {"champion", "challenger"}
    for entity, response in zip(entities, by_header, strict=True):
        assert {response.json()["route"]} == routes[entity]
    logged = read_predictions(log_root, "credit")
    assert set(logged["_entity"].to_pylist()) == set(entities)


def test_shadow_answers_are_logged_and_never_returned(serve_spec, holdout, credit_models) -> None:
    spec = {
        "name": "credit",
        "routes": [{"name": "champion", "model": "credit-risk@champion"}],
        "shadows": [{"name": "candidate", "model": "credit-risk/2"}],
    }
    frame = holdout.head(40)
    bodies = [{"records": records(frame.iloc[i : i + 2])} for i in range(0, 40, 2)]
    responses, log_root = serve_spec(spec, lambda app: _post_many(app, bodies, concurrency=5))
    for response in responses:
        body = response.json()
        assert body["route"] == "champion" and body["model_version"] == 1
        assert "candidate" not in response.text
    table = read_predictions(log_root, "credit").to_pandas()
    live = table[~table["_shadow"]]
    shadow = table[table["_shadow"]]
    assert len(live) == len(shadow) == 40
    assert set(shadow["_route"]) == {"candidate"} and set(shadow["_version"]) == {2}
    assert set(shadow["_request_id"]) == set(live["_request_id"])
    joined = live.merge(shadow, on=["_request_id", "_row"], suffixes=("", "_shadow"))
    assert (joined["income"] == joined["income_shadow"]).all()
    expected = dict(
        zip(
            frame["income"],
            credit_models[1].predict_proba(frame)[:, 1],
            strict=True,
        )
    )
    assert [expected[i] for i in shadow["income"]] == shadow["_score"].tolist()


def test_deployment_files_are_validated_with_field_paths(tmp_path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(
        "name: credit\n"
        "routes:\n"
        "  - {name: champion, model: credit-risk@champion, weight: 90}\n"
        "  - {name: challenger, model: credit-risk@challenger, weight: 120}\n"
        "shadows:\n"
        "  - {name: candidate, model: 'credit-risk/x', sampel: 0.5}\n"
    )
    with pytest.raises(InvalidInput) as err:
        load_deployment_file(path)
    message = err.value.message
    assert "routes[1].weight: must be between 0 and 100 (got 120)" in message
    assert "shadows[0].model:" in message and "shadows[0].sampel: unknown field" in message
    fields = {d["field"] for d in err.value.details}
    assert {"routes[1].weight", "shadows[0].model", "shadows[0].sampel"} <= fields
    path.write_text(
        "name: credit\nroutes:\n  - {name: a, model: m@a, weight: 60}\n"
        "  - {name: b, model: m@b, weight: 30}\n"
    )
    with pytest.raises(InvalidInput, match="weights must add up to 100 \\(got 90\\)"):
        load_deployment_file(path)
    path.write_text("name: credit\nroutes: [\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_deployment_file(path)
    path.write_text(
        "name: a\nroutes: [{name: x, model: m@x}]\n---\nname: b\nroutes: [{name: y, model: n/2}]\n"
    )
    assert [s.name for s in load_deployment_file(path)] == ["a", "b"]
