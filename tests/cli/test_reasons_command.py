"""``modelyard models reasons`` and ``models register --reasons`` from the command line."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import yaml

from modelyard.data.synthetic import FEATURES, generate
from modelyard.demo.credit_models import logistic_pipeline, split_xy


def _files(tmp_path: Path) -> tuple[Path, Path]:
    frame = generate(800, seed=4)
    x, y = split_xy(frame)
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps(logistic_pipeline().fit(x, y)))
    example = tmp_path / "example.parquet"
    frame[list(FEATURES)].head(100).to_parquet(example, index=False)
    return pkl, example


def _table(tmp_path: Path, *, drop: str | None = None) -> Path:
    reasons = {c: {"code": c.upper(), "text": f"{c} was adverse"} for c in FEATURES if c != "age"}
    if drop:
        del reasons[drop]
    path = tmp_path / "reasons.yaml"
    path.write_text(yaml.safe_dump({"reasons": reasons, "excluded": {"age": "protected"}}))
    return path


def test_register_show_and_replace_a_reason_table(cli, tmp_path: Path) -> None:
    pkl, example = _files(tmp_path)
    reg = cli(
        "models",
        "register",
        "credit-risk",
        str(pkl),
        "--example",
        str(example),
        "--reasons",
        str(_table(tmp_path)),
    )
    assert reg.code == 0, reg.err
    shown = cli("models", "reasons", "credit-risk/1", "--json")
    assert shown.code == 0 and shown.json()["excluded"] == {"age": "protected"}
    assert cli("models", "register", "credit-risk", str(pkl), "--example", str(example)).code == 0
    none = cli("models", "reasons", "credit-risk/2")
    assert none.code == 0 and "no reviewed reason table" in none.out
    table = tmp_path / "new.json"
    table.write_text(json.dumps({"reasons": {}, "excluded": list(FEATURES)}))
    done = cli("models", "reasons", "credit-risk/2", str(table))
    assert done.code == 0 and "registered the reason table of credit-risk/2" in done.out


def test_an_incomplete_table_is_refused_naming_the_column(cli, tmp_path: Path) -> None:
    pkl, example = _files(tmp_path)
    assert cli("models", "register", "credit-risk", str(pkl), "--example", str(example)).code == 0
    bad = cli("models", "reasons", "credit-risk/1", str(_table(tmp_path, drop="income")))
    assert bad.code != 0 and "['income'] have no reason and are not excluded" in bad.err
    missing = cli("models", "reasons", "credit-risk/1", str(tmp_path / "nope.yaml"))
    assert missing.code != 0 and "cannot read it" in missing.err


def test_document_writes_html_and_markdown(cli, tmp_path: Path) -> None:
    pkl, example = _files(tmp_path)
    assert cli("models", "register", "credit-risk", str(pkl), "--example", str(example)).code == 0
    result = cli("models", "document", "credit-risk/1", "--output", str(tmp_path / "pack"))
    assert result.code == 0, result.err
    assert (tmp_path / "pack" / "technical_documentation.html").exists()
    markdown = (tmp_path / "pack" / "technical_documentation.md").read_text()
    assert "## Sign-offs" in markdown and "**Not recorded.**" in markdown
    assert "not recorded: " in result.out and "Sign-offs" in result.out
    missing = cli("models", "document", "credit-risk/9")
    assert missing.code != 0 and "credit-risk" in missing.err
