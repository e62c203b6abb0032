"""Concurrent requests are coalesced into one model call, with answers identical to
unbatched calls; a failing batch fails only the request that breaks the model."""

from __future__ import annotations

import asyncio
import re

import httpx
import numpy as np
from serving_support import records

from modelyard.serving.batching import MicroBatcher


def _batch_counts(live) -> tuple[float, float]:
    text = httpx.get(f"{live.url}/metrics").text
    pattern = (
        r'modelyard_batch_size_requests_(count|sum)\{model="credit-risk",model_version="1"\} (\S+)'
    )
    found = dict(re.findall(pattern, text))
    return float(found.get("count", 0)), float(found.get("sum", 0))


def test_concurrent_requests_share_model_calls_and_answers_equal_unbatched(
    live, holdout, credit_models
):
    rows = records(holdout.head(96))
    url = f"{live.url}/v1/models/credit-risk/predict"

    async def send_all() -> list[list[float]]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=48)) as client:

            async def one(row) -> list[float]:
                response = await client.post(url, json={"records": [row]})
                assert response.status_code == 200, response.text
                return [p["score"] for p in response.json()["predictions"]]

            return await asyncio.gather(*(one(r) for r in rows))

    sequential = []
    with httpx.Client() as client:
        for row in rows:
            body = client.post(url, json={"records": [row]}).json()
            sequential.append([p["score"] for p in body["predictions"]])
    calls_before, requests_before = _batch_counts(live)
    concurrent = asyncio.run(send_all())
    calls_after, requests_after = _batch_counts(live)
    assert requests_after - requests_before == len(rows)
    assert calls_after - calls_before < len(rows), "no two requests shared a model call"
    assert concurrent == sequential
    expected = credit_models[0].predict_proba(holdout.head(96))[:, 1]
    assert np.array_equal(np.array(concurrent).ravel(), expected)


class _Item:
    def __init__(self, n: int, bad: bool = False) -> None:
        self.n = n
        self.bad = bad


def test_failing_batch_fails_only_the_bad_request() -> None:
    calls: list[int] = []

    def score(items):
        calls.append(len(items))
        if any(i.bad for i in items):
            raise ValueError("boom")
        return np.arange(sum(i.n for i in items), dtype=float)

    async def run():
        batcher = MicroBatcher(score, max_batch_rows=100, max_wait_s=0.005)
        items = [_Item(2), _Item(1, bad=True), _Item(3)]
        return await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)

    first, second, third = asyncio.run(run())
    assert calls[0] == 3  # one batched call first, then each alone
    assert first.tolist() == [0.0, 1.0]
    assert isinstance(second, ValueError)
    assert third.tolist() == [0.0, 1.0, 2.0]


def test_batches_respect_max_rows_and_waits() -> None:
    sizes: list[int] = []

    def score(items):
        sizes.append(sum(i.n for i in items))
        return np.zeros(sum(i.n for i in items))

    async def run():
        batcher = MicroBatcher(score, max_batch_rows=10, max_wait_s=0.05)
        await asyncio.gather(*(batcher.submit(_Item(4)) for _ in range(5)))
        await batcher.submit(_Item(25))  # larger than a batch: scored alone at once

    asyncio.run(run())
    assert sizes == [8, 8, 4, 25]
