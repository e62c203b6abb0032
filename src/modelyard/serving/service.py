"""The protocol-independent core: route, check, batch, score, shadow, log.

Every protocol calls :meth:`ServingCore.predict` with a decoded
:class:`~modelyard.serving.inputs.Payload`; this is the one place where a
request meets routing, the micro-batcher, shadows and the prediction log.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import re
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.errors import InvalidInput, NotFound
from modelyard.serving.explanations import explains_inline, reasons_for
from modelyard.serving.inputs import COLUMNS, RECORDS, ROWS, Payload
from modelyard.serving.models import MATRIX

if TYPE_CHECKING:
    from modelyard.serving.config import ServingConfig
    from modelyard.serving.metrics import ServingMetrics
    from modelyard.serving.models import Prepared, ServedVersion
    from modelyard.serving.predlog import PredictionLog
    from modelyard.serving.routing import Endpoint, RouteTarget
    from modelyard.serving.upgrades import VersionManager

__all__ = ["Answer", "ServingCore", "new_request_id"]

logger = logging.getLogger("modelyard.serving")

_ID_PREFIX = os.urandom(4).hex()
_ID_COUNTER = itertools.count(1)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_request_id(given: bytes | str | None = None) -> str:
    """The client's ``X-Request-Id`` when it is sane, else a process-unique id."""
    if given:
        text = given.decode("latin-1") if isinstance(given, bytes) else given
        if _CLIENT_ID.match(text):
            return text
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


