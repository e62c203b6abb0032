"""Running the app under uvicorn (uvloop, httptools, no access log), with one or more workers.

With ``workers > 1`` uvicorn starts worker processes that each import
:func:`worker_app`; the targets and options travel in environment variables
(``MODELYARD_SERVING_TARGETS``, ``MODELYARD_SERVING_CONFIG``), and each worker
loads the models itself. Prediction logs from several workers go to distinct
Parquet files, or to one Redis stream.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.errors import InvalidInput
from modelyard.serving.app import ServingApp, create_app
from modelyard.serving.config import ServingConfig
from modelyard.serving.deployment_spec import DeploymentSpec, parse_deployment
from modelyard.serving.logs import configure_json_logging

if TYPE_CHECKING:
    from modelyard.yard import Yard

__all__ = ["serve", "worker_app"]

TARGETS_ENV = "MODELYARD_SERVING_TARGETS"
LOG_LEVEL_ENV = "MODELYARD_SERVING_LOG_LEVEL"


def _uvicorn_options(host: str, port: int, log_level: str) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "ws": "none",
        "access_log": False,
        "log_config": None,
        "log_level": log_level,
        "lifespan": "on",
        "timeout_graceful_shutdown": 30,
        "server_header": False,
    }


def _tune_process() -> None:
    """Process-wide settings for a dedicated server (not applied when the app is embedded).

    A background thread (the prediction-log flusher, the registry poller) holding the
    GIL makes the event loop wait up to the switch interval: 1 ms instead of 5 keeps
    those waits out of the latency tail. Request handling allocates many short-lived
    containers; a larger first-generation threshold means fewer collections, each of
    which also walks the queued prediction records.
    """
    import gc
    import sys

    sys.setswitchinterval(0.001)
    gc.set_threshold(20_000, 50, 100)


def serve(
    targets: Sequence[str | DeploymentSpec],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    workers: int = 1,
    config: ServingConfig | None = None,
    log_level: str = "info",
    yard: Yard | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; then finish in-flight requests and flush the prediction log."""
    import uvicorn

    if workers > 1 and yard is None:
        _refuse_remote_store()
    if workers > 1:
        worker_healthcheck_s()  # a bad value is said before any worker starts
    configure_json_logging(log_level)
    config = config or ServingConfig.from_env()
    _tune_process()
    if workers <= 1:
        app = create_app(list(targets), yard=yard, config=config)
        uvicorn.run(app, **_uvicorn_options(host, port, log_level))
        return
    os.environ[TARGETS_ENV] = orjson.dumps(
        [t.to_dict() if isinstance(t, DeploymentSpec) else t for t in targets]
    ).decode()
    os.environ["MODELYARD_SERVING_CONFIG"] = config.to_json()
    os.environ[LOG_LEVEL_ENV] = log_level
    uvicorn.run(
        "modelyard.serving.server:worker_app",
        factory=True,
        workers=workers,
        timeout_worker_healthcheck=worker_healthcheck_s(),
        **_uvicorn_options(host, port, log_level),
    )


HEALTHCHECK_ENV = "MODELYARD_SERVING_WORKER_HEALTHCHECK_S"


def worker_healthcheck_s() -> int:
    """Seconds uvicorn's supervisor waits for a worker's answer before killing it as hung.

    uvicorn's default, 5 s, counts from the worker's spawn: a worker still importing its
    libraries and loading its models on a busy machine misses it, is killed and replaced,
    and the replacement misses it too — the server never serves. Models take as long to
    load as they take, so the default here is 120 s (``MODELYARD_SERVING_WORKER_HEALTHCHECK_S``).
    """
    raw = os.environ.get(HEALTHCHECK_ENV, "120")
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(
            f"{HEALTHCHECK_ENV} must be a whole number of seconds; got {raw!r}"
        ) from None
    if value < 1:
        raise InvalidInput(f"{HEALTHCHECK_ENV} must be at least 1; got {value}")
    return value


def _refuse_remote_store() -> None:
    """Worker processes open the configured store themselves, and only a local one.

    Said before any worker starts, rather than by each worker as it dies.
    """
    from modelyard.config import load_settings
    from modelyard.yard import is_server_url

    store_url = load_settings().store_url
    if is_server_url(store_url):
        raise InvalidInput(
            f"--workers > 1 needs a database store_url; {store_url!r} is a Modelyard "
            "server (serve from it with one worker, or point workers at its database)"
        )


def worker_app() -> ServingApp:
    """The app of one worker process, from the environment ``serve`` prepared."""
    configure_json_logging(os.environ.get(LOG_LEVEL_ENV, "info"))
    _tune_process()
    raw = orjson.loads(os.environ[TARGETS_ENV])
    targets = [parse_deployment(t) if isinstance(t, dict) else str(t) for t in raw]
    return create_app(targets, config=ServingConfig.from_env())
