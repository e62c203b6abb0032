"""Run tracking on SQLite and PostgreSQL: lifecycle, logging, search, compare."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.errors import Conflict, InvalidInput, NotFound


def test_run_finishes_with_params_metrics_tags(yard) -> None:
    with yard.start_run(experiment="credit", name="lgbm-1", tags={"team": "risk"}) as run:
        run.log_params({"num_leaves": 31, "model": "lgbm"})
        run.log_metric("auc", 0.71, step=0)
        run.log_metric("auc", 0.78, step=1)
        run.log_metrics({"ks": 0.4, "gini": 0.56})
    info = yard.runs.get(run.id)
    assert info.status == "FINISHED"
    assert info.end_time is not None and info.end_time >= info.start_time
    assert info.params == {"num_leaves": "31", "model": "lgbm"}
    assert info.metrics == {"auc": 0.78, "ks": 0.4, "gini": 0.56}
    assert info.tags == {"team": "risk"}
    assert info.experiment == "credit"
    assert info.user == "alice"
    assert info.python_version
    assert [p.value for p in yard.runs.metric_history(run.id, "auc")] == [0.71, 0.78]


def test_latest_metric_is_highest_step_not_last_logged(yard) -> None:
    with yard.start_run() as run:
        run.log_metric("loss", 0.2, step=5)
        run.log_metric("loss", 0.9, step=1)
    assert yard.runs.get(run.id).metrics["loss"] == 0.2


def test_exception_marks_run_failed_and_propagates(yard) -> None:
    with pytest.raises(ZeroDivisionError), yard.start_run() as run:
        run.log_param("a", 1)
        _ = 1 / 0
    info = yard.runs.get(run.id)
    assert info.status == "FAILED"
    assert "ZeroDivisionError" in (info.error or "")


def test_keyboard_interrupt_marks_run_killed(yard) -> None:
    with pytest.raises(KeyboardInterrupt), yard.start_run() as run:
        raise KeyboardInterrupt
    assert yard.runs.get(run.id).status == "KILLED"


def test_params_are_immutable(yard) -> None:
    with yard.start_run() as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)  # same value again is fine
        with pytest.raises(Conflict, match="'lr'"):
            run.log_param("lr", 0.2)
    assert yard.runs.get(run.id).params == {"lr": "0.1"}


def test_finished_run_refuses_new_metrics(yard) -> None:
    with yard.start_run() as run:
        pass
    with pytest.raises(Conflict, match="FINISHED"):
        run.log_metric("auc", 0.5)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("", 1.0, "non-empty"),
        ("auc", "high", "must be a number"),
        ("auc", True, "must be a number"),
    ],
)
def test_bad_metric_is_refused_and_nothing_written(yard, key, value, message) -> None:
    with yard.start_run() as run:
        run.log_metric("ok", 1.0)
        with pytest.raises(InvalidInput, match=message):
            run.log_batch([("ok", 2.0, 1, None), (key, value, 2, None)])
    assert [p.value for p in yard.runs.metric_history(run.id, "ok")] == [1.0]


def test_log_batch_writes_all_points(yard) -> None:
    with yard.start_run() as run:
        written = run.log_batch((f"m{i % 10}", float(i), i // 10, None) for i in range(20_000))
    assert written == 20_000
    assert len(yard.runs.metric_history(run.id, "m3")) == 2_000
    assert yard.runs.get(run.id).metrics["m9"] == 19_999.0


def test_artifacts_files_and_directories_round_trip(yard, tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    report.write_text("AUC 0.8")
    model_dir = tmp_path / "model"
    (model_dir / "sub").mkdir(parents=True)
    (model_dir / "model.bin").write_bytes(b"\x00\x01" * 100)
    (model_dir / "sub" / "meta.json").write_text("{}")
    with yard.start_run() as run:
        run.log_artifact(report)
        run.log_artifact(model_dir, name="model")
    info = yard.runs.get(run.id)
    assert [(a.path, a.is_dir) for a in info.artifacts] == [("model", True), ("report.txt", False)]
    out = yard.runs.download_artifact(run.id, "report.txt", tmp_path / "out" / "r.txt")
    assert out.read_text() == "AUC 0.8"
    back = yard.runs.download_artifact(run.id, "model", tmp_path / "out" / "model")
    assert (back / "sub" / "meta.json").read_text() == "{}"
    assert (back / "model.bin").read_bytes() == b"\x00\x01" * 100
    with pytest.raises(NotFound, match="no artifact 'nope'"):
        yard.runs.download_artifact(run.id, "nope", tmp_path / "x")
    with pytest.raises(InvalidInput, match="does not exist"), yard.start_run() as other:
        other.log_artifact(tmp_path / "missing.txt")


def test_environment_and_code_version_are_captured(yard) -> None:
    with yard.start_run() as run:
        pass
    with yard.store.read() as session:
        from modelyard.store.models import Run

        row = session.get(Run, run.id)
        packages = row.environment["packages"]
    assert "sqlalchemy" in packages and "pandas" in packages


def _search_fixture(yard) -> dict[str, str]:
    ids = {}
    for name, model, auc in [("a", "lgbm", 0.81), ("b", "lgbm", 0.76), ("c", "logreg", 0.84)]:
        with yard.start_run(experiment="credit", name=name) as run:
            run.log_params({"model": model})
            run.log_metrics({"auc": auc})
        ids[name] = run.id
    with yard.start_run(experiment="fraud", name="d") as run:
        run.log_metrics({"auc": 0.99})
    ids["d"] = run.id
    return ids


def test_search_filter_and_order(yard) -> None:
    _search_fixture(yard)
    found = yard.runs.search("metrics.auc > 0.8 and params.model = 'lgbm'")
    assert [r.name for r in found] == ["a"]
    ordered = yard.runs.search(experiment="credit", order_by=["metrics.auc desc"])
    assert [r.name for r in ordered] == ["c", "a", "b"]
    assert [r.name for r in yard.runs.search("params.model in ('logreg')")] == ["c"]
    assert [r.name for r in yard.runs.search("experiment = 'fraud' and status = 'FINISHED'")] == [
        "d"
    ]
    assert yard.runs.count("metrics.auc >= 0.76") == 4
    assert {r.name for r in yard.runs.search("name like 'a%' and metrics.auc < 1")} == {"a"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.auc >", "expected a value at the end"),
        ("metrics.auc ~ 3", "cannot read"),
        ("metrics.auc > 'x'", "compares numbers"),
        ("params.model > 3", "cannot use '>'"),
        ("colour = 'red'", "unknown attribute 'colour'"),
        ("metrics.auc > 0.5 or metrics.ks > 1", "expected 'and'"),
    ],
)
def test_malformed_filter_is_a_clear_error(yard, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        yard.runs.search(text)


def test_compare_and_prefix_lookup(yard) -> None:
    ids = _search_fixture(yard)
    table = yard.runs.compare([ids["a"][:8], ids["c"]])
    assert table["metrics"]["auc"] == [0.81, 0.84]
    assert table["params"]["model"] == ["lgbm", "logreg"]
    with pytest.raises(NotFound):
        yard.runs.get("ffffffffffff")
    with pytest.raises(InvalidInput, match="too short"):
        yard.runs.get("ab")


def test_nested_runs_record_parent(yard) -> None:
    with (
        yard.start_run(name="pipeline") as parent,
        yard.start_run(name="step", parent=parent) as child,
    ):
        pass
    assert yard.runs.get(child.id).parent_run_id == parent.id
    with pytest.raises(NotFound):
        yard.start_run(parent="0" * 32)


def test_order_by_metric_pages_and_runs_lacking_it_come_last(yard) -> None:
    names = []
    for i, auc in enumerate([0.61, 0.93, None, 0.75, None, 0.88]):
        with yard.start_run(experiment="paging", name=f"r{i}") as run:
            if auc is not None:
                run.log_metrics({"auc": auc})
        names.append(run.id)
    order = ["metrics.auc desc"]
    everything = [r.name for r in yard.runs.search(experiment="paging", order_by=order)]
    assert everything[:4] == ["r1", "r5", "r3", "r0"]
    assert sorted(everything[4:]) == ["r2", "r4"]
    pages = [
        [
            r.name
            for r in yard.runs.search(experiment="paging", order_by=order, max_results=2, offset=o)
        ]
        for o in (0, 2, 4, 6)
    ]
    assert [n for page in pages for n in page] == everything
    ascending = [r.name for r in yard.runs.search(experiment="paging", order_by=["metrics.auc"])]
    assert ascending[:4] == ["r0", "r3", "r5", "r1"]
    filtered = yard.runs.search("metrics.auc > 0.7", order_by=order, max_results=1, offset=2)
    assert [r.name for r in filtered] == ["r3"]
