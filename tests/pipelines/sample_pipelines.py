"""Small pipelines the runner tests drive; steps record their calls in ``CALLS``."""

from __future__ import annotations

import threading
from pathlib import Path

from modelyard.pipelines import pipeline, step, step_context

CALLS: list[str] = []
ATTEMPTS: dict[str, int] = {}
STARTED = {"left": threading.Event(), "right": threading.Event()}


def reset() -> None:
    CALLS.clear()
    ATTEMPTS.clear()
    for event in STARTED.values():
        event.clear()


@step
def source(n: int) -> list:
    CALLS.append("source")
    return list(range(n))


@step
def total(xs: list) -> dict:
    CALLS.append("total")
    return {"total": float(sum(xs))}


@step
def scale(factor: float) -> float:
    CALLS.append("scale")
    return factor * 2


@step
def combine(summary: dict, scaled: float) -> dict:
    CALLS.append("combine")
    step_context().run.log_metric("scaled", scaled)
    return {"result": summary["total"] * scaled}


@step
def count(xs: list) -> int:
    CALLS.append("count")
    return len(xs)


@pipeline(name="numbers")
def numbers(n: int = 5, factor: float = 1.0):
    xs = source(n)
    combine(total(xs), scale(factor))
    count(xs)


@step
def fragile(xs: list, flag: str) -> int:
    """Fails while the flag file exists (the 'bug'); removing it is the 'fix'."""
    CALLS.append("fragile")
    if Path(flag).exists():
        raise RuntimeError(f"flag {flag} is set")
    return sum(xs)


@step
def after_fragile(value: int) -> int:
    CALLS.append("after_fragile")
    return value + 1


@pipeline(name="fragile")
def fragile_pipeline(flag: str, n: int = 4):
    xs = source(n)
    after_fragile(fragile(xs, flag))
    count(xs)


@step(retries=3, backoff=0.5, max_backoff=1.0)
def flaky(fail_times: int) -> str:
    ATTEMPTS["flaky"] = ATTEMPTS.get("flaky", 0) + 1
    if ATTEMPTS["flaky"] <= fail_times:
        raise ConnectionError(f"transient failure {ATTEMPTS['flaky']}")
    return "ok"


@pipeline(name="flaky")
def flaky_pipeline(fail_times: int = 2):
    flaky(fail_times)


@step
def left() -> str:
    STARTED["left"].set()
    saw = STARTED["right"].wait(timeout=300)
    return "saw right" if saw else "alone"


@step
def right() -> str:
    STARTED["right"].set()
    saw = STARTED["left"].wait(timeout=300)
    return "saw left" if saw else "alone"


@pipeline(name="branches")
def branches():
    left()
    right()
