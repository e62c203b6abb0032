"""schemathesis over the whole serving app — every operation, every check, every phase
(examples, coverage, fuzzing, stateful) — finds no 5xx and no response off the schema.

Bounded for CI: a few examples per operation and one worker, about a minute on a
busy 2-core machine. The seed is fixed, so a failure here reproduces.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from serving_support import open_yard, serving_config, start_server

from modelyard.serving import create_app

# 413 is the documented answer to a body over the byte limit, whatever its rows: a valid
# rejection of an invalid request, and a valid answer to a huge valid one.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = ["400", "404", "405", "413", "415", "422"]
[checks.positive_data_acceptance]
expected-statuses = ["200", "413"]
"""


@pytest.fixture(scope="module")
def serving(yard_root, tmp_path_factory):
    wal = tmp_path_factory.mktemp("fuzz-wal")
    yard = open_yard(yard_root)
    app = create_app(
        "credit-risk@champion",
        yard=yard,
        config=serving_config(
            max_body_bytes=64 * 1024,
            prediction_log={"root": str(wal / "log"), "wal_dir": str(wal / "wal")},
        ),
    )
    server = start_server(app)
    yield server
    server.stop()
    yard.close()


def run_schemathesis(url: str, tmp_path: Path, *extra: str) -> str:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(config),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        "15",
        "--seed",
        "20261207",
        "--workers",
        "1",
        "--no-color",
        "--request-timeout",
        "60",
        *extra,
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-8000:]
    return output


@pytest.mark.slow
def test_schemathesis_finds_nothing_on_the_serving_app(serving, tmp_path) -> None:
    output = run_schemathesis(serving.url, tmp_path)
    assert "No issues found" in output, output[-3000:]
