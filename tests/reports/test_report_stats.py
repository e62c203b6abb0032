"""The numeric helpers behind the reports: PSI, calibration bins, grouping, formatting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import calibration_curve

from modelyard.errors import InvalidInput
from modelyard.metrics import (
    binary_classification_metrics,
    calibration_bins,
    expected_calibration_error,
    population_stability_index,
    psi_table,
)
from modelyard.reports._format import fmt_num, fmt_pct, md_cell
from modelyard.reports.stats import MISSING_GROUP, group_labels


def test_psi_of_identical_scores_is_zero(rng: np.random.Generator) -> None:
    scores = rng.beta(2, 12, 5000)
    assert population_stability_index(scores, scores) == 0.0
    assert population_stability_index(scores, scores.copy()[::-1]) == 0.0


def test_psi_of_shifted_scores_exceeds_the_watch_level(rng: np.random.Generator) -> None:
    scores = rng.beta(2, 12, 5000)
    assert population_stability_index(scores, np.clip(scores + 0.05, 0, 1)) > 0.1
    assert population_stability_index(scores, scores * 1.5) > 0.1
    # A fresh sample of the same distribution stays well below it.
    assert population_stability_index(scores, rng.beta(2, 12, 5000)) < 0.02


def test_psi_table_bins_are_reference_deciles(rng: np.random.Generator) -> None:
    reference, current = rng.normal(0, 1, 10_000), rng.normal(0.3, 1, 7_000)
    table = psi_table(reference, current)
    assert len(table) == 10
    assert table[0]["lower"] is None and table[-1]["upper"] is None
    assert all(b["reference_share"] == pytest.approx(0.1, abs=1e-3) for b in table)
    assert sum(b["current_share"] for b in table) == pytest.approx(1.0)
    expected = sum(
        (c - r) * np.log(c / r)
        for r, c in ((b["reference_share"], b["current_share"]) for b in table)
    )
    assert population_stability_index(reference, current) == pytest.approx(expected)


def test_psi_survives_ties_and_empty_bins() -> None:
    reference = np.array([0.1] * 90 + [0.9] * 10)
    assert len(psi_table(reference, reference)) == 2
    assert np.isfinite(population_stability_index(reference, np.full(50, 0.5)))


@pytest.mark.parametrize("bad", [[], [0.1, np.nan], [[0.1, 0.2]]])
def test_psi_rejects_bad_arrays(bad: list) -> None:
    with pytest.raises(InvalidInput):
        population_stability_index(bad, [0.1, 0.2])


def test_calibration_bins_match_sklearn_and_ece(rng: np.random.Generator) -> None:
    p = rng.beta(2, 10, 3000)
    y = (rng.random(3000) < p).astype(int)
    bins = calibration_bins(y, p, bins=10)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    np.testing.assert_allclose([b["default_rate"] for b in bins], prob_true)
    np.testing.assert_allclose([b["mean_score"] for b in bins], prob_pred)
    ece = sum(b["count"] * abs(b["mean_score"] - b["default_rate"]) for b in bins) / 3000
    assert expected_calibration_error(y, p) == pytest.approx(ece)
    assert expected_calibration_error(y, p) < 0.03  # drawn from p itself: calibrated


def test_existing_metrics_are_unchanged(rng: np.random.Generator) -> None:
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    assert set(binary_classification_metrics(y, p)) == {
        "auc", "gini", "ks", "brier", "log_loss", "accuracy", "precision", "recall",
        "positive_rate",
    }  # fmt: skip


def test_group_labels_band_numbers_and_keep_missing() -> None:
    values = pd.Series(np.r_[np.arange(100, dtype=float), [np.nan, np.nan]])
    labels = group_labels(values)
    assert list(labels.cat.categories)[-1] == MISSING_GROUP
    assert labels.value_counts()[MISSING_GROUP] == 2
    bands = [c for c in labels.cat.categories if c != MISSING_GROUP]
    assert len(bands) == 5 and bands[0].startswith("[0") and bands[-1].endswith("]")
    few = group_labels(pd.Series([60, 36, 36, 60, 36]))
    assert list(few.cat.categories) == ["36", "60"]


def test_formatting_has_no_negative_zero() -> None:
    assert fmt_pct(-0.00001) == "0.0%"
    assert fmt_num(-0.00001) == "0.000"
    assert fmt_num(None) == "—" and fmt_num(float("nan")) == "—"
    assert fmt_num(12345) == "12,345"
    assert md_cell("a|b\nc") == "a\\|b<br>c"
