"""Reading ``yard.monitors`` (an optional service) for the API and the dashboard.

The monitoring service is provided by another part of the platform and may be
absent. These readers call it through a few duck-typed names — results
(``results``/``list``/``history``) and alerts (``alerts``/``list_alerts``) —
and return plain dicts, or ``None`` when the service offers neither.

Filters are passed only to a method whose signature takes them, and a filter
the method does not take is refused (:class:`InvalidInput` naming it): a
listing asked for with filters is filtered or an error, never the whole list.
A failure inside the service is never retried without the filters: its own
errors (not found, permission denied) pass through, and anything else (a bug,
a ``TypeError`` too) is logged with its traceback and answered as
:class:`BackendUnavailable` (503, "see the server log"), a clear error
rather than an internal one.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from modelyard.errors import BackendUnavailable, InvalidInput, ModelyardError

if TYPE_CHECKING:
    from modelyard.server.pagination import PageParams

log = logging.getLogger("modelyard.server")

RESULT_CALLS = ("results", "list", "history")
ALERT_CALLS = ("alerts", "list_alerts")


def as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    to_dict = getattr(item, "to_dict", None)
    return to_dict() if callable(to_dict) else dict(getattr(item, "__dict__", {}))


def _takes(method: Callable[..., Any], names: Iterable[str]) -> list[str]:
    """Which of ``names`` ``method`` takes as keyword arguments, read from its signature."""
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin): it is called as asked
        return list(names)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return list(names)
    keywords = {
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    }
    return [n for n in names if n in keywords]


def _refuse_missing(method: Callable[..., Any], name: str, filters: Iterable[str]) -> None:
    """Raise :class:`InvalidInput` naming the first filter ``method`` does not take."""
    wanted = list(filters)
    taken = set(_takes(method, wanted))
    for key in wanted:
        if key not in taken:
            raise InvalidInput(
                f"{key}: this Modelyard's monitoring service cannot filter its {name} by {key}"
            )


def _listed(method: Callable[..., Any], name: str, **kwargs: Any) -> list[dict[str, Any]]:
    """``method(**kwargs)`` as dicts; a failure that is not a Modelyard error is a clear one."""
    try:
        return [as_dict(x) for x in method(**kwargs)]
    except ModelyardError:
        raise
    except Exception as exc:
        log.exception("the monitoring service failed listing its %s", name)
        raise BackendUnavailable(
            f"the monitoring service failed listing its {name} "
            f"({type(exc).__name__}); see the server log"
        ) from exc


def call(service: Any, names: Iterable[str], **kwargs: Any) -> list[dict[str, Any]] | None:
    """The first of ``names`` the service has, called with the filters ``kwargs``.

    Raises:
        InvalidInput: The method does not take one of the filters (named).
        BackendUnavailable: The method failed with an error that is not a Modelyard one.
    """
    for name in names:
        method = getattr(service, name, None)
        if callable(method):
            _refuse_missing(method, name, kwargs)
            return _listed(method, name, **kwargs)
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
            if len(_takes(method, ("limit", "offset"))) < 2:
                # A service that does not page: the whole (filtered) list, sliced here.
                return pages.slice(call(service, (name,), **kwargs) or [], dict)
            _refuse_missing(method, name, kwargs)
            found = _listed(method, name, **kwargs, limit=pages.limit + 1, offset=pages.offset)
            return pages.page(found, dict)
    return None


def results(service: Any, model: str | None = None) -> list[dict[str, Any]] | None:
    return call(service, RESULT_CALLS, **({"model": model} if model else {}))


def alerts(service: Any, model: str | None = None) -> list[dict[str, Any]] | None:
    return call(service, ALERT_CALLS, **({"model": model} if model else {}))
