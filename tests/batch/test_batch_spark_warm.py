"""The Spark engine loads the model in its Python workers before it schedules a part.

Attack: an insider who can write the model files that reach the executors
swaps one after the registry recorded its digest. The warm-up stage (one task
per core, before the parts) verifies every digest there and refuses: the job
fails with the integrity error, no part is scored, and nothing is written.
"""

from __future__ import annotations

import shutil
import uuid

import pyarrow as pa
import pytest
from batch_helpers import MODEL, bundle_of, one_part_work

from modelyard.batch.engines.spark import SparkEngine
from modelyard.batch.progress import NullProgress
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
