"""The service the CLI calls: resolve what to deploy, run the generators, write the files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from modelyard.deploy import docker, grafana, kubernetes, terraform
from modelyard.deploy.options import DeployOptions, write_tree
from modelyard.deploy.spec import (
    Workload,
    endpoint_workload,
    load_target,
    platform_workload,
    resolve_models,
)
from modelyard.errors import InvalidInput
from modelyard.registry.deployments import DeploymentSpec, RouteSpec

if TYPE_CHECKING:
    from modelyard.yard import Yard

__all__ = [
    "TARGETS",
    "GeneratedTree",
    "endpoint_files",
    "generate",
    "generate_platform",
    "platform_files",
    "with_canary",
]

TARGETS = ("docker", "kubernetes", "cloudrun", "grafana")
PLATFORM_COMMAND = "modelyard deploy platform"


@dataclass(frozen=True)
class GeneratedTree:
    workload: Workload
    files: dict[str, str]
    written: list[Path]


def _targets(requested: Sequence[str]) -> list[str]:
    chosen: list[str] = []
    for item in requested:
        for name in item.split(","):
            name = name.strip().lower()
            if name == "all":
                chosen.extend(TARGETS)
            elif name == "terraform":
                chosen.append("cloudrun")
            elif name in TARGETS:
                chosen.append(name)
            else:
                raise InvalidInput(
                    f"--target must be one of {', '.join((*TARGETS, 'all'))}; got {name!r}"
                )
    if not chosen:
        raise InvalidInput(f"give at least one --target ({', '.join((*TARGETS, 'all'))})")
    return list(dict.fromkeys(chosen))


def with_canary(spec: DeploymentSpec, ref: str, weight: float) -> DeploymentSpec:
    """``spec`` with a ``canary`` route taking ``weight`` percent, the others scaled down."""
    if not 0 < weight < 100:
        raise InvalidInput(f"--canary-weight must be between 0 and 100; got {weight:g}")
    if any(r.name == "canary" for r in spec.routes):
        raise InvalidInput(f"deployment {spec.name!r} already has a route named 'canary'")
    scale = (100.0 - weight) / 100.0
    routes = [
        route.model_copy(update={"weight": round(w * scale, 6)})
        for route, w in zip(spec.routes, spec.weights(), strict=True)
    ]
    routes.append(RouteSpec(name="canary", model=ref, weight=weight))
    # Rounding must not break the "weights add up to 100" rule.
    drift = 100.0 - sum(r.weight or 0 for r in routes)
    routes[0] = routes[0].model_copy(update={"weight": (routes[0].weight or 0) + drift})
    return DeploymentSpec.model_validate(
        {**spec.to_dict(), "routes": [r.model_dump() for r in routes]}
    )


def endpoint_files(
    workload: Workload, options: DeployOptions, targets: Sequence[str], generated_by: str
) -> dict[str, str]:
    files: dict[str, str] = {}
    for target in _targets(targets):
        if target == "docker":
            files.update(docker.render(workload, options, generated_by=generated_by))
        elif target == "kubernetes":
            files.update(kubernetes.render(workload, options))
        elif target == "cloudrun":
            files.update(terraform.render(workload, options, generated_by=generated_by))
        elif target == "grafana":
            files.update(grafana.render(workload))
    return files


def generate(
    target: str,
    targets: Sequence[str],
    out_dir: str | Path,
    *,
    yard: Yard,
    options: DeployOptions | None = None,
    canary: str | None = None,
    canary_weight: float = 10.0,
    generated_by: str | None = None,
) -> GeneratedTree:
    """Generate the files of ``targets`` for the deployment ``target`` into ``out_dir``.

    ``target`` is a deployment YAML file, a stored deployment's name or a model
    reference; every route is resolved in ``yard`` so the image pins what the
    versions were saved with.
    """
    options = options or DeployOptions()
    spec = load_target(target, yard)
    if canary is not None:
        spec = with_canary(spec, canary, canary_weight)
    workload = endpoint_workload(spec, resolve_models(spec, yard), workers=options.workers)
    command = generated_by or f"modelyard deploy generate {target}"
    files = endpoint_files(workload, options, targets, command)
    return GeneratedTree(workload, files, write_tree(files, out_dir))


def platform_files(options: DeployOptions | None = None, prefix: str = "deploy/server/") -> dict:
    """The platform server's Dockerfile, Kustomize tree and Terraform, as the repository holds them.

    Paths are relative to the repository root (the Dockerfile's build context).
    """
    options = options or DeployOptions()
    workload = platform_workload()
    files = docker.render(workload, options, generated_by=PLATFORM_COMMAND, prefix=prefix)
    files.update(kubernetes.render(workload, options, prefix=f"{prefix}kubernetes/"))
    files.update(
        terraform.render(
            workload, options, generated_by=PLATFORM_COMMAND, prefix=f"{prefix}terraform/"
        )
    )
    return files


def generate_platform(
    root: str | Path, options: DeployOptions | None = None, prefix: str = "deploy/server/"
) -> GeneratedTree:
    """Write :func:`platform_files` under the repository root ``root``."""
    files = platform_files(options, prefix)
    return GeneratedTree(platform_workload(), files, write_tree(files, root))
