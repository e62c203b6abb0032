"""The Spark engine loads the model in its Python workers before it schedules a part.

Attack: an insider who can write the model files that reach the executors
swaps one after the registry recorded its digest. The warm-up stage (one task
per core, before the parts) verifies every digest there and refuses: the job
fails with the integrity error, no part is scored, and nothing is written.
The same swap in the yard's local copy, before a job that reads with Spark, is
caught earlier: the copy is rebuilt from the store and the registered bytes ship.
"""

from __future__ import annotations

import shutil
import uuid

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from batch_helpers import MODEL, bundle_of, one_part_work

from modelyard.batch.engines.spark import SparkEngine
from modelyard.batch.progress import NullProgress
from modelyard.batch.spark_io import SparkSink, SparkSource
from modelyard.errors import IntegrityError

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:pyspark.*"),
]


def test_a_swapped_model_file_fails_the_warm_up_before_any_part(by, loans, tmp_path, spark) -> None:
    bundle = bundle_of(by, f"{MODEL}/1")
    # A copy under a name no other test ships (Spark keeps each shipped name per session).
    copy = tmp_path / f"model-{uuid.uuid4().hex[:12]}"
    shutil.copytree(bundle.model_dir, copy)
    target = next(copy / rel for rel in sorted(bundle.files) if rel.endswith(".json"))
    target.write_text(target.read_text().replace("}", " }", 1))  # still valid, other bytes
    table = pa.Table.from_pandas(loans.head(500), preserve_index=False)
    work = one_part_work(tmp_path, table, "swapped")
    done: list[object] = []
    with pytest.raises(IntegrityError) as caught:
        SparkEngine(session=spark).run(
            work, bundle.at(str(copy), None), [0], done.append, NullProgress()
        )
    assert target.name in caught.value.message and "refusing to load it" in caught.value.message
    assert done == []  # no part was scored
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []


def test_a_swapped_cached_model_file_is_never_shipped_by_a_spark_sources_job(
    by, fitted, loans, tmp_path, spark
) -> None:
    """The same attack on a job that reads with Spark, in the yard's local copy of the
    version: the copy is verified against the store before the job ships it, found
    tampered and rebuilt from the store; the job ships and scores the registered bytes."""
    model_dir = by.models.local_path(f"{MODEL}/1")
    target = next(p for p in sorted(model_dir.rglob("*.json")) if p.is_file())
    registered = target.read_text()
    target.write_text(registered.replace("}", " }", 1))  # still valid, other bytes
    frame = loans.head(500)
    (tmp_path / "in").mkdir()
    frame.to_parquet(tmp_path / "in" / "loans.parquet", coerce_timestamps="us")
    job = by.batch.score(
        f"{MODEL}/1",
        SparkSource.path(tmp_path / "in"),
        SparkSink.path(tmp_path / "out", buckets=2),
        engine="spark",
        id_column="application_id",
        engine_options={"session": spark},
        quiet=True,
    )
    assert target.read_text() == registered  # the tampered copy was replaced, not used
    assert job.status == "FINISHED" and job.rows_out == 500
    scored = pd.read_parquet(tmp_path / "out").sort_values("application_id")
    ordered = frame.sort_values("application_id")
    model, x = fitted
    expected = model.predict_proba(ordered[list(x.columns)])[:, 1]
    assert np.allclose(scored["score"].to_numpy(), expected, rtol=0, atol=1e-12)
