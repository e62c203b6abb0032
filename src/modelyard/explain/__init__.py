"""Per-decision explanations: contributions of each input column, and reason codes.

Sits beside ``flavors`` and ``registry``: it reads fitted models and returns
plain arrays and records; serving, batch and monitoring call it, and it
imports none of them.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from modelyard.explain.contributions import Contributions, Explainer, explainable
from modelyard.explain.reasons import (
    MAX_REASONS,
    ReasonTable,
    default_text,
    read_table_file,
    reason_columns,
    top_reasons,
    validate_table,
)

__all__ = [
    "MAX_REASONS",
    "REASON_TABLE",
    "Contributions",
    "Explainer",
    "ReasonTable",
    "default_text",
    "explain_reasons",
    "explainable",
    "read_table_file",
    "reason_columns",
    "table_of",
    "top_reasons",
    "validate_table",
]

REASON_TABLE = "reason_table.json"
"""Name under which a version's reviewed reason table is attached to it."""


def explain_reasons(
    explainer: Explainer, frame: pd.DataFrame, table: ReasonTable | None, k: int
) -> list[list[dict[str, Any]]]:
    """The top ``k`` adverse reasons of every row of ``frame`` (see ``top_reasons``)."""
    return top_reasons(explainer.values(frame), explainer.columns, frame, table, k)


def table_of(info: Any) -> ReasonTable | None:
    """The reason table attached to a version record (a ``ModelVersionInfo``), or None."""
    record = info.artifact(REASON_TABLE)
    if record is None:
        return None
    return ReasonTable(**record.details["table"])
