"""``create_app``: the ASGI app that serves registered model versions.

The app is a FastAPI application. The four POST routes that carry traffic
(``/v1/models/{name}/predict``, ``/v2/models/{name}[/versions/{v}]/infer``,
``/invocations``, ``/v1/feedback``) are raw ASGI handlers: the app's
``__call__`` dispatches them before FastAPI's router and middleware, and
they parse the body with orjson straight from the ASGI messages — no
``Request`` object, no pydantic, no pandas on the fast path. Everything
else (health, metadata, ``/metrics``, ``/docs``, ``/openapi.json``) is
ordinary FastAPI. With CORS on, the hot routes go through FastAPI's
middleware stack too (they are also registered as routes), trading a little
speed for the CORS headers.

Embedding: ``app = create_app("credit-risk@champion", yard=yard)``, then
mount it or serve it. Its lifespan starts the upgrade poller and the
prediction-log flusher and, on shutdown, flushes the log; an application
that mounts it (Starlette does not run a mounted app's lifespan) calls
``await app.state.runtime.astart()`` / ``await app.state.runtime.aclose()``.
"""

from __future__ import annotations

import gc
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI
from starlette.responses import Response
from starlette.routing import Route

from modelyard.errors import InvalidInput, NotFound
from modelyard.serving.config import ServingConfig
from modelyard.serving.deployment_spec import (
    DeploymentSpec,
    load_deployment_file,
    spec_for_ref,
)
from modelyard.serving.errors import (
    BadRequest,
    PayloadTooLarge,
    UnsupportedMedia,
    error_body,
    status_of,
)
from modelyard.serving.metrics import CONTENT_TYPE_LATEST, ServingMetrics
from modelyard.serving.openapi import build_openapi
from modelyard.serving.predlog import PredictionLog, make_sink, open_write_ahead_log
from modelyard.serving.protocols import mlflow as mlflow_protocol
from modelyard.serving.protocols import plain as plain_protocol
from modelyard.serving.protocols import v2 as v2_protocol
from modelyard.serving.routing import Endpoint
from modelyard.serving.security import ApiKeyAuth
from modelyard.serving.service import ServingCore, new_request_id
from modelyard.serving.threads import limit_native_threads
from modelyard.serving.upgrades import VersionManager

if TYPE_CHECKING:
    from modelyard.yard import Yard

__all__ = ["ServingApp", "ServingRuntime", "create_app", "resolve_targets"]

