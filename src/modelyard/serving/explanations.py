"""Reasons for served decisions: the top adverse reasons of each row, on request.

Every protocol asks the same way (``"explain": k`` in the plain body, the V2
request parameter ``explain``) and gets the same reasons for the same row,
because both call :func:`reasons_for` on the signature-checked rows. The
explainer (for a tree model, its TreeSHAP tables: a few seconds and some
megabytes) is built once per served version: when the version is loaded if
it has a registered reason table (it is meant to be explained), otherwise on
the first request that asks (servers of models nobody explains pay nothing).
The version's registered reason table is read when the version is loaded,
its input example (a linear model's reference point) when the explainer is
built. The work runs in a worker thread so that a slow explanation does not
hold up other requests on the event loop — except for a request of a few rows
once the explainer is built, whose explanation (well under a millisecond with
the tabulated TreeSHAP) costs less than the hand-off to a thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInput
from modelyard.explain.reasons import MAX_REASONS

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.explain import Explainer, ReasonTable
    from modelyard.serving.inputs import Payload
    from modelyard.serving.models import Prepared, ServedVersion

__all__ = ["MAX_REASONS", "ExplainSource", "explain_count", "explains_inline", "reasons_for"]

logger = logging.getLogger(__name__)

INLINE_ROWS = 4  # requests of at most this many rows are explained on the event loop


def explain_count(value: Any, field: str = "explain") -> int:
    """The number of reasons a request asks for (callers pass 0 when it does not ask).

    A whole float (``3.0``) counts as the integer it equals, as JSON Schema's
    ``integer`` says; ``true`` and ``2.5`` do not.

    Raises:
        InvalidInput: Not a whole number from 0 to ``MAX_REASONS``.
    """
    if type(value) is float and value.is_integer():
        value = int(value)  # JSON Schema's integer: 3.0 is the number 3
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
        self._matrix_ok = False  # the compiled path's matrix gives the native contributions
        self._lock = threading.Lock()

    def explainer(self, served: ServedVersion) -> Explainer:
        if self._explainer is None:
            with self._lock:
                if self._explainer is None:
                    from modelyard.explain import Explainer, explainable

                    # The model the server already loaded (a data format, or trusted code
                    # its rules let this server run): explaining loads nothing more.
                    native = served.loaded.native
                    why = explainable(native)
                    if why is not None:
                        raise InvalidInput(f"{served.key}: {why}")
                    if served.signature is None:
                        raise InvalidInput(f"{served.key} has no signature; it cannot explain")
                    background = self._background()
                    explainer = Explainer(
                        native, served.signature.input_names, background=background
                    )
                    self._matrix_ok = _matrix_agrees(served, explainer, background)
                    self._explainer = explainer
        return self._explainer

    @property
    def ready(self) -> bool:
        """Whether the explainer is built (explaining no longer builds anything)."""
        return self._explainer is not None

    def prepare(self, served: ServedVersion) -> None:
        """Build the explainer now; a model that cannot be explained is left to say so
        on the requests that ask (the version still serves plain requests)."""
        try:
            self.explainer(served)
        except InvalidInput as exc:
            logger.warning("%s: explanations unavailable: %s", served.key, exc.message)

    def use_matrix(self, served: ServedVersion) -> bool:
        """Whether the compiled path's matrix may stand in for the native preprocessing."""
        return self._matrix_ok and served.fast is not None


def _matrix_agrees(
    served: ServedVersion, explainer: Explainer, background: pd.DataFrame | None
) -> bool:
    """Whether the compiled path's matrix gives the native contributions on the example.

    A compiled scorer is checked against the native model's *outputs*; explaining
    from its matrix needs the matrix itself to be the native preprocessing's, so
    that is checked once here on the version's input example (the rows must give
    the same contributions to 1e-9), and otherwise explanations use the native
    preprocessing on a frame.
    """
    import numpy as np

    from modelyard.serving.inputs import Payload

    if served.fast is None or background is None or served.signature is None:
        return False
    names = served.signature.input_names
    if any(c not in background.columns for c in names):
        return False
    frame = background[names].head(200).dropna()
    if frame.empty:
        return False
    try:
        matrix = served.fast.encode(Payload.from_columns({c: frame[c].tolist() for c in names}))
        if matrix is None:
            return False
        via_matrix = explainer.contributions_of_matrix(matrix).values
    except (InvalidInput, ValueError, TypeError):
        return False
    return bool(np.allclose(via_matrix, explainer.contributions(frame).values, rtol=0, atol=1e-9))


