"""The import-linter contracts in pyproject.toml hold (``make test`` runs this file).

The inference path (``modelyard.serving``, the compiler ``modelyard.compiled`` and
whatever they import) must not reach the platform server, its remote client or the
CLI: a serving worker then loads only what scoring needs, and a change there cannot
break serving. Batch and serving are neighbours: batch imports nothing of serving,
and the compiler both use imports neither.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_serving_imports_no_client_server_or_cli() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
    run = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    for contract in (
        "serving imports no platform server, client or CLI",
        "batch imports no serving, platform server, client or CLI",
        "the compiler imports no service layer",
    ):
        assert f"{contract} KEPT" in output, output[-4000:]


def test_a_batch_scorer_loads_no_serving_module() -> None:
    """Batch scoring compiles pipelines with modelyard.compiled, not through serving."""
    code = (
        "import sys, modelyard.batch.scoring, modelyard.compiled;"
        "print(sorted(m for m in sys.modules if m.startswith(('modelyard.serving',"
        " 'modelyard.client', 'modelyard.server', 'modelyard.cli'))))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "[]"


def test_a_serving_process_loads_no_client_module() -> None:
    code = (
        "import sys, modelyard.serving.server, modelyard.serving.app;"
        "print(sorted(m for m in sys.modules if m.startswith(('modelyard.client',"
        " 'modelyard.server', 'modelyard.cli'))))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *sys.path])}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "[]"


def test_serving_refuses_a_server_url_as_its_store(monkeypatch, tmp_path) -> None:
    import pytest

    from modelyard.errors import InvalidInput
    from modelyard.serving import create_app
    from modelyard.serving.server import serve

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELYARD_STORE_URL", "https://yard.internal")
    with pytest.raises(InvalidInput, match=r"store_url: .https://yard\.internal. is a Modelyard"):
        create_app("credit-risk@champion")
    with pytest.raises(InvalidInput, match="--workers > 1 needs a database store_url"):
        serve(["credit-risk@champion"], workers=2)
