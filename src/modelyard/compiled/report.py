"""Where a version's scorer choice is recorded, and how it reads to a person.

The choice is made automatically when the version is first loaded for serving
(:func:`modelyard.serving.models.load_version`): the pipeline is compiled when
it can be, checked against the native model on the version's input example,
and the outcome is attached to the version under :data:`COMPILE_REPORT` — the
scorer, whether it is compiled, the reason when it is not, the rows checked and
the tolerance. ``modelyard models get`` and ``models show`` print it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["COMPILE_REPORT", "describe_scorer"]

COMPILE_REPORT = "serving-compile-report"
"""Name of the version attachment holding the compile report."""


def describe_scorer(details: Mapping[str, Any] | None) -> str:
    """One line: the scorer and its tolerance, or why the version is not compiled."""
    if not details:
        return "not chosen yet (chosen when the version is first served)"
    scorer = details.get("scorer") or "native"
    if details.get("compiled"):
        tolerance = details.get("tolerance")
        exact = (
            "bit-identical to" if not tolerance else f"within {float(tolerance):g} (relative) of"
        )
        rows = details.get("verified_rows") or 0
        evaluator = details.get("evaluator")
        by = f"; evaluator: {evaluator}" if evaluator else ""
        return f"{scorer}: compiled, {exact} the native model on {rows} example rows{by}"
    reason = details.get("reason") or "no reason recorded"
    return f"{scorer}: not compiled — {reason}"
