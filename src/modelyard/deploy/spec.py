"""What a generator deploys: a model endpoint (a deployment) or the platform server.

``load_target`` accepts what ``modelyard serve`` accepts — a deployment YAML
file, a stored deployment's name (``yard.deployments``) or a model reference
such as ``credit-risk@champion`` (a one-route deployment) — and resolves
every route against the registry, so the image can pin what the versions
were saved with. :func:`platform_workload` describes ``modelyard server``.

A :class:`Workload` is the one shape every generator reads: a name safe for
Kubernetes and GCP, the container's command, its health routes, and the
requirements to install.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from modelyard.errors import InvalidInput
from modelyard.registry.deployments import (
    DeploymentSpec,
    load_deployment_file,
    spec_for_ref,
)

if TYPE_CHECKING:
    from modelyard.yard import Yard

__all__ = [
    "CONFIG_DIR",
    "PORT",
    "ModelPin",
    "Workload",
    "endpoint_workload",
    "load_target",
    "platform_workload",
    "short_name",
    "slug",
]

PORT = 8080
CONFIG_DIR = "/etc/modelyard"  # the deployment file (a ConfigMap in Kubernetes)
HOME_DIR = "/var/lib/modelyard"  # model cache and scratch: an emptyDir, writable
DEPLOYMENT_FILE = f"{CONFIG_DIR}/deployment.yaml"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)$")


@dataclass(frozen=True)
class ModelPin:
    """A route's model version as the registry resolved it when the files were generated."""

    ref: str
    name: str
    version: int
    flavor: str
    python_version: str
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class Workload:
    """One container to deploy, as every generator sees it."""

    kind: Literal["endpoint", "server"]
    name: str  # DNS-1123 label: Kubernetes objects, Cloud Run services, GCP ids
    title: str
    command: tuple[str, ...]
    live_path: str
    ready_path: str
    python_version: str
    requirements: tuple[str, ...] = ()
    spec: DeploymentSpec | None = None
    models: tuple[ModelPin, ...] = ()
    metrics_path: str | None = None
    port: int = PORT
    env: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str | None:
        """The endpoint's name as clients call it (and as metrics label it)."""
        return self.spec.name if self.spec is not None else None

    @property
    def model_names(self) -> list[str]:
        if self.spec is None:
            return []
        names = [_model_name(r.model) for r in self.spec.routes]
        return list(dict.fromkeys(names))

    @property
    def primary_ref(self) -> str | None:
        """The first route's model reference (what batch scoring and monitoring use)."""
        return self.spec.routes[0].model if self.spec is not None else None

    def deployment_yaml(self) -> str:
        import yaml

        if self.spec is None:
            raise InvalidInput("the platform server has no deployment spec")
        return yaml.safe_dump(self.spec.to_dict(), sort_keys=False)


def slug(name: str, *, max_length: int = 40) -> str:
    """A DNS-1123 label from an endpoint name: lowercase, '-' for anything else."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")
    text = re.sub(r"-{2,}", "-", text)[:max_length].rstrip("-")
    if not text or not text[0].isalpha():
        text = f"m-{text}"[:max_length].rstrip("-")
    return text


def short_name(name: str, limit: int = 18) -> str:
    """``name`` in at most ``limit`` characters; a cut name keeps a hash of the whole (unique)."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:4]
    return f"{name[: limit - 5].rstrip('-')}-{digest}"


def _model_name(ref: str) -> str:
    return ref.split("@", 1)[0].split("/", 1)[0]


def load_target(target: str, yard: Yard | None = None) -> DeploymentSpec:
    """The deployment ``target`` names: a YAML file, a stored deployment or a model reference.

    Raises:
        InvalidInput: A file that is not a valid deployment, or holds several endpoints.
        NotFound: A file path that does not exist.
    """
    text = target.strip()
    path = Path(text)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.is_file():
        specs = load_deployment_file(path)
        if len(specs) != 1:
            names = [s.name for s in specs]
            raise InvalidInput(
                f"{text} holds {len(specs)} endpoints {names}; generate one endpoint at a time "
                "(split the file, one endpoint per file)"
            )
        return specs[0]
    if (
        yard is not None
        and "@" not in text
        and "/" not in text
        and hasattr(yard, "deployments")
        and yard.deployments.exists(text)
    ):
        return yard.deployments.get(text).spec
    return spec_for_ref(text)


