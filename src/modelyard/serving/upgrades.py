"""Zero-downtime upgrades: follow aliases (and stored deployments), swap versions atomically.

A background thread polls the registry every ``poll_interval_s``. When a
route's reference (``credit-risk@champion``) resolves to another version, the
new version is loaded, compiled and warmed *in that thread* while the old one
keeps serving; then one assignment (``route.current = new``) switches the
route. Requests that already hold the old version finish on it. Rolling back
is moving the alias back: the previous version is still in the cache
(``max_loaded_versions``), so the switch back is immediate.

For an endpoint served from a stored deployment (``modelyard deployments
apply``), a changed spec (weights, routes, shadows) is loaded the same way
and the endpoint object is replaced in one assignment.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from modelyard.errors import ModelyardError
from modelyard.serving.models import ServedVersion, load_version
from modelyard.serving.routing import Endpoint, RouteTarget
from modelyard.serving.threads import limit_native_threads

if TYPE_CHECKING:
    from modelyard.serving.config import ServingConfig
    from modelyard.serving.metrics import ServingMetrics
    from modelyard.yard import Yard

__all__ = ["VersionManager"]

logger = logging.getLogger("modelyard.serving")


class VersionManager:
    """Loads versions (cached by content digest) and keeps every route on its reference."""

    def __init__(
        self,
        yard: Yard,
        config: ServingConfig,
        metrics: ServingMetrics,
        endpoints: dict[str, Endpoint],
        stored: dict[str, int] | None = None,
    ) -> None:
        self._yard = yard
        self._config = config
        self._metrics = metrics
        self.endpoints = endpoints
        # endpoint name -> updated_at of the stored deployment it was built from
        self._stored = dict(stored or {})
        self._cache: OrderedDict[tuple[str, str], ServedVersion] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- loading --------------------------------------------------------------
    def version(self, name: str, number: int, digest: str) -> ServedVersion:
        """The served form of a version, loaded once while it stays cached."""
        key = (f"{name}/{number}", digest)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        served = load_version(self._yard, f"{name}/{number}", self._config, self._metrics)
        with self._lock:
            self._cache[key] = served
            self._evict()
        return served

    def _evict(self) -> None:
        in_use = {id(t.current) for e in self.endpoints.values() for t in e.targets() if t.current}
        for key in list(self._cache):
            if len(self._cache) <= self._config.max_loaded_versions:
                break
            if id(self._cache[key]) not in in_use:
                del self._cache[key]

    def load_endpoint(self, endpoint: Endpoint) -> None:
        """Load every route and shadow of ``endpoint`` (blocking)."""
        for target in endpoint.targets():
            name, number, digest = self._yard.models.resolve_digest(target.ref)
            self._switch(target, self.version(name, number, digest))

    def _switch(self, target: RouteTarget, new: ServedVersion) -> None:
        old = target.current
        target.current = new  # the atomic switch
        self._metrics.model_info.labels(target.endpoint, target.name, new.name).set(new.version)
        if old is not None and old is not new:
            self._metrics.switches.labels(target.endpoint, target.name).inc()
            logger.info(
                "%s route %s switched from %s to %s",
                target.endpoint,
                target.name,
                old.key,
                new.key,
                extra={
                    "endpoint": target.endpoint,
                    "route": target.name,
                    "from_version": old.version,
                    "to_version": new.version,
                },
            )

    # -- polling ----------------------------------------------------------------
    def start(self) -> None:
        if self._config.poll_interval_s <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="modelyard-upgrades", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        # This thread loads and warms new versions: its OpenMP pool is limited too.
        limit_native_threads(self._config.native_threads)
        while not self._stop.wait(self._config.poll_interval_s):
            try:
                self.poll_once()
            except Exception:  # keep serving what we have; say why upgrades stopped working
                logger.exception("polling the registry failed")

    def poll_once(self) -> int:
        """Check every route once; returns how many switched."""
        switched = self._poll_deployments()
        for endpoint in list(self.endpoints.values()):
            for target in endpoint.targets():
                if self._stop.is_set():
                    return switched
                try:
                    name, number, digest = self._yard.models.resolve_digest(target.ref)
                except ModelyardError as exc:
                    logger.warning(
                        "cannot resolve %s for %s/%s; keeping %s: %s",
                        target.ref,
                        endpoint.name,
                        target.name,
                        target.current.key if target.current else "nothing",
                        exc.message,
                        extra={"endpoint": endpoint.name, "route": target.name},
                    )
                    continue
                current = target.current
                if current is not None and current.digest == digest and current.version == number:
                    continue
                try:
                    served = self.version(name, number, digest)
                except Exception:
                    logger.exception(
                        "loading %s/%s for %s failed; keeping the current version",
                        name,
                        number,
                        endpoint.name,
                    )
                    continue
                self._switch(target, served)
                switched += 1
        return switched

    def _poll_deployments(self) -> int:
        if not self._stored:
            return 0
        service = getattr(self._yard, "deployments", None)
        if service is None:
            return 0
        changed = 0
        for name, seen in list(self._stored.items()):
            try:
                record = service.get(name)
            except ModelyardError as exc:
                logger.warning("cannot read deployment %s: %s", name, exc.message)
                continue
            if record.updated_at == seen:
                continue
            endpoint = Endpoint(record.spec)
            old = self.endpoints.get(name)
            if old is not None:  # keep versions already loaded for unchanged routes
                loaded = {t.name: t.current for t in old.targets()}
                for target in endpoint.targets():
                    same = next((t for t in old.targets() if t.name == target.name), None)
                    if same is not None and same.ref == target.ref:
                        target.current = loaded[target.name]
            try:
                for target in endpoint.targets():
                    if target.current is None:
                        n, v, d = self._yard.models.resolve_digest(target.ref)
                        self._switch(target, self.version(n, v, d))
            except Exception:
                logger.exception(
                    "deployment %s changed but cannot be loaded; keeping the old", name
                )
                continue
            self.endpoints[name] = endpoint  # the atomic switch of the whole endpoint
            self._stored[name] = record.updated_at
            changed += 1
            logger.info("deployment %s reloaded", name, extra={"endpoint": name})
        return changed
