"""Zero-downtime upgrades: moving an alias under steady load drops no request, the
responses switch version, and moving it back rolls back."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from serving_support import open_yard, records, serving_config, start_server

from modelyard.serving import create_app

LOAD_SECONDS = 20.0
CLIENTS = 8


@pytest.mark.slow
def test_alias_switch_and_back_under_load(fresh_yard_root, holdout, credit_models) -> None:
    rows = records(holdout.head(64))
    expected = {
        version: model.predict_proba(holdout.head(64))[:, 1].tolist()
        for version, model in zip((1, 2), credit_models, strict=True)
    }
    yard = open_yard(fresh_yard_root)
    app = create_app("credit-risk@champion", yard=yard, config=serving_config(poll_interval_s=0.2))
    server = start_server(app)
    mover = open_yard(fresh_yard_root)
    seen: list[tuple[float, int]] = []
    failures: list[str] = []
    moves: dict[str, float] = {}

    async def client(number: int, stop_at: float) -> None:
        url = f"{server.url}/v1/models/credit-risk/predict"
        async with httpx.AsyncClient(timeout=10) as http:
            i = number
            while time.monotonic() < stop_at:
                index = i % len(rows)
                i += CLIENTS
                try:
                    response = await http.post(url, json={"records": [rows[index]]})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                body = response.json()
                version = body["model_version"]
                if response.headers["x-model-version"] != str(version):
                    failures.append("header and body disagree")
                if body["predictions"][0]["score"] != expected[version][index]:
                    failures.append(f"wrong answer from version {version}")
                seen.append((time.monotonic(), version))

    def move_aliases(start: float) -> None:
        time.sleep(max(0.0, start + 5.0 - time.monotonic()))
        moves["to 2"] = time.monotonic()
        mover.models.set_alias("credit-risk", "champion", 2)
        time.sleep(max(0.0, start + 12.0 - time.monotonic()))
        moves["back to 1"] = time.monotonic()
        mover.models.set_alias("credit-risk", "champion", 1)

    async def scenario() -> None:
        start = time.monotonic()
        stop_at = start + LOAD_SECONDS
        await asyncio.gather(
            asyncio.to_thread(move_aliases, start),
            *(client(n, stop_at) for n in range(CLIENTS)),
        )

    try:
        asyncio.run(scenario())
    finally:
        server.stop()
        mover.close()
        yard.close()
    assert not failures, failures[:5]
    assert len(seen) > 1_000
    versions = [v for _, v in seen]
    assert set(versions) == {1, 2}
    first_two = next(t for t, v in seen if v == 2)
    last_two = max(t for t, v in seen if v == 2)
    assert moves["to 2"] <= first_two < moves["to 2"] + 5.0
    assert moves["back to 1"] <= last_two < moves["back to 1"] + 5.0
    assert versions[-1] == 1
    # One atomic swap: once requests in flight at the switch are answered (they finish on
    # the old version), nothing is answered by the old version again.
    after_up = [v for t, v in seen if first_two + 0.5 < t < moves["back to 1"]]
    assert set(after_up) == {2}
