"""info, db upgrade, data synth, datasets and runs from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import modelyard


def test_info_shows_embedded_default(cli) -> None:
    result = cli("info", "--json")
    assert result.code == 0
    data = result.json()
    assert data["store_url"] == "sqlite:///.modelyard/yard.db"
    assert data["artifact_root"] == ".modelyard/artifacts"
    assert data["schema_revision"] is None  # info does not migrate
    assert cli("db", "upgrade").code == 0
    assert cli("info", "--json").json()["schema_revision"] == data["schema_head"]
    assert "already at" in cli("db", "upgrade").out


def test_config_file_and_environment(cli, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "modelyard.toml").write_text('[modelyard]\nuser = "filed"\nhome = "yardhome"\n')
    data = cli("info", "--json").json()
    assert data["user"] == "filed" and data["store_url"] == "sqlite:///yardhome/yard.db"
    monkeypatch.setenv("MODELYARD_USER", "env-wins")
    assert cli("info", "--json").json()["user"] == "env-wins"
    (tmp_path / "modelyard.toml").write_text("[modelyard\n")
    bad = cli("info")
    assert bad.code == 2 and "not valid TOML" in bad.err


def test_synth_register_list_show(cli, tmp_path: Path) -> None:
    result = cli(
        "data", "synth", "--rows", "500", "--scenario", "income_shift", "-o", "loans.parquet"
    )
    assert result.code == 0 and "wrote 500 rows" in result.out
    assert (tmp_path / "loans.parquet").exists()
    reg = cli("datasets", "register", "loans", "loans.parquet", "--json")
    assert reg.code == 0 and reg.json()["version"] == 1
    again = cli("datasets", "register", "loans", "loans.parquet", "--json")
    assert again.json()["version"] == 1
    listed = cli("datasets", "list", "--json").json()
    assert listed[0]["name"] == "loans" and listed[0]["latest_rows"] == 500
    shown = cli("datasets", "show", "loans/1")
    assert shown.code == 0 and "income" in shown.out and "loan_purpose" in shown.out


def test_runs_list_show_compare(cli, tmp_path: Path) -> None:
    yard = modelyard.connect()
    ids = []
    for auc in (0.7, 0.8):
        with yard.start_run(experiment="credit") as run:
            run.log_params({"model": "lgbm"})
            run.log_metrics({"auc": auc})
        ids.append(run.id)
    yard.close()
    listed = cli("runs", "list", "--filter", "metrics.auc > 0.75", "--json").json()
    assert [r["id"] for r in listed] == [ids[1]]
    assert cli("runs", "show", ids[0][:8]).code == 0
    compared = cli("runs", "compare", ids[0], ids[1], "--json").json()
    assert compared["metrics"]["auc"] == [0.7, 0.8]
    table = cli("runs", "compare", ids[0], ids[1])
    assert "metric auc" in table.out


def test_bad_input_exits_non_zero_with_a_message(cli) -> None:
    missing = cli("datasets", "register", "loans", "nowhere.parquet")
    assert missing.code == 2 and "no such file" in missing.err
    unknown = cli("datasets", "show", "nope")
    assert unknown.code == 3 and "no dataset 'nope'" in unknown.err
    malformed = cli("runs", "list", "--filter", "metrics.auc >> 1")
    assert malformed.code == 2 and "filter" in malformed.err
    scenario = cli("data", "synth", "--scenario", "meteor", "-o", "x.parquet")
    assert scenario.code == 2 and "income_shift" in scenario.err
    usage = cli("runs", "show")
    assert usage.code == 2
    no_output = cli("data", "synth", "--rows", "10")
    assert no_output.code == 2 and "--output is required" in no_output.err
    listed = cli("data", "synth", "--list")  # needs no output file
    assert listed.code == 0 and "income_shift" in listed.out


def test_console_script_exit_code_and_no_traceback(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "modelyard"
    proc = subprocess.run(
        [str(script), "datasets", "show", "nope"], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr and "no dataset 'nope'" in proc.stderr
