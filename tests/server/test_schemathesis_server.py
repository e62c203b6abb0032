"""schemathesis over the whole platform API — every operation, every check, every phase
(examples, coverage, fuzzing, stateful) — with an admin token: no 5xx, no response off
the schema, no schema-valid request refused, 415 for a wrong content type, 405 with the
Allow header. There is no baseline of known failures: the run must find nothing.

Bounded for CI (a couple of examples per operation, two workers: under a minute on a busy
2-core machine); the seed is fixed, so a failure reproduces. Left out: the operations that
lock the fuzzer itself out (disabling a user, changing roles, revoking a token).
``schemathesis_hooks.py`` repairs generated deployment specs for the two rules JSON Schema
cannot state (unique route names, weights adding up to 100); every other rule is in the
schema: the run filter language is a published pattern, references to data that does not
exist are 404, a policy change judged against the stored policy is a 409.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).parent
EXCLUDED = r"/users/\{name\}/(disable|roles)$|/tokens/\{token_id\}$"


@pytest.mark.slow
def test_schemathesis_finds_nothing_on_the_platform_api(site, tmp_path) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{site.url}/openapi.json",
        "-H",
        f"Authorization: Bearer {site.tokens['root']}",
        "--exclude-path-regex",
        EXCLUDED,
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "2",
        "--seed",
        "20261207",
        "--workers",
        "2",
        "--no-color",
        "--request-timeout",
        "60",
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "schemathesis_hooks",
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=900, check=False, env=env, cwd=tmp_path
    )
    output = run.stdout + run.stderr
    failures = output[output.find("= FAILURES =") : output.find("= WARNINGS =")]
    assert run.returncode == 0, (failures or output)[:12000]
    assert "No issues found" in output, output[-4000:]
    assert "ST101" not in output and "Server error" not in output, output[-4000:]


# ---------------------------------------------------------------- the faults it found


def _api(site, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {site.tokens['dev']}", **kwargs.pop("headers", {})}
    return httpx.request(method, f"{site.url}/api/v1{path}", headers=headers, timeout=60, **kwargs)


def test_integers_beyond_64_bits_are_422_naming_the_field(site) -> None:
    huge = 2**70
    run = _api(site, "POST", "/runs", json={"experiment": "overflow", "inputs": [huge]})
    assert run.status_code == 422
    assert run.json()["message"].startswith("inputs.0: ")
    created = _api(site, "POST", "/runs", json={"experiment": "overflow"})
    assert created.status_code in (200, 201), created.text
    run_id = created.json()["id"]
    for field in ("step", "timestamp"):
        point = {"key": "auc", "value": 0.7, field: huge}
        response = _api(site, "POST", f"/runs/{run_id}/metrics", json={"points": [point]})
        assert response.status_code == 422, response.text
        assert response.json()["message"].startswith(f"points.0.{field}: ")
    inputs = _api(site, "POST", f"/runs/{run_id}/inputs", json={"inputs": [-huge]})
    assert inputs.status_code == 422 and "inputs.0" in inputs.json()["message"]
    # In range, the same calls work.
    fine = {"key": "auc", "value": 0.7, "step": 2**40}
    assert _api(site, "POST", f"/runs/{run_id}/metrics", json={"points": [fine]}).is_success


@pytest.mark.parametrize("content_type", ["text/plain", None, "application/x-www-form-urlencoded"])
def test_a_body_in_another_media_type_or_none_is_415(site, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = _api(site, "POST", "/models", content=b'{"name": "media-type"}', headers=headers)
    assert response.status_code == 415, response.text
    body = response.json()
    assert body["error"] == "unsupported_media_type"
    assert "application/json" in body["message"]
    assert _api(site, "GET", "/models/media-type").status_code == 404  # nothing was created
    upload = _api(
        site, "PUT", "/artifacts/blobs", content=b"abc", headers={"Content-Type": "text/plain"}
    )
    assert upload.status_code == 415 and "application/octet-stream" in upload.json()["message"]


def test_405_names_every_allowed_method(site) -> None:
    response = _api(site, "DELETE", "/models")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


def test_optional_parameters_offer_no_null_and_cursors_have_a_pattern(site) -> None:
    document = httpx.get(f"{site.url}/openapi.json", timeout=60).json()
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                assert "null" not in str(parameter["schema"]), parameter
    cursor = next(
        p for p in document["paths"]["/api/v1/models"]["get"]["parameters"] if p["name"] == "cursor"
    )
    assert cursor["schema"]["pattern"]
    bad = _api(site, "GET", "/models", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and "cursor" in bad.json()["message"]