logger = logging.getLogger("modelyard.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_JSON = b"application/json"
_WANTED = frozenset(
    {
        b"content-length",
        b"content-type",
        b"x-request-id",
        b"x-entity-key",
        b"inference-header-content-length",
    }
)


class _ClientGone(Exception):
    """The client disconnected before its body arrived."""


async def _read_body(receive: Receive, limit: int, declared: bytes | None) -> bytes:
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise BadRequest("Content-Length is not a number") from None
        if size > limit:
            raise PayloadTooLarge(f"the body has {size} bytes; the limit is {limit}")
    message = await receive()
    if message["type"] == "http.disconnect":
        raise _ClientGone
    body = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        return body
    chunks = [body]
    total = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _loads(body: bytes) -> Any:
    if not body:
        raise BadRequest("the body is empty; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from exc


class ServingRuntime:
    """What the app serves, and the background work that keeps it current."""

    def __init__(
        self,
        core: ServingCore,
        manager: VersionManager,
        predlog: PredictionLog,
        yard: Yard,
        owns_yard: bool,
    ) -> None:
        self.core = core
        self.manager = manager
        self.predlog = predlog
        self.yard = yard
        self._owns_yard = owns_yard
        self.started = False

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        # The event loop scores on this thread: its OpenMP pool gets the limit too.
        limit_native_threads(self.core.config.native_threads)
        self.predlog.start()
        self.manager.start()
        # Everything loaded so far (frameworks, models) lives as long as the process: move it
        # out of the collector's reach, or each full collection walks millions of objects
        # and stalls every request in flight for tens of milliseconds. (No collection
        # first: on this heap it costs 0.2 s of start-up for little garbage.)
        if self.core.config.gc_freeze:
            gc.freeze()

    def close(self) -> None:
        """Stop polling and write every queued prediction record (idempotent)."""
        self.manager.stop()
        self.predlog.close()
        if self._owns_yard:
            self.yard.close()
        self.started = False

    async def astart(self) -> None:
        self.start()

    async def aclose(self) -> None:
        await self.core.drain_shadows()
        self.close()


class ServingApp(FastAPI):
    """FastAPI with the hot POST routes dispatched first, as raw ASGI handlers."""

    runtime: ServingRuntime

    def setup_serving(self, runtime: ServingRuntime, config: ServingConfig) -> None:
        self.runtime = runtime
        self.state.runtime = runtime
        self._core = runtime.core
        self._config = config
        self._metrics = runtime.core.metrics
        self._auth = ApiKeyAuth(config.api_key_hashes)
        self._limit = config.max_body_bytes
        self._sample = config.access_log_sample
        self._direct = not config.cors_origins
        self._openapi_key: Any = None

    # -- dispatch ---------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if self._direct and scope["method"] == "POST":
                hot = _match(path)
                if hot is not None:
                    await self._serve(hot[0], hot[1], path, scope, receive, send)
                    return
            if self._auth.enabled:
                try:
                    self._auth.check(scope["headers"], path)
                except Exception as exc:
                    request_id = new_request_id()
                    style = "v2" if path.startswith("/v2") else "plain"
                    await _send(
                        send, status_of(exc), orjson.dumps(error_body(exc, request_id, style)), []
                    )
                    return
        await super().__call__(scope, receive, send)

    async def _hot_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The same handlers behind FastAPI's router (when CORS is on)."""
        path = scope["path"]
        kind, params = _match(path) or ("", {})
        await self._serve(kind, params, path, scope, receive, send)

    async def _serve(
        self,
        kind: str,
        params: dict[str, str],
        path: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        started = time.perf_counter()
        wanted: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _WANTED:
                wanted[name] = value
        request_id = new_request_id(wanted.get(b"x-request-id"))
        style = "v2" if kind == "v2" else "mlflow" if kind == "mlflow" else "plain"
        # Labelled only with names that exist: a client's made-up names must not become
        # new metric series.
        endpoint_name, route, version, rows = "-", "-", "-", 0
        extra: list[tuple[bytes, bytes]] = []
        content_type = _JSON
        try:
            self._auth.check(scope["headers"], path)
            _check_media(kind, wanted)
            body = await _read_body(receive, self._limit, wanted.get(b"content-length"))
            if kind == "feedback":
                content, endpoint_name = self._feedback(body, params, request_id)
            else:
                endpoint = self._core.endpoint(params.get("name"))
                endpoint_name = endpoint.name
                entity_header = wanted.get(b"x-entity-key")
                entity = entity_header.decode("utf-8", "replace") if entity_header else None
                if kind == "plain":
                    data = _loads(body)
                    payload, body_entity, client_id = plain_protocol.parse(data)
                    answer = await self._core.predict(
                        endpoint,
                        payload,
                        request_id=request_id,
                        started=started,
                        entity=body_entity or entity,
                        client_id=client_id,
                        explain=plain_protocol.explain_of(data),
                    )
                    content = plain_protocol.render(answer, request_id)
                elif kind == "v2":
                    content, header_len, answer = await self._v2(
                        endpoint, body, wanted, params, request_id, started, entity
                    )
                    if header_len is not None:
                        content_type = b"application/octet-stream"
                        extra.append((b"inference-header-content-length", b"%d" % header_len))
                else:
                    payload = self._mlflow_payload(endpoint, body, wanted.get(b"content-type"))
                    answer = await self._core.predict(
                        endpoint, payload, request_id=request_id, started=started, entity=entity
                    )
                    content = mlflow_protocol.render(answer, endpoint.mlflow_output == "labels")
                route, version, rows = answer.route, answer.served.version_str, len(answer.outputs)
                extra.append((b"x-model-version", version.encode()))
                extra.append((b"x-model-name", answer.served.name.encode()))
                extra.append((b"x-route", route.encode()))
            status = 200
        except _ClientGone:
            return
        except Exception as exc:
            status = status_of(exc)
            content = orjson.dumps(error_body(exc, request_id, style))  # type: ignore[arg-type]
            content_type = _JSON
            extra = []
            self._log_failure(exc, status, request_id, endpoint_name, path)
        extra.append((b"x-request-id", request_id.encode()))
        await _send(send, status, content, extra, content_type)
        elapsed = time.perf_counter() - started
        self._metrics.observe_request(endpoint_name, route, version, kind, status, elapsed, rows)
        if status == 200 and self._sample and random.random() < self._sample:
            logger.info(
                "%s %s %d",
                scope["method"],
                path,
                status,
                extra={
                    "request_id": request_id,
                    "endpoint": endpoint_name,
                    "route": route,
                    "model_version": version,
                    "rows": rows,
                    "latency_ms": round(elapsed * 1000, 3),
                },
            )

    async def _v2(
        self,
        endpoint: Endpoint,
        body: bytes,
        wanted: dict[bytes, bytes],
        params: dict[str, str],
        request_id: str,
        started: float,
        entity: str | None,
    ) -> tuple[bytes, int | None, Any]:
        raw_length = wanted.get(b"inference-header-content-length")
        header_len = None
        if raw_length is not None:
            try:
                header_len = int(raw_length)
            except ValueError:
                raise BadRequest("Inference-Header-Content-Length is not a number") from None
        version = params.get("version")
        target = endpoint.route_for_version(version) if version else endpoint.primary()
        request = v2_protocol.parse(body, header_len, target.served().signature)
        answer = await self._core.predict(
            endpoint,
            request.payload,
            request_id=request_id,
            started=started,
            entity=request.entity or entity,
            version=version,
            client_id=request.client_id,
            explain=request.explain,
        )
        content, json_len = v2_protocol.render(answer, request, request_id)
        return content, json_len, answer

    def _mlflow_payload(self, endpoint: Endpoint, body: bytes, content_type: bytes | None) -> Any:
        kind = (content_type or b"").split(b";")[0].strip().lower()
        if kind == b"text/csv":
            return mlflow_protocol.parse_csv(body)
        signature = endpoint.primary().served().signature
        return mlflow_protocol.parse_json(_loads(body), signature)

    def _feedback(self, body: bytes, params: dict[str, str], request_id: str) -> tuple[bytes, str]:
        data = _loads(body)
        if type(data) is not dict or set(data) - {"labels", "endpoint"}:
            raise InvalidInput("the body must be {'labels': [...]} and optionally 'endpoint'")
        name = params.get("name") or data.get("endpoint")
        if "endpoint" in data and type(data["endpoint"]) is not str:
            raise InvalidInput("endpoint: must be a string (an endpoint's name)")
        if name is None and len(self._core.endpoints) > 1:
            raise InvalidInput("several endpoints are served here: name one in 'endpoint'")
        endpoint = self._core.endpoint(name)
        labels = data.get("labels")
        if not isinstance(labels, list) or not labels:
            raise InvalidInput("labels: must be a non-empty list")
        if len(labels) > self._config.max_rows:
            raise InvalidInput(f"labels: at most {self._config.max_rows} in one request")
        rows = []
        for i, item in enumerate(labels):
            rows.append(_feedback_row(item, i))
        accepted = self._core.predlog.feedback(endpoint.name, rows)
        content = orjson.dumps(
            {"accepted": accepted, "endpoint": endpoint.name, "request_id": request_id}
        )
        return content, endpoint.name

    def _log_failure(
        self, exc: BaseException, status: int, request_id: str, endpoint: str, path: str
    ) -> None:
        fields = {"request_id": request_id, "endpoint": endpoint, "path": path, "status": status}
        if status >= 500:
            cause = exc.__cause__ or exc
            logger.error(
                "request failed: %s",
                exc,
                extra=fields,
                exc_info=(type(cause), cause, cause.__traceback__),
            )
        else:
            logger.debug("request refused: %s", exc, extra=fields)

    # -- OpenAPI ----------------------------------------------------------------
    def openapi(self) -> dict[str, Any]:
        key = tuple(
            (e.name, e.primary().current.key if e.primary().current else None)
            for e in self._core.endpoints.values()
        )
        if self.openapi_schema is None or key != self._openapi_key:
            self.openapi_schema = build_openapi(
                self, self._core, title=self.title, version=self.version, auth=self._auth.enabled
            )
            self._openapi_key = key
        return self.openapi_schema


def _feedback_row(item: Any, i: int) -> dict[str, Any]:
    where = f"labels[{i}]"
    if type(item) is not dict:
        raise InvalidInput(f"{where}: must be an object")
    unknown = set(item) - {"request_id", "row", "entity", "label"}
    if unknown:
        raise InvalidInput(f"{where}: unknown field(s) {sorted(unknown)}")
    if "label" not in item or item["label"] is None:
        raise InvalidInput(f"{where}.label: is required")
    label = item["label"]
    if type(label) not in (str, int, float, bool):
        raise InvalidInput(f"{where}.label: must be a string, number or boolean")
    for key in ("request_id", "entity"):
        if key in item and type(item[key]) is not str:
            raise InvalidInput(f"{where}.{key}: must be a string")
    request_id, entity = item.get("request_id"), item.get("entity")
    if request_id is None and entity is None:
        raise InvalidInput(f"{where}: give 'request_id' (and 'row') or 'entity'")
    row = item.get("row", 0 if request_id is not None else None)
    if type(row) is float and row.is_integer():
        row = int(row)  # 3.0 is the integer 3 in JSON
    if "row" in item and (type(row) is not int or not 0 <= row < 2**63):
        raise InvalidInput(f"{where}.row: must be an integer >= 0")
    return {"request_id": request_id, "row": row, "entity": entity, "label": label}


# What each hot route reads. A body in another media type, or with none, gets 415: it is
# not parsed as JSON on a guess.
_MEDIA = {
    "plain": (b"application/json",),
    "feedback": (b"application/json",),
    "v2": (b"application/json",),
    "mlflow": (b"application/json", b"text/csv"),
}
# The Open Inference Protocol's binary extension is framed by Inference-Header-Content-Length;
# tritonclient sends such bodies with no Content-Type, as Triton accepts them.
_V2_BINARY = (b"application/octet-stream", b"application/json", b"")


def _check_media(kind: str, wanted: dict[bytes, bytes]) -> None:
    accepted = _MEDIA[kind]
    if kind == "v2" and b"inference-header-content-length" in wanted:
        accepted = _V2_BINARY
    media = (wanted.get(b"content-type") or b"").split(b";", 1)[0].strip().lower()
    if media not in accepted:
        given = media.decode("latin-1") if media else "no Content-Type"
        names = " or ".join(a.decode() for a in accepted)
        raise UnsupportedMedia(f"Content-Type: this route reads {names}; got {given}")


def _match(path: str) -> tuple[str, dict[str, str]] | None:
    if path == "/invocations":
        return "mlflow", {}
    if path == "/v1/feedback":
        return "feedback", {}
    parts = path.split("/")
    size = len(parts)
    if size == 5 and parts[2] == "models" and parts[3]:
        if parts[1] == "v1":
            if parts[4] == "predict":
                return "plain", {"name": parts[3]}
            if parts[4] == "invocations":
                return "mlflow", {"name": parts[3]}
            if parts[4] == "feedback":
                return "feedback", {"name": parts[3]}
        elif parts[1] == "v2" and parts[4] == "infer":
            return "v2", {"name": parts[3]}
    elif (
        size == 7
        and parts[1] == "v2"
        and parts[2] == "models"
        and parts[4] == "versions"
        and parts[6] == "infer"
        and parts[3]
        and parts[5]
    ):
        return "v2", {"name": parts[3], "version": parts[5]}
    return None


async def _send(
    send: Send,
    status: int,
    content: bytes,
    headers: list[tuple[bytes, bytes]],
    content_type: bytes = _JSON,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", b"%d" % len(content)),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


# ---------------------------------------------------------------- assembly


def resolve_targets(
    targets: str | DeploymentSpec | Sequence[str | DeploymentSpec], yard: Yard
) -> tuple[list[DeploymentSpec], dict[str, int]]:
    """Specs for what to serve: model references, deployment files or stored deployments.

    Returns the specs and, for stored deployments, their ``updated_at`` (so the
    server can follow later changes).
    """
    items = [targets] if isinstance(targets, str | DeploymentSpec) else list(targets)
    if not items:
        raise InvalidInput("nothing to serve: give a model reference, a deployment file or name")
    specs: list[DeploymentSpec] = []
    stored: dict[str, int] = {}
    for item in items:
        if isinstance(item, DeploymentSpec):
            specs.append(item)
            continue
        text = str(item).strip()
        path = Path(text)
        if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
            if not path.is_file():
                raise NotFound(f"deployment file {text!r} does not exist")
            specs.extend(load_deployment_file(path))
        elif "@" not in text and "/" not in text and yard.deployments.exists(text):
            record = yard.deployments.get(text)
            specs.append(record.spec)
            stored[record.name] = record.updated_at
        else:
            specs.append(spec_for_ref(text))
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInput(
            f"two endpoints named {repeated}: to serve several versions of one model "
            "behind one name, write a deployment file with several routes"
        )
    return specs, stored


def create_app(
    targets: str | DeploymentSpec | Sequence[str | DeploymentSpec],
    *,
    yard: Yard | None = None,
    config: ServingConfig | None = None,
    title: str = "Modelyard serving",
) -> ServingApp:
    """Build the ASGI app serving ``targets``; every model is loaded and warmed before it returns.

    Args:
        targets: ``"credit-risk@champion"``, several references (one endpoint
            per model name), a deployment file path, a stored deployment's
            name, or :class:`DeploymentSpec` objects.
        yard: The registry to load from (a local Yard, or a remote one the caller
            opened with ``modelyard.connect``); by default the configured local
            store (:func:`modelyard.yard.open_local`, closed again on shutdown).
        config: Server options; by default :meth:`ServingConfig.from_env`.

    Raises:
        InvalidInput, NotFound: A reference or deployment that does not resolve.
    """
    from modelyard import __version__

    owns_yard = yard is None
    if yard is None:
        from modelyard.yard import open_local

        yard = open_local()
    config = config or ServingConfig.from_env()
    limit_native_threads(config.native_threads)  # before any model loads or warms
    try:
        specs, stored = resolve_targets(targets, yard)
        metrics = ServingMetrics()
        endpoints = {spec.name: Endpoint(spec) for spec in specs}
        manager = VersionManager(yard, config, metrics, endpoints, stored)
        for endpoint in endpoints.values():
            manager.load_endpoint(endpoint)
        artifact_root = yard.settings.resolved_artifact_root
        # The log reaches an object store as the artifacts do: the same settings.
        options = yard.settings.storage_options
        sink = make_sink(config.prediction_log, artifact_root, options)
        wal = open_write_ahead_log(
            config.prediction_log, artifact_root, yard.settings.home, metrics, options
        )
        predlog = PredictionLog(sink, config.prediction_log, metrics, wal)
    except BaseException:
        if owns_yard:
            yard.close()
        raise
    core = ServingCore(endpoints, config, metrics, predlog, manager, specs[0].name)
    runtime = ServingRuntime(core, manager, predlog, yard, owns_yard)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.astart()
        try:
            yield
        finally:
            await runtime.aclose()

    app = ServingApp(title=title, version=__version__, lifespan=lifespan)
    app.setup_serving(runtime, config)
    _add_routes(app, runtime.core, __version__)
    if config.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["X-Request-Id", "X-Model-Version", "X-Route"],
        )
    return app


def _json(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _add_routes(app: ServingApp, core: ServingCore, version: str) -> None:
    hot_paths = [
        "/v1/models/{name}/predict",
        "/v1/models/{name}/invocations",
        "/v1/models/{name}/feedback",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
        "/invocations",
        "/v1/feedback",
    ]
    for path in hot_paths:
        app.router.routes.append(Route(path, endpoint=_HotRoute(app), methods=["POST"]))

    def v2_error(exc: Exception) -> Response:
        return _json(status_of(exc), error_body(exc, new_request_id(), "v2"))

    @app.get("/v2", tags=["v2"], summary="Server metadata")
    def server_metadata() -> Response:
        return _json(
            200,
            {"name": "modelyard", "version": version, "extensions": ["binary_tensor_data"]},
        )

    @app.get("/v2/health/live", tags=["health"], summary="The server is live")
    def live() -> Response:
        return _json(200, {"live": True})

    @app.get("/v2/health/ready", tags=["health"], summary="Every model is ready")
    def ready() -> Response:
        if core.ready():
            return _json(200, {"ready": True})
        return _json(400, {"ready": False, "error": "models are still loading"})

    def model_metadata(name: str, version: str | None) -> Response:
        try:
            endpoint = core.endpoint(name)
            target = endpoint.route_for_version(version) if version else endpoint.primary()
            served = target.served()
        except Exception as exc:
            return v2_error(exc)
        return _json(
            200,
            {
                "name": endpoint.name,
                "versions": endpoint.versions(),
                "platform": f"modelyard-{served.flavor}",
                "inputs": served.v2_inputs(),
                "outputs": served.v2_outputs(),
                "parameters": {
                    "model": served.name,
                    "version": served.version_str,
                    "route": target.name,
                    "scorer": served.scorer,
                },
            },
        )

    def model_ready(name: str, version: str | None) -> Response:
        try:
            endpoint = core.endpoint(name)
            if version:
                endpoint.route_for_version(version)
        except Exception as exc:
            return v2_error(exc)
        if endpoint.ready():
            return _json(200, {"name": endpoint.name, "ready": True})
        return _json(400, {"name": endpoint.name, "ready": False, "error": f"{name} is loading"})

    @app.get("/v2/models/{name}", tags=["v2"], summary="Model metadata")
    def metadata(name: str) -> Response:
        return model_metadata(name, None)

    @app.get("/v2/models/{name}/versions/{version}", tags=["v2"], summary="Version metadata")
    def version_metadata(name: str, version: str) -> Response:
        return model_metadata(name, version)

    @app.get("/v2/models/{name}/ready", tags=["v2"], summary="The model is ready")
    def ready_model(name: str) -> Response:
        return model_ready(name, None)

    @app.get("/v2/models/{name}/versions/{version}/ready", tags=["v2"], summary="Version ready")
    def ready_version(name: str, version: str) -> Response:
        return model_ready(name, version)

    @app.get("/v1/models", tags=["models"], summary="Served endpoints")
    def list_models() -> Response:
        return _json(200, {"models": [_describe(e) for e in core.endpoints.values()]})

    @app.get("/v1/models/{name}", tags=["models"], summary="One endpoint: routes and versions")
    def show_model(name: str) -> Response:
        try:
            endpoint = core.endpoint(name)
        except NotFound as exc:
            return _json(404, error_body(exc, new_request_id()))
        return _json(200, _describe(endpoint, full=True))

    @app.get("/metrics", tags=["health"], summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(core.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    # MLflow's scoring server answers these with 200; its clients read only the status.
    @app.get("/ping", tags=["health"], summary="MLflow-compatible health check")
    def ping() -> Response:
        return _json(200, {"status": "ok"})

    @app.get("/health", tags=["health"], summary="MLflow-compatible health check")
    def health() -> Response:
        return _json(200, {"status": "ok"})

    @app.get("/version", tags=["health"], summary="Server version")
    def server_version() -> Response:
        return _json(200, {"modelyard": version})


class _HotRoute:
    """ASGI endpoint handing a hot route back to the app's raw handler."""

    def __init__(self, app: ServingApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app._hot_route(scope, receive, send)


def _describe(endpoint: Endpoint, full: bool = False) -> dict[str, Any]:
    routes = []
    for target in endpoint.targets():
        served = target.current
        entry: dict[str, Any] = {
            "name": target.name,
            "model": target.ref,
            "weight": target.weight,
            "shadow": target.shadow,
            "serving": served.describe() if served is not None else None,
        }
        routes.append(entry)
    out: dict[str, Any] = {
        "name": endpoint.name,
        "ready": endpoint.ready(),
        "routes": routes,
        "sticky_key": endpoint.sticky_key,
    }
    if full:
        served = endpoint.primary().current
        out["spec"] = endpoint.spec.to_dict()
        if served is not None and served.signature is not None:
            out["signature"] = served.signature.to_dict()
        if served is not None and served.contract is not None:
            primary = endpoint.primary()
            contract = served.contract_for(primary.policy, primary.policy_key)
            out["input_policy"] = contract.describe() if contract is not None else None
    return out
