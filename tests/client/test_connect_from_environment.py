"""The configuration alone can point a process at the shared server.

CI jobs and the generated workflows set ``MODELYARD_STORE_URL=https://...`` and
``MODELYARD_TOKEN`` and run the same code and CLI commands as on a laptop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelyard
from modelyard.client import RemoteYard
from modelyard.registry.tokens import Unauthenticated


def test_connect_goes_remote_when_the_environment_names_a_server(site, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELYARD_STORE_URL", site.url)
    monkeypatch.setenv("MODELYARD_TOKEN", site.tokens["dev"])
    monkeypatch.setenv("MODELYARD_HOME", str(tmp_path / "home"))
    with modelyard.connect() as yard:
        assert isinstance(yard, RemoteYard)
        assert yard.user == "dev"
        with yard.start_run(experiment="from-env") as run:
            run.log_metrics({"auc": 0.81})
    # It is on the server's store, not in a local SQLite file next to the job.
    assert not (tmp_path / "home" / "yard.db").exists()
    # A home named in modelyard.toml is the remote Yard's home too (its caches live there).
    monkeypatch.delenv("MODELYARD_HOME")
    (tmp_path / "modelyard.toml").write_text('home = "ci-home"\n')
    with modelyard.connect() as yard:
        assert Path(yard.home) == Path("ci-home")
    admin = site.local("root")  # the store itself, with root's token
    try:
        stored = admin.runs.get(run.id)
        assert stored.metrics["auc"] == pytest.approx(0.81)
    finally:
        admin.close()


def test_the_cli_works_against_the_server_from_the_environment(site, tmp_path):
    admin = site.local("root")  # the store itself, with root's token
    try:
        admin.models.create("seen-from-ci", description="made on the server's store")
    finally:
        admin.close()
    env = {
        **os.environ,
        "MODELYARD_STORE_URL": site.url,
        "MODELYARD_TOKEN": site.tokens["viewer"],
        "MODELYARD_HOME": str(tmp_path / "home"),
    }

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "modelyard.cli.main", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    names = [m["name"] for m in json.loads(cli("models", "list", "--json"))]
    assert "seen-from-ci" in names
    described = json.loads(cli("info", "--json"))
    assert described["server"] == site.url and described["user"] == "viewer"


def test_a_wrong_token_in_the_environment_is_refused_by_name(site, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELYARD_STORE_URL", site.url)
    monkeypatch.setenv("MODELYARD_TOKEN", "myd_not-a-real-token")
    with pytest.raises(Unauthenticated, match="token"), modelyard.connect() as yard:
        yard.start_run(experiment="refused")
