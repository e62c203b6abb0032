"""Eight processes logging at once into one store lose nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

RUNS_PER_WORKER = 6
SINGLE_POINTS = 15
BATCHES, BATCH_SIZE = 4, 250


def _worker(args: tuple[str, str, int]) -> list[str]:
    import modelyard

    url, artifacts, worker = args
    yard = modelyard.connect(url, artifact_root=artifacts, user=f"w{worker}")
    ids = []
    try:
        for r in range(RUNS_PER_WORKER):
            with yard.start_run(experiment="stress", name=f"w{worker}-r{r}") as run:
                run.log_params({f"p{i}": i for i in range(5)})
                for step in range(SINGLE_POINTS):
                    run.log_metric("loss", 1.0 / (step + 1), step=step)
                for b in range(BATCHES):
                    run.log_batch(
                        ("curve", float(i), b * BATCH_SIZE + i, None) for i in range(BATCH_SIZE)
                    )
            ids.append(run.id)
    finally:
        yard.close()
    return ids


def test_eight_processes_lose_nothing(store_url: str, tmp_path: Path) -> None:
    import modelyard
    from modelyard.store.models import Metric, Param, Run

    modelyard.connect(store_url, artifact_root=str(tmp_path / "a")).close()  # schema first
    jobs = [(store_url, str(tmp_path / "a"), w) for w in range(8)]
    with ProcessPoolExecutor(8, mp_context=mp.get_context("spawn")) as pool:
        results = list(pool.map(_worker, jobs))
    run_ids = {i for ids in results for i in ids}
    assert len(run_ids) == 8 * RUNS_PER_WORKER

    yard = modelyard.connect(store_url, artifact_root=str(tmp_path / "a"))
    try:
        with yard.store.read() as s:
            assert s.scalar(select(func.count()).select_from(Run)) == 8 * RUNS_PER_WORKER
            statuses = set(s.scalars(select(Run.status)).all())
            assert statuses == {"FINISHED"}
            assert s.scalar(select(func.count()).select_from(Param)) == 8 * RUNS_PER_WORKER * 5
            per_run = SINGLE_POINTS + BATCHES * BATCH_SIZE
            assert (
                s.scalar(select(func.count()).select_from(Metric)) == 8 * RUNS_PER_WORKER * per_run
            )
        some = yard.runs.get(sorted(run_ids)[0])
        assert some.metrics["curve"] == float(BATCH_SIZE - 1)
        assert some.metrics["loss"] == 1.0 / SINGLE_POINTS
    finally:
        yard.close()
