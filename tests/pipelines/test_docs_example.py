"""The example in docs/pipelines.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

from modelyard.pipelines import load_pipeline, run_pipeline

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipelines.md"


def test_docs_example_runs(pyard, tmp_path: Path) -> None:
    code = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert code is not None
    flows = tmp_path / "flows.py"
    flows.write_text(code.group(1), encoding="utf-8")
    pipeline = load_pipeline(f"{flows}:train")

    result = run_pipeline(pyard, pipeline, {"rows": 3_000})

    assert result.ok, result.failure_message()
    assert pyard.models.get("credit-risk@champion").version == 1
    again = run_pipeline(pyard, pipeline, {"rows": 3_000})
    assert again.executed == []
