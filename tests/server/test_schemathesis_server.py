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
import re
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
    # Every generated case passed every check: no failure of any kind, no baseline.
    assert re.search(r"(\d+) generated, \1 passed", output), output[-4000:]
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


# ---------------------------------------------------------------- what the schema now says


def test_the_run_filter_pattern_admits_only_filters_that_parse() -> None:
    # Every string the published pattern matches parses: a client (or fuzzer) that follows
    # the schema is never refused. Drawn from the pattern itself, as schemathesis does.

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from modelyard.tracking.search import FILTER_PATTERN, ORDER_PATTERN, parse_filter, parse_order

    @given(
        st.from_regex(FILTER_PATTERN, fullmatch=True), st.from_regex(ORDER_PATTERN, fullmatch=True)
    )
    @settings(
        max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def check(text: str, order: str) -> None:
        parse_filter(text)
        parse_order([order])

    check()
    assert re.fullmatch(FILTER_PATTERN, "metrics.auc > 0.8 and params.model = 'lgbm'")
    assert not re.fullmatch(FILTER_PATTERN, "metrics.auc > 0.8 or params.model = 'lgbm'")


def test_a_filter_outside_the_pattern_is_422_naming_the_filter(site) -> None:
    for text in ("metrics.auc > 1 or status = 'x'", "metrics.auc>1and status='x'"):
        response = _api(site, "GET", "/runs", params={"filter": text})
        assert response.status_code == 422, response.text
        assert response.json()["message"].startswith("filter: ")
    fine = _api(
        site, "GET", "/runs/count", params={"filter": "metrics.auc > 0.5 and name like '%'"}
    )
    assert fine.status_code == 200, fine.text


def test_references_to_nothing_are_404_and_a_policy_change_relaxing_nothing_is_409(site) -> None:
    run = _api(site, "POST", "/runs", json={"experiment": "refs", "inputs": [2**40]})
    assert run.status_code == 404 and "inputs" in run.json()["message"]
    spec = {"routes": [{"name": "main", "model": "no-such-model@champion"}]}
    deployment = _api(site, "PUT", "/deployments/nowhere", json=spec)
    assert deployment.status_code == 404 and "routes[0].model" in deployment.json()["message"]
    root = {"Authorization": f"Bearer {site.tokens['root']}"}
    created = _api(site, "POST", "/models", json={"name": "tight", "risk_tier": 3}, headers=root)
    assert created.status_code == 201, created.text
    change = _api(site, "POST", "/models/tight/policy-changes", json={"risk_tier": 3}, headers=root)
    assert change.status_code == 409 and "relaxes nothing" in change.json()["message"]
    many = {
        "routes": [
            {"name": "a", "model": "x@champion", "weight": 60},
            {"name": "b", "model": "y@champion", "weight": 60},
        ]
    }
    sum_rule = _api(site, "PUT", "/deployments/nowhere", json=many)
    assert sum_rule.status_code == 422 and "add up to 100" in sum_rule.json()["message"]


def test_the_server_reads_no_uris_unless_dataset_sources_says_where(site) -> None:
    response = _api(site, "POST", "/datasets/local/versions", json={"uris": ["/etc/passwd"]})
    assert response.status_code == 422 and response.json()["message"].startswith("uris: ")
    document = httpx.get(f"{site.url}/openapi.json", timeout=60).json()
    body = document["components"]["schemas"]["DatasetVersionCreate"]
    assert body["required"] == ["blob"] and body["properties"]["uris"]["maxItems"] == 0


def test_dataset_sources_become_the_published_uri_pattern() -> None:

    from modelyard.errors import InvalidInput
    from modelyard.server.routes.datasets import check_sources, document_sources
    from modelyard.server.schemas import DatasetVersionCreate

    schema = {
        "components": {
            "schemas": {"DatasetVersionCreate": DatasetVersionCreate.model_json_schema()}
        }
    }
    document_sources(schema, ["s3://bank-data/", "gs://risk+x/"])
    pattern = schema["components"]["schemas"]["DatasetVersionCreate"]["properties"]["uris"][
        "items"
    ]["pattern"]
    assert re.search(pattern, "s3://bank-data/loans.parquet") and re.search(
        pattern, "gs://risk+x/a"
    )
    assert not re.search(pattern, "s3://other/loans.parquet")
    check_sources(["s3://bank-data/a.parquet"], ["s3://bank-data/"])
    with pytest.raises(InvalidInput, match="outside the server's dataset_sources"):
        check_sources(["s3://other/a.parquet"], ["s3://bank-data/"])


@pytest.mark.parametrize(
    "uri",
    [
        "file:///srv/allowed/../secret.csv",  # climbs out of the allowed folder
        "file:///srv/allowed/./../secret.csv",
        "file:///srv/allowed/%2e%2e/secret.csv",  # the same, percent-encoded
        "file:///srv/allowed//etc/passwd",  # an empty segment
        "file:///srv/allowed-hr/salaries.csv",  # shares the prefix's letters, not its folder
        "file:///srv/allowed\\..\\secret.csv",
    ],
)
def test_dataset_sources_cannot_be_escaped(uri: str) -> None:
    """An insider with dataset.write names a file beside or above the allowed folder."""
    from modelyard.errors import InvalidInput
    from modelyard.server.routes.datasets import check_sources, document_sources
    from modelyard.server.schemas import DatasetVersionCreate

    prefixes = ["file:///srv/allowed"]  # configured without its trailing slash
    with pytest.raises(InvalidInput, match="uris: "):
        check_sources([uri], prefixes)
    schema = {
        "components": {
            "schemas": {"DatasetVersionCreate": DatasetVersionCreate.model_json_schema()}
        }
    }
    document_sources(schema, prefixes)
    items = schema["components"]["schemas"]["DatasetVersionCreate"]["properties"]["uris"]["items"]
    assert not re.search(items["pattern"], uri)
    check_sources(["file:///srv/allowed/2026/date=2026-11-01/part-0.parquet"], prefixes)
    assert re.search(items["pattern"], "file:///srv/allowed/2026/date=2026-11-01/part-0.parquet")
