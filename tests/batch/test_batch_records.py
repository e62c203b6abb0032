"""Job records, audit events and lineage, on SQLite and PostgreSQL; and the CLI commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from batch_helpers import ID, MODEL, write_parts

from modelyard.cli import _context
from modelyard.cli.main import main
from modelyard.errors import InvalidInput, NotFound, PermissionDenied


@pytest.fixture
def ryard(yard, fitted):
    """The conftest ``yard`` (SQLite and PostgreSQL) with version 1 of ``credit``."""
    model, X = fitted
    yard.models.register(MODEL, model, example=X)
    return yard


def test_job_is_recorded_audited_and_its_output_registered(ryard, loans, tmp_path) -> None:
    inputs = ryard.datasets.register("loans", loans.head(6_000))
    source = ryard.datasets.get(inputs.ref)
    job = ryard.batch.score(
        f"{MODEL}@latest",
        source,
        tmp_path / "out",
        id_column=ID,
        part_rows=2_000,
        register_output_as="loan-scores",
        quiet=True,
    )
    assert job.status == "FINISHED" and job.input_uri == "loans/1"
    assert job.output_dataset == "loan-scores/1"
    assert job.duration_s is not None and job.duration_s >= 0
    scores = ryard.datasets.get("loan-scores/1")
    assert scores.parents == ("loans/1",) and scores.num_rows == 6_000
    assert [c for c, _ in scores.columns()][:2] == [ID, "score"]
    assert [d.ref for d in ryard.datasets.children("loans/1")] == ["loan-scores/1"]

    record = ryard.batch.status(job.id[:10])
    assert record == job
    assert (record.model_name, record.model_version, record.engine) == (MODEL, 1, "local")
    assert (record.rows_in, record.rows_out, record.rows_rejected) == (6_000, 6_000, 0)
    assert record.params["rows_per_s"] > 0 and record.params["load_seconds"] >= 0
    assert [j.id for j in ryard.batch.list()] == [job.id]
    assert ryard.batch.list(model="other") == []

    events = ryard.audit.events(subject=f"batch/{job.id}", newest_first=False)
    assert [e.action for e in events] == ["batch.start", "batch.finish"]
    assert events[0].payload["model"] == f"model/{MODEL}/1"
    # The stored copy is one row group of 6,000 rows: three row ranges of 2,000.
    assert events[0].payload["parts"] == 3
    assert events[1].payload["rows_out"] == 6_000
    assert ryard.audit.verify().ok


def test_a_path_input_is_registered_for_lineage(sqlite_yard, fitted, loans, tmp_path) -> None:
    model, X = fitted
    sqlite_yard.models.register(MODEL, model, example=X)
    write_parts(loans.head(2_000), tmp_path / "in", 2, 1_000)
    job = sqlite_yard.batch.score(
        f"{MODEL}/1", tmp_path / "in", tmp_path / "out", register_output_as="scores", quiet=True
    )
    scores = sqlite_yard.datasets.get(job.output_dataset)
    assert scores.parents == ("scores-input/1",)
    assert sqlite_yard.datasets.get("scores-input/1").num_rows == 2_000


def test_failed_job_is_recorded(sqlite_yard, fitted, loans, tmp_path, monkeypatch) -> None:
    model, X = fitted
    sqlite_yard.models.register(MODEL, model, example=X)
    write_parts(loans.head(2_000), tmp_path / "in", 2, 1_000)
    from modelyard.batch.engines import local

    def explode(self, *args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(local.LocalEngine, "run", explode)
    with pytest.raises(Exception, match="disk on fire"):
        sqlite_yard.batch.score(f"{MODEL}/1", tmp_path / "in", tmp_path / "out", quiet=True)
    (job,) = sqlite_yard.batch.list()
    assert job.status == "FAILED" and "disk on fire" in (job.error or "")
    manifest = json.loads((tmp_path / "out" / "_modelyard_job.json").read_text())
    assert manifest["status"] == "failed"
    actions = [e.action for e in sqlite_yard.audit.events(subject=f"batch/{job.id}")]
    assert actions == ["batch.failed", "batch.start"]
    monkeypatch.undo()
    done = sqlite_yard.batch.score(f"{MODEL}/1", tmp_path / "in", tmp_path / "out", quiet=True)
    assert done.id == job.id and done.status == "FINISHED" and done.error is None


def test_status_errors(sqlite_yard) -> None:
    with pytest.raises(NotFound, match="no batch job"):
        sqlite_yard.batch.status("0123456789abcdef")
    with pytest.raises(InvalidInput, match="at least 6"):
        sqlite_yard.batch.status("abc")


def test_viewers_may_not_score(sqlite_yard, fitted, loans, tmp_path) -> None:
    model, X = fitted
    sqlite_yard.models.register(MODEL, model, example=X)
    admin = sqlite_yard.with_token(sqlite_yard.users.bootstrap("alice").secret)
    admin.users.add("vic", ["viewer"])
    import modelyard

    viewer = modelyard.connect(
        str(sqlite_yard.settings.resolved_store_url),
        artifact_root=sqlite_yard.settings.resolved_artifact_root,
        token=admin.tokens.create("vic", expires_in="1h").secret,
        home=str(sqlite_yard.settings.home),
    )
    write_parts(loans.head(100), tmp_path / "in", 1, 100)
    with pytest.raises(PermissionDenied, match="run batch scoring jobs"):
        viewer.batch.score(f"{MODEL}/1", tmp_path / "in", tmp_path / "out", quiet=True)
    viewer.close()
    assert not (tmp_path / "out").exists()


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    _context.yard.cache_clear()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_score_status_list(tmp_path: Path, fitted, loans, capsys, monkeypatch) -> None:
    import modelyard

    monkeypatch.setenv("COLUMNS", "200")
    yard = modelyard.connect()  # the embedded default in the test's working folder
    model, X = fitted
    yard.models.register(MODEL, model, example=X)
    yard.close()
    frame = loans.head(3_000).copy()
    frame.loc[5, "region"] = "Atlantis"
    write_parts(frame, tmp_path / "in", 3, 500)
    code, out, err = _cli(
        capsys,
        "batch",
        "score",
        f"{MODEL}/1",
        "--input",
        "in",
        "--output",
        "scores",
        "--id-column",
        ID,
        "--passthrough",
        "default",
        "--part-rows",
        "1000",
        "--workers",
        "1",
    )
    assert code == 0, err
    # The unseen region is scored (the model takes it) and counted, not rejected.
    assert "3,000 rows scored, 0 rejected" in out
    assert "scorer  lightgbm-compiled" in out  # the compiled form serving uses
    # 3,000 rows, far below the kernel's break-even: the library's evaluator first.
    assert "evaluator numba tree kernel after 300,000 rows a process (LightGBM C API" in out
    assert "scored with warnings" in out and "1  region: unseen_category" in out
    assert "scoring credit/1" in err  # the progress bar draws on stderr
    job_id = out.split()[1]
    code, out, _ = _cli(capsys, "batch", "status", job_id[:8], "--json")
    data = json.loads(out)
    assert code == 0 and data["id"] == job_id and data["rows_rejected"] == 0
    assert data["warnings"]["region: unseen_category"] == 1
    code, out, _ = _cli(capsys, "batch", "status", job_id)
    assert code == 0 and "FINISHED" in out and "3,000" in out
    assert "numba tree kernel after 300,000 rows" in out  # the "evaluator" row
    code, out, _ = _cli(capsys, "batch", "list", "--json")
    assert code == 0 and [j["id"] for j in json.loads(out)] == [job_id]
    code, out, _ = _cli(capsys, "batch", "list")
    assert code == 0 and "Batch jobs" in out
    code, _, err = _cli(
        capsys, "batch", "score", f"{MODEL}/1", "--input", "in", "--output", "x", "--engine", "ray"
    )
    assert code == 2 and "engine must be one of" in err
    code, _, err = _cli(capsys, "batch", "score", f"{MODEL}/1", "--output", "x")
    assert code == 2 and "--input" in err
    frame.drop(columns=["age"]).to_parquet(tmp_path / "bad.parquet")
    code, _, err = _cli(
        capsys, "batch", "score", f"{MODEL}/1", "-i", "bad.parquet", "-o", "bad", "--quiet"
    )
    assert code == 2 and "age: missing column" in err and not (tmp_path / "bad").exists()


def test_registration_failure_fails_the_job_then_resumes(
    sqlite_yard, fitted, loans, tmp_path, monkeypatch
) -> None:
    model, X = fitted
    sqlite_yard.models.register(MODEL, model, example=X)
    write_parts(loans.head(1_000), tmp_path / "in", 1, 500)

    def refuse(*args, **kwargs):
        raise InvalidInput("the catalogue is read-only today")

    with monkeypatch.context() as patch:
        patch.setattr(sqlite_yard.datasets, "register", refuse)
        with pytest.raises(InvalidInput, match="read-only"):
            sqlite_yard.batch.score(
                f"{MODEL}/1", tmp_path / "in", tmp_path / "out", register_output_as="s", quiet=True
            )
    (failed,) = sqlite_yard.batch.list()
    assert failed.status == "FAILED" and "read-only" in (failed.error or "")
    done = sqlite_yard.batch.score(
        f"{MODEL}/1", tmp_path / "in", tmp_path / "out", register_output_as="s", quiet=True
    )
    assert done.status == "FINISHED" and done.output_dataset == "s/1"
    assert done.params["rows_this_attempt"] == 0  # every part was already scored
