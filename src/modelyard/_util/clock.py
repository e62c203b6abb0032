"""Time as integer epoch milliseconds, the unit every stored time uses."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ms_to_datetime(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def ms_to_iso(ms: int | None) -> str | None:
    value = ms_to_datetime(ms)
    return value.isoformat(timespec="milliseconds") if value else None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str, what: str) -> timedelta:
    """``30s``, ``15m``, ``12h``, ``1d``, ``2w`` (also ``1.5h``) as a timedelta.

    ``what`` names the option or field in the error (``--window``, ``expires_in``).
    """
    from modelyard.errors import InvalidInput

    match = _DURATION.match(text.lower()) if isinstance(text, str) else None
    if not match or float(match[1]) <= 0:
        raise InvalidInput(
            f"{what} takes a positive duration such as 12h, 1d or 7d (units s, m, h, d, w). "
            f"Got {text!r} instead."
        )
    return timedelta(seconds=float(match[1]) * _SECONDS[match[2]])
