"""Dataset versions: content identity, numbering, profiles, loading and lineage."""

from __future__ import annotations

import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from modelyard.errors import InvalidInput, NotFound


def test_same_content_same_version_changed_cell_new_version(yard, loans) -> None:
    first = yard.datasets.register("loans", loans)
    again = yard.datasets.register("loans", loans.copy())
    assert first.version == again.version == 1
    assert first.digest == again.digest
    changed = loans.copy()
    changed.loc[17, "income"] += 1.0
    second = yard.datasets.register("loans", changed)
    assert second.version == 2
    assert second.digest != first.digest
    assert [v.version for v in yard.datasets.versions("loans")] == [1, 2]


def test_identity_ignores_format_and_file_split(yard, loans, tmp_path: Path) -> None:
    from_frame = yard.datasets.register("loans", loans)
    parts = tmp_path / "parts"
    parts.mkdir()
    loans.iloc[:700].to_parquet(parts / "part-0.parquet", index=False)
    loans.iloc[700:].to_parquet(parts / "part-1.parquet", index=False)
    from_folder = yard.datasets.register("loans", str(parts))
    from_glob = yard.datasets.register("loans", str(parts / "part-*.parquet"))
    assert from_frame.version == from_folder.version == from_glob.version == 1


def test_profile_schema_and_rows_are_recorded(yard, loans) -> None:
    info = yard.datasets.register("loans", loans, description="applications")
    assert info.num_rows == len(loans)
    assert info.schema.names == list(loans.columns)
    income = info.profile["columns"]["income"]
    assert income["kind"] == "numeric"
    assert income["min"] == pytest.approx(loans["income"].min())
    assert sum(income["histogram"]["counts"]) == len(loans)
    purpose = info.profile["columns"]["loan_purpose"]
    assert purpose["kind"] == "categorical"
    assert dict((v, c) for v, c in purpose["top"]) == loans["loan_purpose"].value_counts().to_dict()


def test_load_round_trips_pandas_and_arrow(yard, loans) -> None:
    info = yard.datasets.register("loans", loans)
    back = yard.datasets.load(info.ref)
    pd.testing.assert_frame_equal(back, loans)
    table = yard.datasets.load("loans@latest", as_="arrow", columns=["income", "default"])
    assert isinstance(table, pa.Table)
    assert table.column_names == ["income", "default"]
    with pytest.raises(InvalidInput, match="no column"):
        yard.datasets.load("loans", columns=["salary"])


def test_csv_source_and_uri_only_registration(yard, loans, tmp_path: Path) -> None:
    path = tmp_path / "loans.csv"
    loans.head(300).to_csv(path, index=False)
    info = yard.datasets.register("loans-csv", str(path), keep_copy=False)
    assert info.uris == (str(path),) and info.stored_digest is None
    assert len(yard.datasets.load(info)) == 300


def test_lineage_parents_run_and_children(yard, loans) -> None:
    raw = yard.datasets.register("raw", loans)
    with yard.start_run(name="split", inputs=[raw]) as run:
        train = yard.datasets.register("train", loans.iloc[:1500], parents=[raw], run=run)
        yard.datasets.register("holdout", loans.iloc[1500:], parents=["raw/1"], run=run)
    assert train.parents == ("raw/1",)
    assert train.producing_run_id == run.id
    assert [c.name for c in yard.datasets.children("raw")] == ["holdout", "train"]
    assert yard.datasets.consuming_runs("raw/1") == [run.id]
    assert yard.runs.get(run.id).inputs[0].dataset == "raw"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("missing.parquet", "no such file"),
        ("data/*.parquet", "matches no file"),
        ("notes.txt", "unknown format"),
        (42, "must be a pandas DataFrame"),
    ],
)
def test_bad_sources_are_clear_errors(sqlite_yard, tmp_path: Path, source, message) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InvalidInput, match=message):
        sqlite_yard.datasets.register("x", source)
    assert sqlite_yard.datasets.list() == []


def test_bad_names_and_refs(sqlite_yard, loans) -> None:
    with pytest.raises(InvalidInput, match="dataset name"):
        sqlite_yard.datasets.register("bad name!", loans)
    with pytest.raises(NotFound, match="no dataset 'nope'"):
        sqlite_yard.datasets.get("nope")
    sqlite_yard.datasets.register("loans", loans)
    with pytest.raises(NotFound, match="no version 9"):
        sqlite_yard.datasets.get("loans/9")
    with pytest.raises(InvalidInput, match="must be a number"):
        sqlite_yard.datasets.get("loans/x")


def test_large_file_is_profiled_in_bounded_batches(sqlite_yard, tmp_path: Path) -> None:
    from modelyard.data import synthetic

    frame = synthetic.generate(300_000, seed=3)
    path = tmp_path / "big.parquet"
    frame.to_parquet(path, index=False, row_group_size=50_000)
    info = sqlite_yard.datasets.register("big", str(path))
    assert info.num_rows == 300_000
    assert info.profile["columns"]["age"]["count"] == 300_000
    batches = list(sqlite_yard.datasets.iter_batches(info, batch_rows=65_536))
    assert max(b.num_rows for b in batches) <= 65_536
    assert sum(b.num_rows for b in batches) == 300_000


def _register_variant(args: tuple[str, str, int]) -> int:
    import modelyard
    from modelyard.data import synthetic

    url, artifacts, seed = args
    with modelyard.connect(url, artifact_root=artifacts) as yard:
        return yard.datasets.register("shared", synthetic.generate(200, seed=seed)).version


def test_concurrent_registrations_get_distinct_numbers(store_url: str, tmp_path: Path) -> None:
    import modelyard

    modelyard.connect(store_url, artifact_root=str(tmp_path / "a")).close()
    with ProcessPoolExecutor(6, mp_context=mp.get_context("spawn")) as pool:
        versions = pool.map(
            _register_variant, [(store_url, str(tmp_path / "a"), s) for s in range(6)]
        )
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
