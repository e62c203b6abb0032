"""Reading ``yard.monitors`` (an optional service) for the API and the dashboard.

The monitoring service is provided by another part of the platform and may be
absent. These readers call it through a few duck-typed names — results
(``results``/``list``/``history``) and alerts (``alerts``/``list_alerts``) —
and return plain dicts, or ``None`` when the service offers neither.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.server.pagination import PageParams

RESULT_CALLS = ("results", "list", "history")
ALERT_CALLS = ("alerts", "list_alerts")


def as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    to_dict = getattr(item, "to_dict", None)
    return to_dict() if callable(to_dict) else dict(getattr(item, "__dict__", {}))


def call(service: Any, names: Iterable[str], **kwargs: Any) -> list[dict[str, Any]] | None:
    for name in names:
        method = getattr(service, name, None)
        if callable(method):
            try:
                found = method(**kwargs)
            except TypeError:  # a service without these filters
                found = method()
            return [as_dict(x) for x in found]
    return None


def page(
    service: Any, names: Iterable[str], pages: PageParams, **kwargs: Any
) -> dict[str, Any] | None:
    """One page of a listing, fetched a page at a time when the service pages (``limit``
    and ``offset``; the real ``yard.monitors.alerts`` does), else cut from the whole list.

    Asking for ``limit + 1`` rows tells whether another page follows without
    counting every row.
    """
    for name in names:
        method = getattr(service, name, None)
        if callable(method):
            try:
                found = method(**kwargs, limit=pages.limit + 1, offset=pages.offset)
            except TypeError:  # a service that does not page: the whole list, sliced here
                whole = call(service, (name,), **kwargs)
                return pages.slice(whole or [], dict)
            return pages.page([as_dict(x) for x in found], dict)
    return None


def results(service: Any, model: str | None = None) -> list[dict[str, Any]] | None:
    return call(service, RESULT_CALLS, **({"model": model} if model else {}))


def alerts(service: Any, model: str | None = None) -> list[dict[str, Any]] | None:
    return call(service, ALERT_CALLS, **({"model": model} if model else {}))