def _shown(payload: Payload) -> dict[str, list[Any]] | None:
    """The rows' values per column as a frame of them would type them (the values the
    reasons show), without building one; None when any value is null.

    A column mixing whole and fractional numbers reads as floats, as in a float64
    column. A row with a null goes through the native preprocessing on a frame
    instead: ``_matrix_agrees`` compared the two paths on the example's complete
    rows only. One pass over the values serves both checks.
    """
    out: dict[str, list[Any]] = {}
    for name, column in payload.as_columns().items():
        values = list(column)
        kinds = set(map(type, values))
        if _NONE in kinds:
            return None
        if any(issubclass(kind, float) for kind in kinds):  # numpy's float64 included
            if any(v != v for v in values):  # NaN
                return None
            if int in kinds and kinds <= _INT_FLOAT:
                values = [float(v) for v in values]
        out[name] = values
    return out


_NONE = type(None)
_INT_FLOAT = frozenset((int, float))


def _frame(served: ServedVersion, payload: Payload, contract: Any) -> pd.DataFrame:
    """The rows as the canonical path scores them: through the route's contract."""
    import pandas as pd

    columns = payload.as_columns()
    if contract is not None:
        columns, _ = contract.check_columns(columns)
    elif served.signature is not None:
        columns = served.signature.enforce_columns(columns)
    return pd.DataFrame(columns)


def _explain(
    served: ServedVersion, payload: Payload, k: int, prepared: Prepared | None, contract: Any
) -> list[list[dict[str, Any]]]:
    """Reasons for the rows exactly as they were scored (``prepared``), when given."""
    import pandas as pd

    from modelyard.explain import explain_reasons, top_reasons
    from modelyard.serving.models import COLUMNS, FRAME, MATRIX

    source: ExplainSource | None = getattr(served, "explain_source", None)
    if source is None:
        source = ExplainSource(None, lambda: None)
    explainer = source.explainer(served)
    if prepared is not None and prepared.kind == MATRIX and source.use_matrix(served):
        shown = _shown(payload)
        if shown is not None:
            # The compiled path's matrix, checked to be the preprocessing's own output: no
            # pandas and no scikit-learn preprocessing on the way to the booster.
            values = explainer.values_of_matrix(prepared.data)
            return top_reasons(values, explainer.columns, shown, source.table, k)
    if prepared is not None and prepared.kind == FRAME:
        frame = prepared.data
    elif prepared is not None and prepared.kind == COLUMNS:
        frame = pd.DataFrame(prepared.data)
    else:
        frame = _frame(served, payload, contract)
    return explain_reasons(explainer, frame, source.table, k)


async def reasons_for(
    served: ServedVersion,
    payload: Payload,
    k: int,
    prepared: Prepared | None = None,
    contract: Any = None,
) -> list[list[dict[str, Any]]] | None:
    """Per row, the top ``k`` adverse reasons; None when ``k`` is 0.

    ``prepared`` is the request's input as it was scored and ``contract`` the
    route's input contract: the rows explained are the rows scored, with the
    same treatment of out-of-domain values.
    """
    if k == 0:
        return None
    if explains_inline(served, payload):
        return _explain(served, payload, k, prepared, contract)
    return await asyncio.to_thread(_explain, served, payload, k, prepared, contract)


def explains_inline(served: ServedVersion, payload: Payload) -> bool:
    """Whether ``reasons_for`` explains on the event loop: a few rows with the explainer
    built, well under a millisecond of work, less than handing it to a worker thread
    costs on a busy machine."""
    source: ExplainSource | None = getattr(served, "explain_source", None)
    return source is not None and source.ready and payload.n <= INLINE_ROWS
