"""The compile report attached to a version: which scorer it got, and why.

``summary`` (stored as the attachment's details, shown by ``models get``) says
the scorer, the reason when the model is not compiled, the rows of the input
example on which the compiled answers were checked against the native model and
the tolerance; ``report.json`` adds what each preprocessing branch compiled to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["compile_report", "write_report"]


def compile_report(served: Any, digest: str, reason: str, verified: int) -> dict[str, Any]:
    """The report of a loaded version (``served``: a ServedVersion after its parity check)."""
    fast = served.fast
    compiled = fast is not None
    summary: dict[str, Any] = {
        "model_digest": digest,
        "scorer": served.scorer,
        "evaluator": getattr(fast, "evaluator", None) if compiled else None,
        "compiled": compiled,
        "reason": "compiled" if compiled else _reason(served, reason),
        "verified_rows": verified if compiled else 0,
        "tolerance": float(getattr(fast, "tolerance", 0.0)) if compiled else None,
    }
    return {"summary": summary, "plan": getattr(fast, "report", None), "notes": served.notes}


def _reason(served: Any, reason: str) -> str:
    if reason == "compiled":  # compiled, then dropped by the parity check
        failed = [n for n in served.notes if n.startswith("compiled path not exact")]
        return failed[0] if failed else "the compiled path was dropped"
    return reason


def write_report(directory: Path, report: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=1, sort_keys=True, default=str)
    (directory / "report.json").write_text(text, encoding="utf-8")
