"""``models validate`` on the months after the regime change, for the four realistic
pipelines registered as the README does (``inputs=[train]``, ``example=x.head(5)``):
it never dies on values training never saw, and its score PSI is measured against the
training dataset the run recorded."""

from __future__ import annotations

import numpy as np
import pytest
from realistic_pipelines import PIPELINES, split_xy
from registered_oot import TRAIN, connect, register_all
from sklearn.metrics import roc_auc_score

from modelyard.metrics import population_stability_index

pytestmark = pytest.mark.xdist_group("realistic-validate")


@pytest.fixture(scope="module")
def registered(tmp_path_factory, fitted_pipelines, early, late):
    root = tmp_path_factory.mktemp("oot-validate")
    yard = connect(root)
    refs = register_all(yard, fitted_pipelines, early)
    late_ref = yard.datasets.register("oot-late", late).ref
    yield yard, refs, late_ref
    yard.close()


@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_validate_scores_the_late_part_and_measures_psi_against_training(
    registered, pipeline, fitted_pipelines, early, late
) -> None:
    yard, refs, late_ref = registered
    outcome = yard.models.validate(refs[pipeline], late_ref)

    native = fitted_pipelines[pipeline]
    x_late, y_late = split_xy(late)
    late_scores = native.predict_proba(x_late)[:, 1]
    train_scores = native.predict_proba(split_xy(early)[0])[:, 1]
    # every late row was scored as the native pipeline scores it
    assert outcome.metrics["n_rows"] == len(late)
    assert outcome.metrics["auc"] == pytest.approx(roc_auc_score(y_late, late_scores), abs=1e-9)
    # the score PSI is against the training dataset the run recorded (role "input")
    assert outcome.reference == f"training dataset {TRAIN} (input of the training run)"
    assert outcome.metrics["n_reference_rows"] == len(early)
    assert outcome.metrics["psi_scores"] == pytest.approx(
        population_stability_index(train_scores, late_scores), rel=1e-9
    )
    assert np.isfinite(outcome.metrics["psi_scores"])
    html = outcome.report_path.read_text()
    assert "no reference data" not in html and "no training data recorded" not in html
    assert f"reference: training dataset {TRAIN}" in html
    stored = yard.models.get(refs[pipeline]).artifact("validation_report.html")
    assert stored.details["reference"] == outcome.reference


def test_validate_without_training_data_says_what_is_missing(registered, late) -> None:
    yard, refs, _ = registered
    model = next(iter(PIPELINES))
    version = yard.models.get(refs[model])
    # a second version without a run: no training data is known
    native = yard.models.load(version.ref).native
    bare = yard.models.register(
        version.name, native, example=split_xy(late)[0].head(5), target="default"
    )
    outcome = yard.models.validate(bare.ref, late)
    assert outcome.reference is None and "psi_scores" not in outcome.metrics
    html = outcome.report_path.read_text()
    assert "No training data is recorded for this version" in html
