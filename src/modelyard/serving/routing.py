"""Endpoints and their routes: weighted choice, sticky entities, shadows.

A :class:`RouteTarget` holds the model version a route serves *now*
(``current``); the upgrader replaces that reference in one assignment, so a
request reads either the old or the new version, never a mix, and a request
that already holds the old one finishes on it.

Weighted choice draws a uniform number per request. With a sticky key the
number is instead a hash of the entity's value, so an entity keeps its route
for as long as the weights stay the same (and across processes: the hash is
BLAKE2b, not Python's salted ``hash``).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
from typing import TYPE_CHECKING

from modelyard.errors import NotFound
from modelyard.serving.deployment_spec import DeploymentSpec
from modelyard.serving.errors import NotReady

if TYPE_CHECKING:
    from modelyard.flavors.policy import InputPolicy
    from modelyard.serving.models import ServedVersion

__all__ = ["Endpoint", "RouteTarget", "entity_position"]


class RouteTarget:
    """A route (or a shadow) of an endpoint and the version it serves now."""

    __slots__ = (
        "current",
        "endpoint",
        "name",
        "policy",
        "policy_key",
        "ref",
        "sample",
        "shadow",
        "weight",
    )

    def __init__(
        self,
        endpoint: str,
        name: str,
        ref: str,
        weight: float,
        *,
        shadow: bool = False,
        sample: float = 1.0,
        policy: InputPolicy | None = None,
    ) -> None:
        self.endpoint = endpoint
        # The deployment's input policy for this route, over the version's own.
        self.policy = policy if policy is not None and not policy.empty else None
        self.policy_key = json.dumps(policy.to_dict(), sort_keys=True) if self.policy else ""
        self.name = name
        self.ref = ref
        self.weight = weight
        self.shadow = shadow
        self.sample = sample
        self.current: ServedVersion | None = None

    def served(self) -> ServedVersion:
        current = self.current
        if current is None:
            raise NotReady(f"route {self.name!r} of {self.endpoint!r} is still loading {self.ref}")
        return current


def entity_position(value: str) -> float:
    """A stable position in [0, 100) for an entity value."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100.0


class Endpoint:
    """What clients call by name: routes with weights, an optional sticky key, shadows."""

    def __init__(self, spec: DeploymentSpec) -> None:
        self.spec = spec
        self.name = spec.name
        weights = spec.weights()
        self.routes = [
            RouteTarget(spec.name, r.name, r.model, w, policy=spec.policy_for(r))
            for r, w in zip(spec.routes, weights, strict=True)
        ]
        self.shadows = [
            RouteTarget(
                spec.name,
                s.name,
                s.model,
                0.0,
                shadow=True,
                sample=s.sample,
                policy=spec.policy_for(None),
            )
            for s in spec.shadows
        ]
        self.sticky_key = spec.sticky.key if spec.sticky is not None else None
        self.mlflow_output = spec.mlflow_output
        live = [r for r in self.routes if r.weight > 0] or self.routes
        self._live = live
        total = sum(r.weight for r in live) or float(len(live))
        running, bounds = 0.0, []
        for r in live:
            running += r.weight if total else 1.0
            bounds.append(running / total * 100.0)
        bounds[-1] = 100.0
        self._bounds = bounds
        self._single = live[0] if len(live) == 1 else None

    def targets(self) -> list[RouteTarget]:
        return [*self.routes, *self.shadows]

    def choose(self, entity: str | None = None) -> RouteTarget:
        """The route for one request."""
        if self._single is not None:
            return self._single
        if entity is not None and self.sticky_key is not None:
            position = entity_position(entity)
        else:
            position = random.random() * 100.0
        index = bisect.bisect_right(self._bounds, position)
        return self._live[min(index, len(self._live) - 1)]

    def route_for_version(self, version: str) -> RouteTarget:
        """The route serving version ``version`` now (V2's ``/versions/{v}``)."""
        for route in self.routes:
            current = route.current
            if current is not None and current.version_str == version:
                return route
        served = ", ".join(sorted({r.current.version_str for r in self.routes if r.current}))
        raise NotFound(
            f"endpoint {self.name!r} does not serve version {version!r} "
            f"(it serves {served or 'nothing yet'})"
        )

    def primary(self) -> RouteTarget:
        """The route with the largest weight: its signature documents the endpoint."""
        return max(self.routes, key=lambda r: r.weight)

    def ready(self) -> bool:
        return all(t.current is not None for t in self.targets())

    def versions(self) -> list[str]:
        return sorted(
            {r.current.version_str for r in self.routes if r.current is not None}, key=int
        )
