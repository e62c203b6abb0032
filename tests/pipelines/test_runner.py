"""The local runner: caching, parameters, failure and resume, retries, parallel branches."""

from __future__ import annotations

from pathlib import Path

import pytest
import sample_pipelines as sp

from modelyard.pipelines import PipelineFailed, resume_pipeline, run_pipeline
from modelyard.pipelines.runner import TAG_CACHE_HIT, TAG_PARENT, TAG_STEP


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    sp.reset()


def test_second_run_of_unchanged_pipeline_reruns_no_step(pyard) -> None:
    first = run_pipeline(pyard, sp.numbers)
    assert first.ok and sorted(first.executed) == ["combine", "count", "scale", "source", "total"]
    assert first.output("combine") == {"result": 10.0 * 2}
    sp.CALLS.clear()

    second = run_pipeline(pyard, sp.numbers)

    assert second.ok and second.executed == [] and sp.CALLS == []
    assert sorted(second.cached) == sorted(first.executed)
    assert second.output("combine") == first.output("combine")
    children = pyard.runs.search(f"tags.`{TAG_PARENT}` = '{second.run_id}'")
    assert {r.tags[TAG_STEP] for r in children} == set(first.executed)
    assert all(r.tags[TAG_CACHE_HIT] == "true" and r.status == "FINISHED" for r in children)
    # A cached step's run carries the metrics of the run that computed it.
    cached_combine = next(r for r in children if r.tags[TAG_STEP] == "combine")
    assert cached_combine.metrics["scaled"] == 2.0 and cached_combine.metrics["result"] == 20.0


def test_changing_one_parameter_reruns_exactly_the_steps_downstream(pyard) -> None:
    run_pipeline(pyard, sp.numbers)
    graph = sp.numbers.graph()
    expected = set().union(*(graph.downstream(s) | {s} for s in graph.consumers_of("factor")))
    assert expected == {"scale", "combine"}
    sp.CALLS.clear()

    changed = run_pipeline(pyard, sp.numbers, {"factor": 3.0})

    assert set(changed.executed) == expected and sorted(sp.CALLS) == sorted(expected)
    assert set(changed.cached) == {"source", "total", "count"}
    assert changed.output("combine") == {"result": 10.0 * 6}
    sp.CALLS.clear()
    # n feeds source, so everything downstream of source runs again.
    bigger = run_pipeline(pyard, sp.numbers, {"n": 6})
    assert set(bigger.executed) == {"source", "total", "combine", "count"}
    assert bigger.cached == ["scale"]


def test_no_cache_runs_every_step(pyard) -> None:
    run_pipeline(pyard, sp.numbers)
    again = run_pipeline(pyard, sp.numbers, use_cache=False)
    assert len(again.executed) == 5 and again.cached == []


def test_failed_step_skips_dependants_and_resume_reruns_only_what_failed(
    pyard, tmp_path: Path
) -> None:
    flag = tmp_path / "bug"
    flag.touch()
    failed = run_pipeline(pyard, sp.fragile_pipeline, {"flag": str(flag)})

    assert not failed.ok and failed.failed == ["fragile"]
    assert failed.skipped == ["after-fragile"]
    assert "flag" in (failed.steps["fragile"].error or "")
    assert set(failed.executed) == {"source", "count"}  # the independent branch finished
    parent = pyard.runs.get(failed.run_id)
    assert parent.status == "FAILED" and "fragile" in (parent.error or "")
    assert parent.tags["modelyard.step.after-fragile"] == "skipped"
    with pytest.raises(PipelineFailed, match="--resume"):
        failed.raise_for_status()

    flag.unlink()  # the fix
    sp.CALLS.clear()
    resumed = resume_pipeline(pyard, failed.run_id, sp.fragile_pipeline, use_cache=False)

    assert resumed.ok, resumed.failure_message()
    assert sorted(sp.CALLS) == ["after_fragile", "fragile"]  # nothing that succeeded ran again
    assert set(resumed.names("reused")) == {"source", "count"}
    assert resumed.output("after-fragile") == sum(range(4)) + 1
    assert pyard.runs.get(resumed.run_id).tags["modelyard.resumed_from"] == failed.run_id


def test_retries_with_exponential_back_off(pyard) -> None:
    waits: list[float] = []
    result = run_pipeline(pyard, sp.flaky_pipeline, {"fail_times": 2}, sleep=waits.append)
    assert result.ok and result.steps["flaky"].attempts == 3
    assert waits == [0.5, 1.0]  # backoff * 2**(n-1), capped at max_backoff
    run = pyard.runs.get(result.steps["flaky"].run_id)
    assert run.tags["modelyard.attempts"] == "3"

    sp.reset()
    waits.clear()
    exhausted = run_pipeline(pyard, sp.flaky_pipeline, {"fail_times": 9}, sleep=waits.append)
    assert exhausted.failed == ["flaky"] and exhausted.steps["flaky"].attempts == 4
    assert waits == [0.5, 1.0, 1.0]
    assert "transient failure 4" in (exhausted.steps["flaky"].error or "")


def test_independent_steps_run_in_parallel(pyard) -> None:
    # Each step waits for the other to have started: only concurrent execution
    # lets both see the other, whatever the timing.
    result = run_pipeline(pyard, sp.branches, max_workers=2)
    assert result.output("left") == "saw right"
    assert result.output("right") == "saw left"


def test_step_is_a_plain_function_outside_a_pipeline() -> None:
    assert sp.total([1, 2]) == {"total": 3.0}
    assert sp.CALLS == ["total"]


@pytest.mark.postgres
def test_cache_and_resume_on_both_stores(yard, tmp_path: Path) -> None:
    """The cache table, step runs and resume behave the same on SQLite and PostgreSQL."""
    first = run_pipeline(yard, sp.numbers)
    again = run_pipeline(yard, sp.numbers, {"factor": 2.0})
    assert first.ok and set(again.executed) == {"scale", "combine"}
    flag = tmp_path / "bug"
    flag.touch()
    failed = run_pipeline(yard, sp.fragile_pipeline, {"flag": str(flag)})
    flag.unlink()
    resumed = resume_pipeline(yard, failed.run_id, sp.fragile_pipeline)
    assert resumed.ok and set(resumed.executed) == {"fragile", "after-fragile"}
