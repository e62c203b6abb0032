"""How numbers and text look in reports and model cards, defined once for Markdown and HTML."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

__all__ = ["DASH", "fmt_int", "fmt_num", "fmt_pct", "fmt_value", "fmt_when", "md_cell"]

DASH = "—"
"""Shown for a missing or undefined value, so a blank cell never hides a bug."""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt_num(value: Any, digits: int = 3) -> str:
    """A float with ``digits`` decimals; integers without decimals; DASH when missing."""
    if _missing(value):
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    # Adding 0.0 turns a rounded -0.0 into 0.0, so "-0.000" never appears.
    return f"{round(float(value), digits) + 0.0:,.{digits}f}"


def fmt_int(value: Any) -> str:
    """A count with thousands separators."""
    return DASH if _missing(value) else f"{round(float(value)):,}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage."""
    return DASH if _missing(value) else f"{round(100 * float(value), digits) + 0.0:.{digits}f}%"


def fmt_when(value: Any) -> str:
    """An ISO timestamp or datetime as ``YYYY-MM-DD HH:MM UTC``; other text unchanged."""
    if _missing(value):
        return DASH
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_value(value: Any) -> str:
    """Any metadata value (number, bool, list, text) as one short line."""
    if _missing(value):
        return DASH
    if isinstance(value, float) and 0 < abs(value) < 1e-3:
        return f"{value:.2e}"  # a tolerance such as 2.1e-07 must not read as 0.0000
    if isinstance(value, bool | int | float):
        return fmt_num(value, 4)
    if isinstance(value, list | tuple):
        return ", ".join(fmt_value(v) for v in value) or DASH
    return str(value)


def md_cell(value: Any) -> str:
    """Text safe inside a GitHub-flavoured Markdown table cell (no pipes, no line breaks)."""
    text = value if isinstance(value, str) else fmt_value(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>")
