"""Cursor pagination shared by every list endpoint: ``?limit=&cursor=``, opaque cursors.

A cursor is a letter and a number: ``o<offset>`` for offset pages,
``a<seq>`` (the last key seen) for keyset pages. Its pattern is in the
OpenAPI schema, so a cursor the schema allows is one the server reads.
Clients must still treat it as opaque: pass back the ``next_cursor`` of one
page to get the next; ``null`` means the last page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Query

from modelyard.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000


# An offset up to MAX_OFFSET, or a keyset position up to 2**53.
CURSOR_PATTERN = r"^(o(0|[1-9][0-9]{0,5}|1000000)|a(0|[1-9][0-9]{0,14}))$"
_CURSOR = re.compile(CURSOR_PATTERN)
_KEYS = {"o": "o", "after": "a"}


def encode_cursor(state: dict[str, Any]) -> str:
    ((key, value),) = state.items()
    return f"{_KEYS[key]}{int(value)}"


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    if not _CURSOR.match(cursor):
        raise InvalidInput("cursor is not valid: pass back the next_cursor of a previous page")
    return {"o" if cursor[0] == "o" else "after": int(cursor[1:])}


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None

    @property
    def state(self) -> dict[str, Any]:
        return decode_cursor(self.cursor)

    @property
    def offset(self) -> int:
        value = self.state.get("o", 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_OFFSET:
            raise InvalidInput("cursor is not valid: pass back the next_cursor of a previous page")
        return value

    def page(self, fetched: Sequence[T], convert: Callable[[T], Any]) -> dict[str, Any]:
        """A page from ``limit + 1`` rows fetched at ``offset``: the extra row says 'more'."""
        more = len(fetched) > self.limit
        items = [convert(x) for x in fetched[: self.limit]]
        next_cursor = encode_cursor({"o": self.offset + self.limit}) if more else None
        return {"items": items, "next_cursor": next_cursor}

    def slice(self, everything: Sequence[T], convert: Callable[[T], Any]) -> dict[str, Any]:
        """A page of a list the service returns whole (small collections)."""
        start = self.offset
        return self.page(everything[start : start + self.limit + 1], convert)


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1 to 500).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            pattern=CURSOR_PATTERN,
            description="The next_cursor of the previous page; omit for the first.",
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit, cursor)