def resolve_models(spec: DeploymentSpec, yard: Yard) -> tuple[ModelPin, ...]:
    """Every route's and shadow's version, resolved now (a reference that fails names its field)."""
    pins: list[ModelPin] = []
    problems: list[str] = []
    items = [("routes", i, r.model) for i, r in enumerate(spec.routes)]
    items += [("shadows", i, s.model) for i, s in enumerate(spec.shadows)]
    for field_name, i, ref in items:
        try:
            info = yard.models.get(ref)
        except Exception as exc:  # NotFound, PermissionDenied: reported together below
            problems.append(f"{field_name}[{i}].model {ref!r}: {getattr(exc, 'message', exc)}")
            continue
        manifest = info.manifest or {}
        pins.append(
            ModelPin(
                ref=ref,
                name=info.name,
                version=info.version,
                flavor=info.flavor,
                python_version=str(manifest.get("python_version") or ""),
                requirements=tuple(manifest.get("requirements") or ()),
            )
        )
    if problems:
        raise InvalidInput(
            f"deployment {spec.name!r} refers to models that do not resolve: " + "; ".join(problems)
        )
    return tuple(pins)


def merge_requirements(pins: Sequence[ModelPin]) -> tuple[str, ...]:
    """One requirement list for every version the image serves; conflicting pins are an error."""
    chosen: dict[str, tuple[str, str]] = {}  # normalised name -> (requirement, ref)
    for pin in pins:
        for requirement in pin.requirements:
            match = _PIN.match(requirement.strip())
            key = _normalise(match.group(1)) if match else requirement.strip()
            if key in chosen and chosen[key][0] != requirement.strip():
                raise InvalidInput(
                    f"one image cannot serve both {chosen[key][1]} ({chosen[key][0]}) and "
                    f"{pin.ref} ({requirement}); deploy them as separate endpoints, or retrain "
                    "one version with the other's library versions"
                )
            chosen.setdefault(key, (requirement.strip(), pin.ref))
    return tuple(sorted((r for r, _ in chosen.values()), key=str.lower))


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _python_minor(versions: Sequence[str]) -> str:
    found = []
    for text in versions:
        parts = text.split(".")
        if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
            found.append((int(parts[0]), int(parts[1])))
    if not found:
        return f"{sys.version_info.major}.{sys.version_info.minor}"
    if len(set(found)) > 1:
        listed = ", ".join(f"{a}.{b}" for a, b in sorted(set(found)))
        raise InvalidInput(
            f"the versions of this deployment were saved with different Python versions "
            f"({listed}); one image has one interpreter: deploy them as separate endpoints"
        )
    major, minor = found[0]
    return f"{major}.{minor}"


def endpoint_workload(
    spec: DeploymentSpec, models: Sequence[ModelPin], *, workers: int = 1
) -> Workload:
    """The serving container of ``spec``; ``models`` are its resolved versions."""
    if workers < 1:
        raise InvalidInput(f"--workers must be at least 1; got {workers}")
    command = (
        "modelyard",
        "serve",
        DEPLOYMENT_FILE,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
        "--workers",
        str(workers),
    )
    return Workload(
        kind="endpoint",
        name=slug(spec.name),
        title=spec.name,
        command=command,
        live_path="/v2/health/live",
        ready_path="/v2/health/ready",
        metrics_path="/metrics",
        python_version=_python_minor([m.python_version for m in models]),
        requirements=merge_requirements(models),
        spec=spec,
        models=tuple(models),
    )


def platform_workload(*, python_version: str = "3.11") -> Workload:
    """``modelyard server``: the REST API and web UI."""
    return Workload(
        kind="server",
        name="modelyard-server",
        title="Modelyard platform server",
        command=("modelyard", "server", "--host", "0.0.0.0", "--port", str(PORT)),
        live_path="/api/v1/health",
        ready_path="/api/v1/health",
        python_version=python_version,
    )


def describe(workload: Workload) -> dict[str, Any]:
    """A summary for the CLI's output and the generated README."""
    return {
        "name": workload.name,
        "kind": workload.kind,
        "endpoint": workload.endpoint,
        "models": [f"{m.ref} -> {m.name}/{m.version}" for m in workload.models],
        "python": workload.python_version,
        "requirements": list(workload.requirements),
    }
