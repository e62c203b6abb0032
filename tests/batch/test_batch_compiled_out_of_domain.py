"""Out-of-time chunks are scored by the compiled form, once it matched the model out of domain.

Real data brings unseen categories, nulls and numbers beyond the training range
in nearly every chunk. The domain-bound compiled scorer leaves such a chunk to
the native pipeline, so on the generator's out-of-time months almost no batch
chunk was scored compiled. After the contract has checked (and flagged) a
chunk, the widened scorer takes it — only if, at load, it matched the native
model on the contract's out-of-domain variants of the input example.

Rows through the compiled path are counted by the kernel deferral
(``modelyard.compiled._deferred``): every row a deferred tree model scores
before the kernel takes over goes through it, and only the compiled path does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import modelyard
from modelyard.batch.scoring import ScoringModel
from modelyard.compiled import _deferred
from modelyard.compiled.scorer import CompiledScorer
from modelyard.data.out_of_time import FEATURES, TARGET, generate_out_of_time, split_at_change
from modelyard.demo.credit_models import lightgbm_pipeline


@pytest.fixture(scope="module")
def months() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    early, late = split_at_change(generate_out_of_time(30_000, seed=5))
    x, y = early[list(FEATURES)].iloc[:6_000], early[TARGET].iloc[:6_000]
    return x, y, late[list(FEATURES)].head(3_000).reset_index(drop=True)


@pytest.fixture
def model_dir(tmp_path: Path, months: Any) -> tuple[Path, Any]:
    x, y, _ = months
    pipeline = lightgbm_pipeline(n_estimators=20).fit(x, y)
    yard = modelyard.connect(
        f"sqlite:///{tmp_path / 'yard.db'}",
        artifact_root=str(tmp_path / "artifacts"),
        user="alice",
        home=str(tmp_path / "home"),
    )
    version = yard.models.register("credit", pipeline, example=x)
    return yard.models.local_path(version.ref), pipeline


def _score_in_chunks(model: ScoringModel, late: pd.DataFrame) -> np.ndarray:
    """As a batch job does: the contract's check (rows flagged, none refused), then predict."""
    return np.vstack(
        [model.predict(model.contract.enforce(late.iloc[i : i + 1_000])) for i in (0, 1_000, 2_000)]
    )


def test_out_of_time_chunks_are_scored_compiled_and_exactly(
    model_dir: Any, months: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, pipeline = model_dir
    late = months[2]
    assert late.isna().any().any()  # nulls; unseen categories and new ranges come with them
    model = ScoringModel.load(path)
    assert model.form == "lightgbm-compiled"
    monkeypatch.setattr(_deferred, "_scored", 0)
    got = _score_in_chunks(model, late)
    assert np.array_equal(got, pipeline.predict_proba(late))  # bit-identical to LightGBM
    assert _deferred._scored == 3_000  # every out-of-time row went the compiled way


def test_a_widened_scorer_that_differs_out_of_domain_is_not_used(
    model_dir: Any, months: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, pipeline = model_dir
    late = months[2]
    original = CompiledScorer.matches
    calls = {"n": 0}

    def first_only(self: CompiledScorer, got: Any, expected: np.ndarray) -> bool:
        """The example's check passes; every out-of-domain variant "differs"."""
        calls["n"] += 1
        return original(self, got, expected) if calls["n"] == 1 else False

    monkeypatch.setattr(CompiledScorer, "matches", first_only)
    model = ScoringModel.load(path)
    assert model.form == "lightgbm-compiled" and calls["n"] == 2  # example, then one variant
    monkeypatch.setattr(_deferred, "_scored", 0)
    got = _score_in_chunks(model, late)
    assert np.array_equal(got, pipeline.predict_proba(late))
    assert _deferred._scored == 0  # every chunk held an out-of-domain value: all native


def test_a_bad_kernel_threshold_in_the_environment_is_named(
    model_dir: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelyard.errors import InvalidInput

    monkeypatch.setenv("MODELYARD_BATCH_KERNEL_AFTER_ROWS", "many")
    with pytest.raises(InvalidInput, match="MODELYARD_BATCH_KERNEL_AFTER_ROWS: must be a whole"):
        ScoringModel.load(model_dir[0])
    monkeypatch.setenv("MODELYARD_BATCH_KERNEL_AFTER_ROWS", "0")  # at load: the kernel at once
    assert ScoringModel.load(model_dir[0]).form == "lightgbm-compiled"


def test_the_kernel_threshold_is_a_setting_of_the_config_file_too(
    model_dir: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """The threshold is one of the settings: read from ``modelyard.toml`` in the worker,
    shown by ``modelyard info``, and a bad value there is named like the variable's."""
    from modelyard.config import load_settings
    from modelyard.errors import InvalidInput

    monkeypatch.delenv("MODELYARD_BATCH_KERNEL_AFTER_ROWS", raising=False)
    config = tmp_path / "modelyard.toml"
    monkeypatch.setenv("MODELYARD_CONFIG", str(config))
    config.write_text("[modelyard]\nbatch_kernel_after_rows = 0\n")
    assert load_settings().describe()["batch_kernel_after_rows"] == 0
    assert ScoringModel.load(model_dir[0]).form == "lightgbm-compiled"
    config.write_text("[modelyard]\nbatch_kernel_after_rows = -5\n")
    with pytest.raises(InvalidInput, match=r"batch_kernel_after_rows.*whole number of rows"):
        ScoringModel.load(model_dir[0])
