"""The container image: a multi-stage Dockerfile, its ``.dockerignore`` and pinned requirements.

A model endpoint's image installs Modelyard and the exact library versions
the served model versions were saved with (``manifest["requirements"]`` in
the registry), checked by ``pip check`` at build time; everything else
Modelyard needs is pinned from the generating environment in
``constraints.txt``. The models themselves are pulled from the registry when
a container starts and verified against their content hashes, so one image
serves a version the release pins by number, and an alias move needs no
rebuild.

The platform server's image builds from the repository's source with the
repository's ``constraints.txt``.
"""

from __future__ import annotations

import json
import re
from importlib import metadata

from modelyard.deploy.options import DeployOptions, render_template
from modelyard.deploy.spec import DEPLOYMENT_FILE, HOME_DIR, Workload

__all__ = ["ENDPOINT_EXTRAS", "SERVER_EXTRAS", "pinned_closure", "render"]

ENDPOINT_EXTRAS = ("gcs", "postgres")
SERVER_EXTRAS = ("gcs", "postgres")


def _name(requirement: str) -> str:
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement.lower()


def pinned_closure(root: str = "modelyard", extras: tuple[str, ...] = ()) -> dict[str, str]:
    """Installed versions of ``root``'s dependencies (with ``extras``), transitively.

    What the image installs is then what was tested here; a dependency that is
    not installed in this environment is left unpinned (pip resolves it).
    """
    from packaging.requirements import Requirement

    pins: dict[str, str] = {}
    queue: list[tuple[str, tuple[str, ...]]] = [(root, extras)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while queue:
        name, wanted = queue.pop()
        if (name, wanted) in seen:
            continue
        seen.add((name, wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for text in dist.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            environments = [{"extra": e} for e in wanted] or [{"extra": ""}]
            if marker is not None and not any(marker.evaluate(env) for env in environments):
                continue
            key = _name(requirement.name)
            try:
                pins[key] = metadata.version(requirement.name)
            except metadata.PackageNotFoundError:
                continue
            queue.append((requirement.name, tuple(sorted(requirement.extras))))
    pins.pop(_name(root), None)
    return dict(sorted(pins.items()))


def _modelyard_version() -> str:
    from modelyard import __version__

    return __version__


def _requirements(workload: Workload) -> str:
    lines = [
        "# What the served model versions were saved with (their manifests in the registry):",
    ]
    for pin in workload.models:
        lines.append(f"#   {pin.ref} -> {pin.name}/{pin.version} ({pin.flavor})")
    lines.extend(workload.requirements)
    lines.append("# Modelyard itself, with PostgreSQL and GCS support; until it is on your")
    lines.append("# package index, put its wheel in wheels/ (pip wheel --no-deps -w wheels/ ...).")
    lines.append(f"modelyard[{','.join(ENDPOINT_EXTRAS)}]=={_modelyard_version()}")
    return "\n".join(lines) + "\n"


def _constraints(workload: Workload) -> str:
    own = {_name(r) for r in workload.requirements}
    pins = {k: v for k, v in pinned_closure("modelyard", ENDPOINT_EXTRAS).items() if k not in own}
    lines = [
        "# Modelyard's dependencies at the versions of the environment that generated this",
        "# folder (and ran its tests); the model's own pins are in requirements.txt.",
    ]
    lines.extend(f"{name}=={version}" for name, version in pins.items())
    return "\n".join(lines) + "\n"


def _exec_form(words: tuple[str, ...] | list[str]) -> str:
    return ", ".join(json.dumps(w) for w in words)


def render(
    workload: Workload,
    options: DeployOptions,
    *,
    generated_by: str,
    prefix: str = "",
) -> dict[str, str]:
    """The image's files, keyed by path relative to the output folder.

    ``prefix`` places them (the platform's Dockerfile lives in ``deploy/server/``
    but builds with the repository root as its context).
    """
    source = workload.kind == "server"
    image = options.image(workload.name)
    if source:
        build = f"docker build -f {prefix}Dockerfile -t {image}:TAG . && docker push {image}:TAG"
        about = [
            "The platform server (REST API and web UI), built from this repository's source;",
            "the build context is the repository root.",
        ]
    else:
        build = f"docker build -t {image}:TAG . && docker push {image}:TAG"
        about = [f"Serves endpoint {workload.endpoint!r}:"]
        about += [
            f"  route -> {m.ref} (registered as {m.name}/{m.version})" for m in workload.models
        ]
        about += [
            "The models are pulled from the registry at start and verified against their",
            "content hashes; pin a route to a version number (name/7) for an immutable release.",
        ]
    dockerfile = render_template(
        "Dockerfile.j2",
        title=workload.title,
        generated_by=generated_by,
        modelyard_version=_modelyard_version(),
        about=about,
        build_command=build,
        python_version=workload.python_version,
        install_from_source=source,
        extras=",".join(SERVER_EXTRAS),
        home_dir=HOME_DIR,
        deployment_file=None if source else DEPLOYMENT_FILE,
        port=workload.port,
        health_path=workload.ready_path,
        entrypoint=_exec_form(workload.command[:1]),
        cmd=_exec_form(workload.command[1:]),
    )
    files = {f"{prefix}Dockerfile": dockerfile}
    if source:
        # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile before the context's.
        files[f"{prefix}Dockerfile.dockerignore"] = render_template(
            "dockerignore.j2",
            allowed=["pyproject.toml", "README.md", "constraints.txt", "src"],
            denied=["**/__pycache__", "**/*.pyc", "**/.modelyard"],
        )
        return files
    files[f"{prefix}.dockerignore"] = render_template(
        "dockerignore.j2",
        allowed=["requirements.txt", "constraints.txt", "deployment.yaml", "wheels"],
        denied=[],
    )
    files[f"{prefix}requirements.txt"] = _requirements(workload)
    files[f"{prefix}constraints.txt"] = _constraints(workload)
    files[f"{prefix}deployment.yaml"] = workload.deployment_yaml()
    files[f"{prefix}wheels/README.md"] = (
        "# wheels/\n\nWheels placed here are installed before the package index is asked "
        "(`pip install --find-links wheels/`).\nUntil Modelyard is on your index, build its "
        "wheel here: `pip wheel --no-deps -w wheels/ /path/to/modelyard`.\n"
    )
    return files
