"""The example in docs/pipelines.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from modelyard.demo.people import enrol
from modelyard.pipelines import load_pipeline, run_pipeline

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"


def test_docs_example_runs(pyard, tmp_path: Path) -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert code is not None
    flows = tmp_path / "flows.py"
    flows.write_text(code.group(1), encoding="utf-8")
    pipeline = load_pipeline(f"{flows}:train")

    people = enrol(pyard)
    yard = people.yard

    result = run_pipeline(yard, pipeline, {"rows": 3_000})

    assert result.ok, result.failure_message()
    assert result.output("promote", "alias") == ""  # awaiting sign-off, as the docs say
    people.sign_off("credit-risk/1")
    signed = run_pipeline(yard, pipeline, {"rows": 3_000})
    assert sorted(signed.executed) == ["promote", "request-approval"]
    assert yard.models.get("credit-risk@champion").version == 1
    again = run_pipeline(yard, pipeline, {"rows": 3_000})
    assert again.executed == []
