"""Reasons for served decisions: the top adverse reasons of each row, on request.

Every protocol asks the same way (``"explain": k`` in the plain body, the V2
request parameter ``explain``) and gets the same reasons for the same row,
because both call :func:`reasons_for` on the signature-checked rows. The
explainer is built once per served version, on the first request that asks
(requests that do not ask pay nothing); the version's registered reason
table and input example (a linear model's reference point) are read when the
version is loaded. The work runs in a worker thread so that a slow
explanation does not hold up other requests on the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInput
from modelyard.explain.reasons import MAX_REASONS

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.explain import Explainer, ReasonTable
    from modelyard.serving.inputs import Payload
    from modelyard.serving.models import ServedVersion

__all__ = ["MAX_REASONS", "ExplainSource", "explain_count", "reasons_for"]


def explain_count(value: Any, field: str = "explain") -> int:
    """The number of reasons a request asks for (callers pass 0 when it does not ask).

    Raises:
        InvalidInput: Not a whole number from 0 to ``MAX_REASONS``.
    """
    if type(value) is not int or not 0 <= value <= MAX_REASONS:
        raise InvalidInput(
            f"{field}: must be a whole number of reasons from 0 to {MAX_REASONS}; got {value!r}"
        )
    return value


class ExplainSource:
    """What a served version needs to explain: its reason table and background rows."""

    def __init__(
        self, table: ReasonTable | None, background: Callable[[], pd.DataFrame | None]
    ) -> None:
        self.table = table
        self._background = background
        self._explainer: Explainer | None = None
        self._lock = threading.Lock()

    def explainer(self, served: ServedVersion) -> Explainer:
        if self._explainer is None:
            with self._lock:
                if self._explainer is None:
                    from modelyard.explain import Explainer, explainable

                    native = served.loaded.native
                    why = explainable(native)
                    if why is not None:
                        raise InvalidInput(f"{served.key}: {why}")
                    if served.signature is None:
                        raise InvalidInput(f"{served.key} has no signature; it cannot explain")
                    self._explainer = Explainer(
                        native, served.signature.input_names, background=self._background()
                    )
        return self._explainer


def _frame(served: ServedVersion, payload: Payload) -> pd.DataFrame:
    import pandas as pd

    columns = payload.as_columns()
    if served.signature is not None:
        columns = served.signature.enforce_columns(columns)
    return pd.DataFrame(columns)


def _explain(served: ServedVersion, payload: Payload, k: int) -> list[list[dict[str, Any]]]:
    import pandas as pd

    from modelyard.explain import explain_reasons, top_reasons

    source: ExplainSource | None = getattr(served, "explain_source", None)
    if source is None:
        source = ExplainSource(None, lambda: None)
    explainer = source.explainer(served)
    matrix = served.fast.encode(payload) if served.fast is not None else None
    if matrix is None:
        return explain_reasons(explainer, _frame(served, payload), source.table, k)
    # The compiled path's matrix is the preprocessing's exact output: no pandas, no sklearn.
    contributions = explainer.contributions_of_matrix(matrix)
    values = pd.DataFrame(payload.as_columns())
    return top_reasons(contributions.values, contributions.columns, values, source.table, k)


async def reasons_for(
    served: ServedVersion, payload: Payload, k: int
) -> list[list[dict[str, Any]]] | None:
    """Per row, the top ``k`` adverse reasons; None when ``k`` is 0."""
    if k == 0:
        return None
    return await asyncio.to_thread(_explain, served, payload, k)
