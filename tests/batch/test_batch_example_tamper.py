"""Attack: an insider swaps a version's input example after the verified load.

A worker keeps its loaded model between parts and jobs; it builds the
explainer (whose background is the version's input example) only when a job
first explains, possibly long after the load verified the directory. Someone
who can write the model files in between must not change the explanations:
every read of the example is checked against the digest the registry recorded.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from batch_helpers import ID, MODEL, bundle_of

from modelyard.batch import ScoringSpec
from modelyard.batch._fs import OutputDir
from modelyard.batch.bundle import load_cached
from modelyard.batch.job import Part
from modelyard.batch.parts import WorkSpec, score_part
from modelyard.batch.scoring import EXAMPLE_FILE, ScoringModel
from modelyard.errors import IntegrityError


def _swap_example(model_dir: str) -> None:
    """The attacker's edit: the same columns, other values (a valid Parquet file)."""
    import pandas as pd

    path = Path(model_dir) / EXAMPLE_FILE
    frame = pd.read_parquet(path)
    frame["income"] = frame["income"] * 10
    frame.to_parquet(path, index=False)


def test_a_swapped_example_is_refused_when_a_cached_model_first_explains(
    by, loans, tmp_path
) -> None:
    bundle = bundle_of(by, f"{MODEL}/1")
    model = load_cached(bundle)  # verified and kept, as a worker keeps it
    _swap_example(bundle.model_dir)
    table = pa.Table.from_pandas(loans.head(50), preserve_index=False)
    out = OutputDir(str(tmp_path / "out"))
    out.makedirs()
    work = WorkSpec(
        job_id="tampered",
        format="parquet",
        protocol="file",
        files=(),
        parts=(Part(index=0, file=0),),
        input_schema=table.schema,
        output=out,
        scoring=ScoringSpec(MODEL, 1, id_column=ID, explain=2),
    )
    with pytest.raises(IntegrityError) as caught:
        score_part(model, work, work.parts[0], [table])
    assert EXAMPLE_FILE in caught.value.message
    assert "expected sha256:" in caught.value.message
    committed = [p for p in (tmp_path / "out").rglob("*") if not p.name.startswith(".")]
    assert [p for p in committed if p.is_file()] == []  # no part, no rejects, no marker


def test_a_swapped_example_is_refused_at_load(by) -> None:
    bundle = bundle_of(by, f"{MODEL}/1")
    _swap_example(bundle.model_dir)
    with pytest.raises(IntegrityError, match=EXAMPLE_FILE):
        ScoringModel.load(bundle.model_dir, files=bundle.files)


def test_an_example_the_registry_never_recorded_is_refused(by, fitted) -> None:
    model, _ = fitted
    version = by.models.register(MODEL, model)  # no example: none recorded
    bundle = bundle_of(by, version.ref)
    (Path(bundle.model_dir) / EXAMPLE_FILE).write_bytes(b"PAR1 planted")
    with pytest.raises(IntegrityError, match="not in the version's manifest"):
        ScoringModel.load(bundle.model_dir, files=bundle.files)


def test_the_untouched_example_explains(by, loans) -> None:
    model = bundle_of(by, f"{MODEL}/1").load()
    assert model.example_digest is not None
    assert model.explainer() is model.explainer()
