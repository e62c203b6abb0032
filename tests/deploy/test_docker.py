"""The generated Dockerfile: multi-stage, slim, non-root, pinned, with a V2 health check.

No Docker engine runs on these machines, so the image is not built here;
these tests check everything short of building it (the CMD is run for real
in test_served_endpoint.py).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from modelyard.deploy.spec import ModelPin, endpoint_workload, merge_requirements
from modelyard.errors import InvalidInput
from modelyard.registry.deployments import spec_for_ref


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile)
    found = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        found.append((keyword.upper(), rest.strip()))
    return found


def exec_form(instruction: str) -> list[str]:
    return json.loads(instruction)


def test_dockerfile_is_multi_stage_slim_and_non_root(generated: Path) -> None:
    steps = instructions((generated / "Dockerfile").read_text())
    froms = [args for kw, args in steps if kw == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE} AS runtime"]
    args = dict(a.split("=", 1) for kw, a in steps if kw == "ARG")
    assert re.fullmatch(r"python:3\.\d+-slim-bookworm", args["PYTHON_IMAGE"])
    runtime = steps[[i for i, (kw, _) in enumerate(steps) if kw == "FROM"][1] :]
    users = [a for kw, a in runtime if kw == "USER"]
    assert users == ["10001:10001"], "the runtime stage runs as a non-root uid"
    last_user = max(i for i, (kw, _) in enumerate(runtime) if kw == "USER")
    assert max(i for i, (kw, _) in enumerate(runtime) if kw == "CMD") > last_user
    # Compilers and pip's caches stay in the build stage: only the venv is copied over.
    assert ("COPY", "--from=build /opt/venv /opt/venv") in runtime


def test_healthcheck_and_command_use_the_v2_health_route(generated: Path) -> None:
    steps = instructions((generated / "Dockerfile").read_text())
    health = next(a for kw, a in steps if kw == "HEALTHCHECK")
    assert "/v2/health/ready" in health and "--interval=" in health
    entry = exec_form(next(a for kw, a in steps if kw == "ENTRYPOINT"))
    cmd = exec_form(next(a for kw, a in steps if kw == "CMD"))
    assert entry == ["modelyard"]
    assert cmd[:2] == ["serve", "/etc/modelyard/deployment.yaml"]
    assert cmd[cmd.index("--host") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--port") + 1] == "8080"
    assert ("EXPOSE", "8080") in steps


def test_requirements_are_the_models_recorded_pins(generated: Path, demo) -> None:
    yard = demo.connect()
    try:
        recorded = yard.models.get("credit-risk@champion").manifest["requirements"]
    finally:
        yard.close()
    lines = [
        line
        for line in (generated / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert recorded and set(recorded) <= set(lines)
    assert all("==" in line for line in lines), "every requirement is pinned"
    assert any(line.startswith("modelyard[") for line in lines)
    constraints = [
        line
        for line in (generated / "constraints.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert constraints and all(re.fullmatch(r"[a-z0-9.-]+==\S+", c) for c in constraints)
    pinned_by_model = {r.split("==")[0] for r in recorded}
    assert not pinned_by_model & {c.split("==")[0] for c in constraints}, "no double pins"
    assert {"fastapi", "uvicorn", "sqlalchemy"} <= {c.split("==")[0] for c in constraints}


def test_dockerignore_admits_exactly_what_the_dockerfile_copies(generated: Path) -> None:
    ignore = (generated / ".dockerignore").read_text().splitlines()
    rules = [line for line in ignore if line and not line.startswith("#")]
    assert rules[0] == "*", "deny by default: no local store, data or secrets in the context"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    steps = instructions((generated / "Dockerfile").read_text())
    copied = set()
    for kw, args in steps:
        if kw == "COPY" and not args.startswith("--from"):
            sources = shlex.split(args)[:-1]
            copied.update(s.rstrip("/").removeprefix("./") for s in sources)
    assert copied == allowed
    for name in copied:
        assert (generated / name).exists(), f"the Dockerfile copies {name}, which was not generated"


def test_deployment_file_in_the_image_is_the_served_spec(generated: Path) -> None:
    from modelyard.registry.deployments import load_deployment_file

    (spec,) = load_deployment_file(generated / "deployment.yaml")
    assert spec.name == "credit-risk"
    assert [r.model for r in spec.routes] == ["credit-risk@champion"]


def test_platform_dockerfile_builds_from_source(platform_tree: Path) -> None:
    steps = instructions((platform_tree / "Dockerfile").read_text())
    cmd = exec_form(next(a for kw, a in steps if kw == "CMD"))
    assert cmd[:1] == ["server"] and "--host" in cmd and "--port" in cmd
    assert ("COPY", "src/ ./src/") in steps
    health = next(a for kw, a in steps if kw == "HEALTHCHECK")
    assert "/api/v1/health" in health
    ignore = (platform_tree / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[1] == "*" and "!src" in ignore


def _pin(ref: str, *requirements: str, python: str = "3.11.7") -> ModelPin:
    name = ref.split("@")[0].split("/")[0]
    return ModelPin(ref, name, 1, "sklearn", python, tuple(requirements))


def test_conflicting_pins_across_routes_are_refused() -> None:
    a = _pin("credit-risk@champion", "lightgbm==4.7.0", "numpy==2.4.6")
    b = _pin("credit-risk@challenger", "lightgbm==4.6.0", "numpy==2.4.6")
    assert merge_requirements([a, a]) == ("lightgbm==4.7.0", "numpy==2.4.6")
    with pytest.raises(InvalidInput, match=r"cannot serve both credit-risk@champion"):
        merge_requirements([a, b])


def test_routes_saved_with_different_pythons_are_refused() -> None:
    spec = spec_for_ref("credit-risk@champion")
    with pytest.raises(InvalidInput, match="different Python versions"):
        endpoint_workload(spec, [_pin("a@x", python="3.11.7"), _pin("b@y", python="3.12.1")])
    assert endpoint_workload(spec, [_pin("a@x", python="3.12.1")]).python_version == "3.12"
