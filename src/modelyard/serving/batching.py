"""Adaptive micro-batching: concurrent requests for one model version share one predict call.

Each :class:`~modelyard.serving.models.ServedVersion` owns a batcher. A
request's prepared rows join the pending batch and the request awaits its
future. The batch is scored when it reaches ``max_batch_rows``, or — with
``max_wait_ms`` 0, the default — at the next turn of the event loop, after
every request that is already ready has joined; with ``max_wait_ms`` > 0 the
first request waits at most that long for company. Scoring runs on the event
loop thread: the fast paths take tens of microseconds, and while a slower
batch runs the next requests queue up and form the next, larger batch.

Results are split back by row offsets; a model's answer for a row does not
depend on the other rows of its batch, so batched and unbatched answers are
identical. If a batched call raises, each request is scored alone so that
only the request that breaks the model fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["MicroBatcher"]

ScoreFn = Callable[[Sequence[Any]], np.ndarray]
ObserveFn = Callable[[int, int], None]


class MicroBatcher:
    """Coalesces ``submit`` calls into calls of ``score`` over a list of prepared inputs.

    Args:
        score: Scores a list of prepared inputs (each with ``.n`` rows) in one call
            and returns one output row per input row, in order.
        max_batch_rows: A batch is scored as soon as it holds this many rows.
        max_wait_s: How long the first request may wait; 0 = the current loop turn.
        observe: Called with (rows, requests) of every model call.
    """

    def __init__(
        self,
        score: ScoreFn,
        *,
        max_batch_rows: int,
        max_wait_s: float,
        observe: ObserveFn | None = None,
        enabled: bool = True,
    ) -> None:
        self._score = score
        self._max_rows = max_batch_rows
        self._max_wait = max_wait_s
        self._observe = observe
        self.enabled = enabled
        self._items: list[Any] = []
        self._futures: list[asyncio.Future[np.ndarray]] = []
        self._rows = 0
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None

    async def submit(self, prepared: Any) -> np.ndarray:
        """The output rows for ``prepared``, scored alone or with concurrent requests."""
        if not self.enabled or prepared.n >= self._max_rows:
            return self._run_single(prepared)
        if self._rows + prepared.n > self._max_rows:
            self._flush()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._items.append(prepared)
        self._futures.append(future)
        self._rows += prepared.n
        if self._rows >= self._max_rows:
            self._flush()
        elif self._timer is None:
            if self._max_wait > 0:
                self._timer = loop.call_later(self._max_wait, self._flush)
            else:
                self._timer = loop.call_soon(self._flush)
        return await future

    def _run_single(self, prepared: Any) -> np.ndarray:
        out = self._score([prepared])
        if self._observe is not None:
            self._observe(prepared.n, 1)
        return out

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        items, futures = self._items, self._futures
        if not items:
            return
        self._items, self._futures, self._rows = [], [], 0
        try:
            out = self._score(items)
        except Exception as exc:
            if len(items) == 1:
                _fail(futures[0], exc)
                return
            self._score_each(items, futures)
            return
        if self._observe is not None:
            self._observe(len(out), len(items))
        start = 0
        for item, future in zip(items, futures, strict=True):
            stop = start + item.n
            if not future.done():  # a client that went away cancels its future
                future.set_result(out[start:stop])
            start = stop

    def _score_each(self, items: list[Any], futures: list[asyncio.Future[np.ndarray]]) -> None:
        for item, future in zip(items, futures, strict=True):
            try:
                out = self._score([item])
            except Exception as exc:
                _fail(future, exc)
                continue
            if self._observe is not None:
                self._observe(item.n, 1)
            if not future.done():
                future.set_result(out)


def _fail(future: asyncio.Future[np.ndarray], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
