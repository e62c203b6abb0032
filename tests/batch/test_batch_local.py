"""yard.batch.score with the local engine: outputs, rejects, checks, resumption, records."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from batch_helpers import ID, MODEL, expected_scores, read_output, write_parts

from modelyard.errors import Conflict, InvalidInput

QUIET = {"quiet": True}


def _score(by, source, output, **kwargs):
    options = {"id_column": ID, "part_rows": 5_000, "batch_rows": 2_000, **QUIET, **kwargs}
    return by.batch.score(f"{MODEL}/1", source, output, **options)


@pytest.mark.parametrize("workers", [1, 2])
def test_local_scores_every_row_exactly(by, fitted, loans, loans_dir, tmp_path, workers) -> None:
    job = _score(by, loans_dir, tmp_path / "out", workers=workers, passthrough=["default"])
    assert job.status == "FINISHED"
    assert (job.rows_in, job.rows_out, job.rows_rejected) == (20_000, 20_000, 0)
    assert job.params["parts_total"] == 4 and job.params["workers"] == workers
    scored = read_output(tmp_path / "out")
    assert scored[ID].is_unique and len(scored) == 20_000
    expected = expected_scores(fitted, loans)
    assert np.array_equal(scored["score"].to_numpy(), expected.loc[scored[ID]].to_numpy())
    assert scored.columns.tolist() == [
        ID,
        "default",
        "score",
        "label",
        "model_name",
        "model_version",
        "scored_at",
    ]
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == [
        "_modelyard_job.json",
        "_modelyard_parts",
        "_rejects",
        *(f"part-0000{i}.parquet" for i in range(4)),
    ]
    manifest = json.loads((tmp_path / "out" / "_modelyard_job.json").read_text())
    assert manifest["job_id"] == job.id and manifest["status"] == "finished"
    assert sorted(manifest["completed"]) == ["0", "1", "2", "3"]


def test_same_command_again_is_the_same_job(by, loans_dir, tmp_path) -> None:
    first = _score(by, loans_dir, tmp_path / "out")
    again = _score(by, loans_dir, tmp_path / "out", workers=1, batch_rows=999)
    assert again.id == first.id and again.status == "FINISHED"
    assert again.params["attempts"] == 1  # nothing was rescored


def test_a_lost_part_is_redone_alone(by, fitted, loans, loans_dir, tmp_path) -> None:
    out = tmp_path / "out"
    first = _score(by, loans_dir, out)
    before = {p.name: p.read_bytes() for p in out.glob("part-*.parquet")}
    (out / "part-00002.parquet").unlink()
    (out / "_modelyard_parts" / "part-00002.json").unlink()
    (out / ".part-00003.parquet.tmp-deadbeef0000").write_bytes(b"half a file")
    again = _score(by, loans_dir, out)
    assert again.id == first.id and again.params["parts_done_before"] == 3
    assert again.params["rows_this_attempt"] == 5_000 and again.params["attempts"] == 2
    after = {p.name: p.read_bytes() for p in out.glob("part-*.parquet")}
    assert after == before  # identical bytes: the same job keeps its scoring time
    assert not list(out.glob(".*tmp-*"))


def test_wrong_schema_stops_before_any_output(by, loans, tmp_path) -> None:
    write_parts(loans.drop(columns=["income"]).head(100), tmp_path / "bad", 1, 100)
    with pytest.raises(InvalidInput) as caught:
        _score(by, tmp_path / "bad", tmp_path / "out")
    assert "income: missing column" in caught.value.message
    assert caught.value.details == [{"column": "income", "problem": "missing column", "values": []}]
    assert not (tmp_path / "out").exists()
    write_parts(loans.astype({"term": str}).head(100), tmp_path / "text", 1, 100)
    with pytest.raises(InvalidInput, match="term: wrong type: expected integer"):
        _score(by, tmp_path / "text", tmp_path / "out")
    with pytest.raises(InvalidInput, match="missing id column"):
        _score(by, tmp_path / "text", tmp_path / "out", id_column="loan_id")
    assert not (tmp_path / "out").exists()
    assert by.batch.list() == []


def test_bad_rows_go_to_the_rejects_file(by, loans, tmp_path) -> None:
    frame = loans.head(3_000).copy()
    frame.loc[10, "region"] = "Atlantis"
    frame.loc[2_500, "income"] = np.nan
    write_parts(frame, tmp_path / "in", 1, 1_000)
    job = _score(by, tmp_path / "in", tmp_path / "out", part_rows=1_000)
    assert (job.rows_in, job.rows_out, job.rows_rejected) == (3_000, 2_998, 2)
    rejects = pd.read_parquet(tmp_path / "out" / "_rejects")
    assert sorted(rejects["_reason"]) == [
        "income: null in a non-nullable column",
        "region: unseen category (got 'Atlantis')",
    ]
    assert set(rejects[ID]) == {frame[ID][10], frame[ID][2_500]}
    assert sorted(p.name for p in (tmp_path / "out" / "_rejects").iterdir()) == [
        "part-00000.parquet",
        "part-00002.parquet",
    ]
    scored = read_output(tmp_path / "out")
    assert len(scored) == 2_998 and not set(rejects[ID]) & set(scored[ID])


def test_csv_and_glob_inputs(by, fitted, loans, tmp_path) -> None:
    frame = loans.head(4_000).copy()
    text = frame.astype({"age": object})
    text.loc[2_005, "home_ownership"] = "SOMETIMES"
    text.loc[2_007, "age"] = "forty"
    for number in range(2):
        part = text.iloc[number * 2_000 : (number + 1) * 2_000]
        part.to_csv(tmp_path / f"loans-{number}.csv", index=False)
    job = _score(by, str(tmp_path / "loans-*.csv"), tmp_path / "out")
    assert job.params["parts_total"] == 2  # one part per CSV file
    assert (job.rows_in, job.rows_out, job.rows_rejected) == (4_000, 3_998, 2)
    rejects = pd.read_parquet(tmp_path / "out" / "_rejects").sort_values(ID)
    assert rejects["_reason"].tolist() == [
        "home_ownership: unseen category (got 'SOMETIMES')",
        "age: wrong type: expected integer (got 'forty')",
    ]
    assert rejects["age"].iloc[1] == "forty"  # rejects keep the text as it was
    scored = read_output(tmp_path / "out")
    good = frame.drop(index=[2_005, 2_007])
    expected = expected_scores(fitted, good)
    # CSV holds decimal text: the parsed floats round-trip, so the scores are exact.
    assert np.array_equal(scored["score"].to_numpy(), expected.loc[scored[ID]].to_numpy())


def test_another_job_in_the_output_is_refused(by, loans_dir, tmp_path) -> None:
    _score(by, loans_dir, tmp_path / "out")
    with pytest.raises(Conflict, match="holds batch job"):
        _score(by, loans_dir, tmp_path / "out", passthrough=["default"])
    job = _score(by, loans_dir, tmp_path / "out", passthrough=["default"], overwrite=True)
    assert "default" in pq.read_schema(tmp_path / "out" / "part-00000.parquet").names
    assert job.status == "FINISHED"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(Conflict, match="not empty"):
        _score(by, loans_dir, tmp_path / "other")


def test_arguments_are_checked(by, loans_dir, tmp_path) -> None:
    with pytest.raises(InvalidInput, match="engine must be one of"):
        _score(by, loans_dir, tmp_path / "o", engine="ray")
    with pytest.raises(InvalidInput, match="batch_rows"):
        _score(by, loans_dir, tmp_path / "o", batch_rows=0)
    with pytest.raises(InvalidInput, match="no such file"):
        _score(by, tmp_path / "nowhere", tmp_path / "o")
    with pytest.raises(InvalidInput, match="form='native'"):
        _score(by, loans_dir, tmp_path / "o", form="onnx")


def test_onnx_form_when_parity_passed(by, fitted, loans, loans_dir, tmp_path) -> None:
    parity = by.models.compile(f"{MODEL}/1")
    assert parity.passed
    job = _score(by, loans_dir, tmp_path / "onnx")
    assert job.params["form"] == "onnx"
    native = _score(by, loans_dir, tmp_path / "native", form="native")
    assert native.params["form"] == "native" and native.id != job.id
    a, b = read_output(tmp_path / "onnx"), read_output(tmp_path / "native")
    assert (a[ID] == b[ID]).all() and (a["label"] == b["label"]).all()
    assert np.max(np.abs(a["score"] - b["score"])) <= parity.tolerance


def test_output_to_s3(by, fitted, loans, loans_dir, s3_options, s3_bucket) -> None:
    url = f"s3://{s3_bucket}/scores/run-1"
    job = _score(by, loans_dir, url, storage_options=s3_options, workers=2)
    assert job.status == "FINISHED" and job.output_uri == url
    import s3fs

    fs = s3fs.S3FileSystem(**s3_options)
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(url))
    assert names == [
        "_modelyard_job.json",
        "_modelyard_parts",
        *(f"part-0000{i}.parquet" for i in range(4)),
    ]
    frame = pd.concat(
        pq.read_table(
            f"{url}/part-0000{i}.parquet".removeprefix("s3://"), filesystem=fs
        ).to_pandas()
        for i in range(4)
    ).sort_values(ID)
    expected = expected_scores(fitted, loans)
    assert np.array_equal(frame["score"].to_numpy(), expected.loc[frame[ID]].to_numpy())
    again = _score(by, loans_dir, url, storage_options=s3_options)
    assert again.id == job.id and again.status == "FINISHED"


def test_a_failing_part_fails_the_job_and_keeps_the_rest(by, loans, tmp_path) -> None:
    write_parts(loans.head(2_000), tmp_path / "in", 2, 1_000)
    (tmp_path / "in" / "loans-01.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InvalidInput, match="not readable Parquet"):
        _score(by, tmp_path / "in", tmp_path / "out")
    assert not Path(tmp_path / "out").exists()
