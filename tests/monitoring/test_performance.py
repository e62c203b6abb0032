"""Realised performance (bootstrap intervals) and CBPE-estimated performance."""

from __future__ import annotations

import monitor_helpers
import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from modelyard.data import synthetic
from modelyard.data.synthetic import FEATURES, TARGET
from modelyard.errors import InvalidInput
from modelyard.metrics import binary_classification_metrics
from modelyard.monitoring.performance import (
    Calibration,
    degradation,
    estimated,
    realised,
    score_bands,
    to_binary,
)

train_frame = monitor_helpers.train_frame
holdout_frame = monitor_helpers.holdout_frame
credit_model = monitor_helpers.credit_model


def test_realised_matches_the_shared_metrics(rng) -> None:
    p = np.round(rng.beta(1.2, 8, 5_000), 3)  # rounded: many ties
    y = (rng.random(p.size) < p).astype(int)
    got = realised(y, p, threshold=0.2, n_boot=100, bands=[0.05, 0.1, 0.2])
    want = binary_classification_metrics(y, p, threshold=0.2)
    for key in ("auc", "gini", "ks", "brier", "log_loss", "precision", "recall"):
        assert got["metrics"][key] == pytest.approx(want[key], abs=1e-12), key
    lo, hi = got["ci"]["auc"]
    assert lo < got["metrics"]["auc"] < hi and hi - lo < 0.06
    assert got["rows"] == 5_000 and got["positives"] == int(y.sum())
    assert [b["count"] for b in got["bands"]] == [
        int(((p >= a) & (p < b)).sum()) for a, b in [(-1, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, 2)]
    ]
    assert got["bands"][0]["lower"] is None and got["bands"][-1]["upper"] is None
    assert len(got["calibration"]) == 10


def test_realised_edge_cases() -> None:
    one_class = realised([0, 0, 0], [0.1, 0.2, 0.3], n_boot=50)
    assert one_class["metrics"]["auc"] is None and one_class["ci"] == {}
    assert one_class["metrics"]["brier"] == pytest.approx((0.01 + 0.04 + 0.09) / 3)
    with pytest.raises(InvalidInput, match="probabilities"):
        realised([0, 1], [0.2, 1.5])
    with pytest.raises(InvalidInput, match="0/1"):
        realised([0, 2], [0.2, 0.5])
    with pytest.raises(InvalidInput, match="threshold"):
        realised([0, 1], [0.2, 0.5], threshold=1.0)


def test_labels_and_bands() -> None:
    assert to_binary([1, 0, True, "1", "default", "no", "yes", None, "maybe", 2, 1.0]).tolist() == [
        1, 0, 1, 1, 1, 0, 1, -1, -1, -1, 1,
    ]  # fmt: skip
    assert score_bands(list(np.linspace(0, 1, 1001)), 4) == [0.25, 0.5, 0.75]
    assert score_bands(None) == []


def test_calibration(rng) -> None:
    p = rng.beta(1.5, 9, 40_000)
    y = (rng.random(p.size) < p).astype(int)
    fitted = Calibration.fit(y, p)
    assert fitted.method == "platt"
    assert fitted.a == pytest.approx(1.0, abs=0.06) and fitted.b == pytest.approx(0.0, abs=0.15)
    # a model that doubles every logit is overconfident; Platt scaling undoes it
    z = np.log(p / (1 - p))
    overconfident = 1 / (1 + np.exp(-2 * z))
    fixed = Calibration.fit(y, overconfident)
    assert fixed.a == pytest.approx(0.5, abs=0.04)
    assert brier_score_loss(y, fixed.apply(overconfident)) < brier_score_loss(y, overconfident)
    assert Calibration.fit(y[:100], p[:100]).method == "identity"  # too few rows
    assert Calibration.from_dict(fixed.to_dict()) == fixed


@pytest.fixture(scope="module")
def calibration(credit_model, holdout_frame) -> Calibration:
    scores = credit_model.predict_proba(holdout_frame[list(FEATURES)])[:, 1]
    return Calibration.fit(holdout_frame[TARGET].to_numpy(), scores, source="holdout")


def _both(model, calibration, frame):
    scores = model.predict_proba(frame[list(FEATURES)])[:, 1]
    real = realised(frame[TARGET].to_numpy(), scores, threshold=0.2, n_boot=100)
    est = estimated(scores, calibration=calibration, threshold=0.2, n_sim=100)
    return real, est


def test_cbpe_close_to_realised_without_concept_drift(credit_model, calibration) -> None:
    for seed in (303, 304):
        frame = synthetic.generate(20_000, seed=seed)
        real, est = _both(credit_model, calibration, frame)
        r, e = real["metrics"], est["metrics"]
        assert abs(r["auc"] - e["auc"]) < 0.02, seed
        assert abs(r["brier"] - e["brier"]) < 0.005, seed
        assert abs(r["positive_rate"] - e["positive_rate"]) < 0.01, seed
        assert abs(r["precision"] - e["precision"]) < 0.04, seed
        assert abs(r["recall"] - e["recall"]) < 0.04, seed
        lo, hi = est["ci"]["auc"]
        assert lo - 0.01 < r["auc"] < hi + 0.01
    assert "no concept drift" in est["assumption"]
    assert est["calibration"]["source"] == "holdout"


def test_cbpe_diverges_under_concept_drift(credit_model, calibration) -> None:
    frame = synthetic.generate(20_000, seed=303, scenario="concept_drift")
    real, est = _both(credit_model, calibration, frame)
    r, e = real["metrics"], est["metrics"]
    # riskier world, same scores: the estimate keeps the old default rate and Brier
    assert r["positive_rate"] - e["positive_rate"] > 0.06
    assert r["brier"] - e["brier"] > 0.04
    assert not est["ci"]["brier"][0] <= r["brier"] <= est["ci"]["brier"][1]
    assert r["calibration_error"] > 0.05
    baseline = {"auc": 0.74, "brier": 0.085, "calibration_error": 0.01}
    drops = degradation(r, baseline)
    assert drops["brier_drop"] > 0.04 and drops["calibration_error_drop"] > 0.04
    assert set(drops) == {"auc_drop", "brier_drop", "calibration_error_drop"}
    assert degradation({"auc": 0.7}, {"auc": 0.74})["auc_drop"] == pytest.approx(0.04)


def test_bootstrap_is_fast_enough_for_large_windows(rng) -> None:
    p = rng.random(200_000)
    y = (rng.random(p.size) < p).astype(int)
    got = realised(y, p, n_boot=50)
    assert got["metrics"]["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert got["ci"]["auc"][1] - got["ci"]["auc"][0] < 0.005
