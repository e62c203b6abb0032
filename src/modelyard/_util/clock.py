"""Time as integer epoch milliseconds, the unit every stored time uses."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ms_to_datetime(ms: int | None) -> datetime | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def ms_to_iso(ms: int | None) -> str | None:
    value = ms_to_datetime(ms)
    return value.isoformat(timespec="milliseconds") if value else None
