"""What a running step can reach: the Yard, its own tracked run, the pipeline's parameters."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInput

if TYPE_CHECKING:
    from modelyard.tracking import ActiveRun
    from modelyard.yard import Yard

__all__ = ["StepContext", "step_context"]


@dataclass(frozen=True)
class StepContext:
    """The context of the step being executed (see ``step_context()``)."""

    yard: Yard
    run: ActiveRun
    pipeline: str
    step: str
    pipeline_run_id: str
    attempt: int = 1
    params: dict[str, Any] = field(default_factory=dict)
    # CI mode (``pipeline run --ci``): sign-offs are people's, so lifecycle steps
    # request them and never make them, and aliases are the release's to move.
    ci: bool = False
    uncached: list[str] = field(default_factory=list)

    def dont_cache(self, reason: str) -> None:
        """Keep this execution's outputs out of the cache: they depend on outside state
        (sign-offs not yet made), so the next run must ask again."""
        self.uncached.append(reason)


_current: ContextVar[StepContext | None] = ContextVar("modelyard_step_context", default=None)


def step_context() -> StepContext:
    """The running step's context; only inside a step executed by a pipeline runner."""
    ctx = _current.get()
    if ctx is None:
        raise InvalidInput(
            "step_context() is only available inside a step run by a pipeline "
            "(modelyard pipeline run FILE:PIPELINE, or Pipeline.run(yard))"
        )
    return ctx


def current_or_none() -> StepContext | None:
    return _current.get()
