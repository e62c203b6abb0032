"""Batch scorers start on the library's own evaluator and compile the tree kernel later.

The kernel cannot be cached on disk (numba's cache is pickle), so each process
compiles it, 2-3 s of CPU; a batch worker does so only after it has scored
enough rows to repay it. Answers never depend on which evaluator scored a row:
the switch is checked on the rows that trigger it, and a kernel that differs
or fails leaves the library in charge.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from typing import Any

import lightgbm
import numpy as np
import pytest
import xgboost
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)

from modelyard.compiled import _deferred, compile_estimator, kernel_after_rows


@pytest.fixture(autouse=True)
def _fresh_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows are counted per process; each test starts from none scored."""
    monkeypatch.setattr(_deferred, "_scored", 0)


class _Counting:
    def __init__(self, answer: Any) -> None:
        self.calls, self._answer = 0, answer

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        self.calls += 1
        if isinstance(self._answer, Exception):
            raise self._answer
        return self._answer(matrix)


def _sums(matrix: np.ndarray) -> np.ndarray:
    return matrix.sum(axis=1)


def test_outside_a_block_the_kernel_is_used_at_once() -> None:
    kernel = _Counting(_sums)
    predict, evaluator = _deferred.deferred(kernel, _Counting(_sums), "the library")
    assert predict is kernel and evaluator == "numba tree kernel"


def test_the_kernel_takes_over_once_enough_rows_are_scored_and_checked() -> None:
    kernel, library = _Counting(_sums), _Counting(_sums)
    with kernel_after_rows(100):
        predict, evaluator = _deferred.deferred(kernel, library, "the library")
    assert evaluator == "numba tree kernel after 100 rows a process (the library before)"
    x = np.arange(180.0).reshape(60, 3)
    assert np.array_equal(predict(x), _sums(x)) and (kernel.calls, library.calls) == (0, 1)
    assert np.array_equal(predict(x), _sums(x)) and (kernel.calls, library.calls) == (1, 2)
    assert np.array_equal(predict(x), _sums(x)) and (kernel.calls, library.calls) == (2, 2)


def test_a_kernel_that_differs_or_fails_leaves_the_library_scoring(
    caplog: pytest.LogCaptureFixture,
) -> None:
    x = np.ones((10, 2))
    cases = [
        (_Counting(lambda m: _sums(m) + 1.0), "differs from the library on 10 rows"),
        (_Counting(RuntimeError("no LLVM")), "failed (no LLVM)"),
    ]
    for bad, said in cases:
        library = _Counting(_sums)
        with kernel_after_rows(5), caplog.at_level(logging.WARNING):
            predict, _ = _deferred.deferred(bad, library, "the library")
            for _ in range(3):
                assert np.array_equal(predict(x), _sums(x))
        assert bad.calls == 1 and library.calls == 3
        assert said in caplog.text and "the library keeps scoring" in caplog.text
        caplog.clear()


def test_a_negative_row_count_is_refused() -> None:
    with pytest.raises(ValueError, match="rows must be >= 0, got -1"), kernel_after_rows(-1):
        pass


def _fitted(data: dict[str, Any]) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    x, y = data["train"][:8_000], data["y"][:8_000]
    common = {"random_state": 3}
    return (
        {
            "lightgbm": lightgbm.LGBMClassifier(n_estimators=40, verbose=-1, n_jobs=1, **common),
            "xgboost": xgboost.XGBClassifier(n_estimators=40, max_depth=4, n_jobs=1, **common),
            "forest": RandomForestClassifier(n_estimators=10, max_depth=6, **common),
            "gbdt": GradientBoostingClassifier(n_estimators=20, max_depth=3, **common),
            "hgb": HistGradientBoostingClassifier(max_iter=30, **common),
        },
        x,
        y,
    )


def _gate(estimator: Any) -> Any:
    for holder in ("_trees", "_raw", "_booster"):
        found = getattr(estimator, holder, None)
        if found is not None:
            return getattr(found, "predict", found)
    raise AssertionError(f"no evaluator found on {estimator!r}")


@pytest.mark.parametrize("name", ["lightgbm", "xgboost", "forest", "gbdt", "hgb"])
def test_each_tree_model_gives_its_own_answers_before_and_after_the_switch(
    data: dict[str, Any], name: str
) -> None:
    models, x, y = _fitted(data)
    score = data["score"]  # out of time: unseen and fractional codes, nulls, zeros, infinities
    if name in ("forest", "gbdt", "hgb"):  # scikit-learn refuses infinities; compiled forests NaN
        nan = np.nan if name == "hgb" else 0.0
        x, score = (np.nan_to_num(m, nan=nan, posinf=1e30, neginf=-1e30) for m in (x, score))
    model = models[name].fit(x, y)
    native = model.predict_proba(score)
    with kernel_after_rows(5_000):
        estimator = compile_estimator(model, x.shape[1])
    assert estimator.evaluator.startswith("numba tree kernel after 5,000 rows a process (")
    gate = _gate(estimator)
    got = [estimator.predict(score[i : i + 3_000]) for i in range(0, 9_000, 3_000)]
    assert np.array_equal(np.vstack(got), native[:9_000])
    assert gate._use is not None and gate._use is gate._kernel  # switched, and checked


def test_a_small_batch_scorer_never_compiles_the_kernel(tmp_path: Any) -> None:
    """In a fresh process (numba's compiled signatures are per process): 2,000 rows
    leave the kernel uncompiled; past the threshold (lowered here to 3,000) it is.

    The counted rows are training rows: a batch chunk holding a number outside the
    training range or an unseen category is scored by the native pipeline today
    (the compiled decoder leaves those to it) and would not reach the kernel;
    out-of-time rows are scored at the end, with the same answers.
    """
    script = textwrap.dedent(
        f"""
        import numpy as np
        import modelyard
        import modelyard.compiled
        from modelyard.batch.scoring import ScoringModel
        from modelyard.compiled import _deferred, _tree_kernel
        from modelyard.data.out_of_time import (
            FEATURES, TARGET, generate_out_of_time, split_at_change,
        )
        from modelyard.demo.credit_models import lightgbm_pipeline

        early, late = split_at_change(generate_out_of_time(30_000, seed=5))
        x, y = early[list(FEATURES)].iloc[:6_000], early[TARGET].iloc[:6_000]
        pipeline = lightgbm_pipeline(n_estimators=20).fit(x, y)
        yard = modelyard.connect(
            "sqlite:///{tmp_path}/yard.db", artifact_root="{tmp_path}/artifacts",
            user="alice", home="{tmp_path}/home",
        )
        version = yard.models.register("credit", pipeline, example=x)
        modelyard.compiled.BATCH_KERNEL_AFTER_ROWS = 3_000
        model = ScoringModel.load(yard.models.local_path(version.ref))
        assert model.form.endswith("-compiled"), model.form
        seen = set()
        for start in range(0, 2_800, 700):
            rows = x.iloc[start : start + 700]
            assert np.array_equal(model.predict(rows), pipeline.predict_proba(rows))
            compiled = _tree_kernel.compiled_signatures()
            assert compiled == (1 if _deferred._scored >= 3_000 else 0), _deferred._scored
            seen.add(compiled)
        late = late[list(FEATURES)].head(3_000)
        assert np.array_equal(model.predict(late), pipeline.predict_proba(late))
        print(sorted(seen))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[0, 1]"  # uncompiled first, compiled past the threshold