class Answer:
    """The scored rows of one request and who scored them."""

    __slots__ = ("client_id", "endpoint", "outputs", "reasons", "route", "served", "warnings")

    def __init__(
        self,
        endpoint: str,
        route: str,
        served: ServedVersion,
        outputs: np.ndarray,
        client_id: str | None = None,
        warnings: list[dict[str, Any]] | None = None,
        reasons: list[list[dict[str, Any]]] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.route = route
        self.served = served
        self.outputs = outputs
        self.client_id = client_id
        self.warnings = warnings
        self.reasons = reasons  # per row, when the request asked for explanations


class ServingCore:
    """Endpoints by name, and the request path shared by every protocol."""

    def __init__(
        self,
        endpoints: dict[str, Endpoint],
        config: ServingConfig,
        metrics: ServingMetrics,
        predlog: PredictionLog,
        manager: VersionManager,
        default_endpoint: str | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.config = config
        self.metrics = metrics
        self.predlog = predlog
        self.manager = manager
        self.default_endpoint = default_endpoint or next(iter(endpoints), None)
        self._shadow_backlog = 0
        self._shadow_tasks: set[asyncio.Task[None]] = set()

    def endpoint(self, name: str | None) -> Endpoint:
        if name is None:
            name = self.default_endpoint
        endpoint = self.endpoints.get(name) if name is not None else None
        if endpoint is None:
            known = ", ".join(sorted(self.endpoints)) or "none"
            raise NotFound(f"no model or endpoint named {name!r} is served here (served: {known})")
        return endpoint

    def ready(self) -> bool:
        return all(e.ready() for e in self.endpoints.values())

    async def predict(
        self,
        endpoint: Endpoint,
        payload: Payload,
        *,
        request_id: str,
        started: float,
        entity: str | None = None,
        version: str | None = None,
        client_id: str | None = None,
        explain: int = 0,
    ) -> Answer:
        """Score ``payload`` on the endpoint's chosen route; log it; copy it to shadows.

        With ``explain`` > 0 the answer carries each row's top adverse reasons.

        Raises:
            InvalidInput: The rows break the signature or the row limit (422).
            ModelFailure: The model raised (500).
            NotFound / NotReady: Unknown version, or nothing loaded yet.
        """
        if payload.n > self.config.max_rows:
            raise InvalidInput(
                f"{payload.n} rows in one request; the limit is {self.config.max_rows}"
            )
        if entity is None and endpoint.sticky_key is not None:
            entity = entity_of(payload, endpoint.sticky_key)
        route = endpoint.choose(entity) if version is None else endpoint.route_for_version(version)
        served = route.served()
        contract = served.contract_for(route.policy, route.policy_key)
        prepared = served.prepare(payload, contract)
        warnings = prepared.warnings
        if warnings:
            self.metrics.count_warnings(served.name, served.version_str, warnings.totals)
        # The reasons need the rows as prepared, not the scores: on a many-row request
        # they are worked out (in a worker thread) while the rows are scored and logged.
        # Only for the compiled path's matrix, which scoring only reads: a native model
        # gets the frame itself, and trusted code may change its input in place.
        explaining = None
        if explain and prepared.kind == MATRIX and not explains_inline(served, payload):
            explaining = _in_background(reasons_for(served, payload, explain, prepared, contract))
            await asyncio.sleep(0)  # let it hand its work to the thread before scoring starts
        try:
            outputs = await _score(served, prepared)
            if self.predlog.enabled:
                self._log(endpoint.name, route.name, False, served, request_id, started,
                          payload, outputs, entity, prepared)  # fmt: skip
            if endpoint.shadows:
                self._copy_to_shadows(endpoint, payload, request_id, entity)
        except BaseException:
            if explaining is not None:
                # The request's answer is the failure; the thread's work cannot be
                # interrupted and its result (or failure) is dropped when it ends.
                explaining.cancel()
            raise
        if explaining is not None:
            reasons = await explaining
        elif explain:
            reasons = await reasons_for(served, payload, explain, prepared, contract)
        else:
            reasons = None
        return Answer(endpoint.name, route.name, served, outputs, client_id, warnings, reasons)

    def _log(
        self, endpoint: str, route: str, shadow: bool, served: ServedVersion, request_id: str,
        started: float, payload: Payload, outputs: Any, entity: str | None, prepared: Prepared,
    ) -> None:  # fmt: skip
        """One prediction-log record of a live or shadow answer."""
        self.predlog.log(
            endpoint,
            route,
            shadow,
            served,
            request_id,
            int(time.time() * 1000),
            (time.perf_counter() - started) * 1000.0,
            payload,
            outputs,
            entity,
            prepared.data if prepared.kind == MATRIX else None,
            prepared.warnings,
            prepared.columns,
        )

    # -- shadows --------------------------------------------------------------
    def _copy_to_shadows(
        self, endpoint: Endpoint, payload: Payload, request_id: str, entity: str | None
    ) -> None:
        for shadow in endpoint.shadows:
            if shadow.sample < 1.0 and random.random() >= shadow.sample:
                continue
            if self._shadow_backlog >= self.config.max_shadow_backlog:
                self.metrics.shadow_skipped.labels(endpoint.name, shadow.name).inc()
                continue
            self._shadow_backlog += 1
            task = asyncio.get_running_loop().create_task(
                self._shadow(endpoint.name, shadow, payload, request_id, entity)
            )
            self._shadow_tasks.add(task)
            task.add_done_callback(self._shadow_tasks.discard)

    async def _shadow(
        self,
        endpoint: str,
        shadow: RouteTarget,
        payload: Payload,
        request_id: str,
        entity: str | None,
    ) -> None:
        started = time.perf_counter()
        try:
            served = shadow.served()
            prepared = served.prepare(
                payload, served.contract_for(shadow.policy, shadow.policy_key)
            )
            outputs = await _score(served, prepared)
            self._log(endpoint, shadow.name, True, served, request_id, started, payload,
                      outputs, entity, prepared)  # fmt: skip
            self.metrics.count_rows(endpoint, shadow.name, True, payload.n)
        except Exception as exc:  # a shadow never affects the live answer
            logger.warning(
                "shadow %s of %s failed: %s",
                shadow.name,
                endpoint,
                exc,
                extra={"endpoint": endpoint, "route": shadow.name, "request_id": request_id},
            )
        finally:
            self._shadow_backlog -= 1

    async def drain_shadows(self, timeout: float = 10.0) -> None:
        if self._shadow_tasks:
            await asyncio.wait(set(self._shadow_tasks), timeout=timeout)


async def _score(served: ServedVersion, prepared: Prepared) -> Any:
    """The rows' outputs: through the version's micro-batcher when it has one."""
    batcher = served.batcher
    return await batcher.submit(prepared) if batcher is not None else served.score([prepared])


def _in_background(work: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
    """``work`` started now; its failure is read even when nobody awaits it (the
    request failed first), so that it is not reported as never retrieved."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(_read_failure)
    return task


def _read_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def entity_of(payload: Payload, key: str) -> str | None:
    """The sticky key's value in the request's first row, if the rows carry it."""
    try:
        if payload.kind == RECORDS:
            value = payload.data[0].get(key)
        elif payload.kind == ROWS:
            names = payload.names or []
            value = payload.data[0][names.index(key)] if key in names else None
        elif payload.kind == COLUMNS:
            column = payload.data.get(key)
            value = column[0] if column is not None else None
        else:
            value = None
    except (IndexError, AttributeError, TypeError):
        return None
    return None if value is None else str(_plain(value))


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
