"""The model worker: a clean environment, results as data, and every way it can fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelyard.errors import BackendUnavailable, InvalidInput, NotFound
from modelyard.flavors import save_model
from modelyard.registry import isolation


@pytest.fixture
def model_dir(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    model = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    save_model(model, tmp_path / "model", example=frame)
    return tmp_path / "model", frame


def _compile(directory: Path, frame: pd.DataFrame, **overrides) -> isolation.WorkerResult:
    job = {
        "ref": "m/1",
        "inputs": {"data": frame},
        "params": {"tolerance": 1e-5},
        "trusted_code": False,
        "trusted_types": (),
        **overrides,
    }
    return isolation.run_model_job("compile", directory, **job)


def test_compile_runs_in_the_worker_and_answers_with_data(model_dir) -> None:
    directory, frame = model_dir
    with _compile(directory, frame) as result:
        assert result.body["ok"] is True and result.body["parity"]["passed"] is True
        assert (result.out / "model.onnx").read_bytes()[:2]  # ONNX bytes, not a pickle


def test_the_worker_environment_holds_no_configuration_or_secrets(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MODELYARD_STORE_URL", "postgresql://u:secret@db/yard")
    monkeypatch.setenv("MODELYARD_TOKEN", "myd_secret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    env = isolation.worker_environment(tmp_path)
    assert not [k for k in env if k.startswith(("MODELYARD_", "AWS_"))]
    assert env["HOME"] == str(tmp_path) and env["PYTHONPATH"]


def test_a_modelyard_error_in_the_worker_keeps_its_class(tmp_path) -> None:
    with pytest.raises(NotFound, match="no saved model"), _compile(tmp_path / "nowhere", None):
        pass


def test_a_bad_frame_is_refused_in_the_worker_with_its_message(model_dir) -> None:
    directory, frame = model_dir
    bad = {"data": frame.rename(columns={"a": "x"})}
    with pytest.raises(InvalidInput, match="lacks columns"), _compile(directory, frame, inputs=bad):
        pass


def test_any_other_failure_in_the_worker_is_reported_as_bad_input(model_dir) -> None:
    directory, frame = model_dir
    params = {"tolerance": "not a number"}
    with (
        pytest.raises(InvalidInput, match=r"m/1 failed in the model worker \(compile\)"),
        _compile(directory, frame, params=params),
    ):
        pass


def test_a_worker_that_dies_without_a_result(monkeypatch, model_dir) -> None:
    directory, frame = model_dir
    monkeypatch.setattr(isolation, "WORKER_MODULE", "modelyard.no_such_worker")
    with (
        pytest.raises(BackendUnavailable, match="exited with code 1 without a result"),
        _compile(directory, frame),
    ):
        pass


def test_a_worker_past_its_time_is_stopped(monkeypatch, model_dir) -> None:
    directory, frame = model_dir
    monkeypatch.setattr(isolation, "WORKER_TIMEOUT_S", 1e-6)  # no interpreter starts that fast
    with pytest.raises(BackendUnavailable, match="was stopped"), _compile(directory, frame):
        pass
