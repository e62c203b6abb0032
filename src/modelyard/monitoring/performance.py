"""Performance of a binary classifier in a window: realised from labels, estimated without.

**Realised** (``realised``): once labels join the window's predictions, AUC, Gini, KS,
Brier, log loss, precision and recall at the decision threshold, the calibration table
and the default rate per score band, each metric with a bootstrap confidence interval.
The bootstrap reweights rows with Poisson(1) counts (the usual large-sample stand-in
for resampling with replacement); scores are sorted once and grouped by tie, so each
replicate costs O(n) (``bincount`` and ``cumsum``), not a sort: 200 replicates of a
million rows take seconds. The point estimates equal scikit-learn's (ties count 1/2).

**Estimated** (``estimated``): before labels arrive, confidence-based performance
estimation in the manner of NannyML's CBPE. If the model's (calibrated) probability
``q`` of a row is right, its label is Bernoulli(``q``), so the expected confusion
matrix at a threshold is ``E[TP] = sum(q | score >= t)``, ``E[FP] = sum(1 - q | ...)``,
and the expected ROC curve has TPR and FPR steps ``q / sum(q)`` and ``(1 - q) /
sum(1 - q)`` in score order; the expected AUC, KS, precision, recall and Brier follow.
The interval is the spread of the metrics over labels simulated as Bernoulli(``q``):
sampling noise only, valid only under the assumption.

The assumption: **no concept drift**. ``P(default | score)`` in the window is what it
was on the calibration data. Covariate shift is fine (the estimate follows the new mix
of scores); a change in how features relate to defaults (a recession, a new fraud
pattern) is invisible to it, so the estimate stays put while realised performance
falls. That gap, drawn once labels come, is the signature of concept drift.

Calibration: the raw score is recalibrated by Platt scaling on its logit,
``q = sigmoid(a * logit(score) + b)``, fitted on labelled reference data (the
version's holdout when it has one). Two parameters cannot overfit, the map is monotone
(ranking, hence AUC, is unchanged) and ``a = 1, b = 0`` is the identity, which a
well-calibrated model gets back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelyard.errors import InvalidInput
from modelyard.monitoring.stats import finite_or_none

__all__ = [
    "ASSUMPTION",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
    "MIN_CALIBRATION_ROWS",
    "Calibration",
    "degradation",
    "estimated",
    "realised",
    "score_bands",
    "to_binary",
]

ASSUMPTION = (
    "Estimated performance assumes no concept drift: the probability of default given "
    "the score is what it was on the reference (calibration) data. It follows shifts in "
    "the mix of applicants but cannot see a change in how features relate to defaults; "
    "a gap between estimated and realised performance, once labels arrive, is the sign "
    "of such a change."
)
HIGHER_IS_BETTER = ("auc", "gini", "ks", "precision", "recall", "accuracy")
LOWER_IS_BETTER = ("brier", "log_loss", "calibration_error")
POSITIVE_LABELS = frozenset({"1", "1.0", "true", "t", "yes", "y", "default", "bad", "positive"})
NEGATIVE_LABELS = frozenset({"0", "0.0", "false", "f", "no", "n", "good", "negative"})
_EPS = 1e-15


def to_binary(labels: Iterable[Any]) -> np.ndarray:
    """0/1 per label (numbers, booleans or text such as "1", "true", "default"); -1 when
    a label is neither, so the caller can count and drop it."""
    values = list(labels)
    out = np.full(len(values), -1, dtype=np.int8)
    for i, v in enumerate(values):
        if v is None:
            continue
        if isinstance(v, bool | np.bool_):
            out[i] = int(v)
        elif isinstance(v, int | float | np.integer | np.floating):
            if v in (0, 1):
                out[i] = int(v)
        else:
            text = str(v).strip().lower()
            out[i] = 1 if text in POSITIVE_LABELS else 0 if text in NEGATIVE_LABELS else -1
    return out


# ---------------------------------------------------------------- calibration


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(q) - np.log1p(-q)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    from scipy.special import expit

    return expit(z)


def _loglik(x: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    from scipy.special import log_expit

    z = x @ beta
    return float(np.sum(y * log_expit(z) + (1 - y) * log_expit(-z)))


MIN_CALIBRATION_ROWS = 200


def _uncalibrated_reason(rows: int, source: str | None) -> str:
    if not rows:
        return (
            "no labelled holdout: log one with role 'holdout' (run.log_input(ds, "
            "role='holdout')) or rebuild with 'modelyard monitor reference REF --rebuild "
            "--holdout DATASET'"
        )
    where = f"holdout {source}" if source else "holdout"
    return f"{where} has {rows} rows, calibration needs {MIN_CALIBRATION_ROWS}"


@dataclass(frozen=True)
class Calibration:
    """``q = sigmoid(a * logit(score) + b)``; ``identity`` when a=1, b=0.

    ``reason`` says why an identity calibration is one (too few holdout rows, one class,
    no holdout): the estimate then trusts the raw scores, and says so.
    """

    a: float = 1.0
    b: float = 0.0
    method: str = "identity"
    rows: int = 0
    source: str | None = None
    reason: str | None = None

    @property
    def calibrated(self) -> bool:
        return self.method != "identity"

    def describe(self) -> str:
        """ "calibrated: Platt scaling on holdout X (N rows)" or "uncalibrated: why"."""
        if self.calibrated:
            return f"calibrated: Platt scaling on holdout {self.source or '-'} ({self.rows:,} rows)"
        return f"uncalibrated: {self._why()}"

    def _why(self) -> str:
        return self.reason or _uncalibrated_reason(self.rows, self.source)

    def apply(self, scores: np.ndarray) -> np.ndarray:
        if self.method == "identity":
            return np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0)
        return _sigmoid(self.a * _logit(np.asarray(scores, dtype=np.float64)) + self.b)

    @classmethod
    def fit(cls, y: np.ndarray, scores: np.ndarray, *, source: str | None = None) -> Calibration:
        """Platt scaling on the logit by Newton's method (a tiny ridge keeps it finite).

        Fewer than ``MIN_CALIBRATION_ROWS`` rows or one class only: the identity, with
        the reason.
        """
        y = np.asarray(y, dtype=np.float64)
        z = _logit(np.asarray(scores, dtype=np.float64))
        if y.size < MIN_CALIBRATION_ROWS:
            return cls(rows=int(y.size), source=source, reason=_uncalibrated_reason(y.size, source))
        if y.min() == y.max():
            where = f"holdout {source}" if source else "holdout"
            return cls(
                rows=int(y.size),
                source=source,
                reason=f"{where} has one class only (every label is {int(y[0])})",
            )
        x = np.column_stack([z, np.ones_like(z)])
        beta = np.array([1.0, 0.0])
        ridge = 1e-6 * y.size
        prior = np.array([1.0, 0.0])

        def objective(b: np.ndarray) -> float:
            return _loglik(x, y, b) - 0.5 * ridge * float(np.sum((b - prior) ** 2))

        current = objective(beta)
        for _ in range(100):
            mu = _sigmoid(x @ beta)
            grad = x.T @ (y - mu) - ridge * (beta - prior)
            hess = (x * (mu * (1 - mu))[:, None]).T @ x + ridge * np.eye(2)
            step = np.linalg.solve(hess, grad)
            for _ in range(30):  # halve the Newton step until the objective improves
                candidate = objective(beta + step)
                if candidate >= current:
                    break
                step = step / 2
            beta, current = beta + step, max(candidate, current)
            if np.abs(step).max() < 1e-10:
                break
        return cls(float(beta[0]), float(beta[1]), "platt", int(y.size), source)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "calibrated": self.calibrated,
            "a": self.a,
            "b": self.b,
            "rows": self.rows,
            "source": self.source,
            "reason": None if self.calibrated else self._why(),
            "status": self.describe(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Calibration:
        if not d:
            return cls()
        return cls(
            float(d.get("a", 1.0)),
            float(d.get("b", 0.0)),
            str(d.get("method", "identity")),
            int(d.get("rows", 0)),
            d.get("source"),
            d.get("reason"),
        )


# ---------------------------------------------------------------- weighted metrics


class _Ranked:
    """Scores sorted once and grouped by tie: every metric below is O(n) per weighting."""

    def __init__(self, scores: np.ndarray, threshold: float) -> None:
        self.order = np.argsort(scores, kind="stable")
        s = scores[self.order]
        new = np.empty(s.size, dtype=bool)
        new[:1] = True
        np.not_equal(s[1:], s[:-1], out=new[1:])
        self.group = np.cumsum(new) - 1
        self.groups = int(self.group[-1]) + 1 if s.size else 0
        self.scores = s
        self.predicted = s >= threshold
        self.log_p = np.log(np.clip(s, _EPS, 1.0))
        self.log_q = np.log(np.clip(1.0 - s, _EPS, 1.0))

    def metrics(self, pos: np.ndarray, neg: np.ndarray) -> dict[str, float | None]:
        """Metrics for per-row positive and negative weights (in sorted order)."""
        total_pos, total_neg = float(pos.sum()), float(neg.sum())
        total = total_pos + total_neg
        out: dict[str, float | None] = dict.fromkeys(
            ("auc", "gini", "ks", "precision", "recall"), None
        )
        if total <= 0:
            return {**out, "brier": None, "log_loss": None, "positive_rate": None}
        if total_pos > 0 and total_neg > 0:
            p = np.bincount(self.group, pos, minlength=self.groups)
            n = np.bincount(self.group, neg, minlength=self.groups)
            below = np.cumsum(n) - n
            auc = float((p * (below + 0.5 * n)).sum() / (total_pos * total_neg))
            ks = float(np.abs(np.cumsum(p) / total_pos - np.cumsum(n) / total_neg).max())
            out.update(auc=auc, gini=2 * auc - 1, ks=ks)
        flagged = float(pos[self.predicted].sum() + neg[self.predicted].sum())
        hits = float(pos[self.predicted].sum())
        out["precision"] = hits / flagged if flagged > 0 else None
        out["recall"] = hits / total_pos if total_pos > 0 else None
        s = self.scores
        brier = (pos * (1.0 - s) ** 2 + neg * s**2).sum() / total
        log_loss = -(pos * self.log_p + neg * self.log_q).sum() / total
        out.update(brier=float(brier), log_loss=float(log_loss), positive_rate=total_pos / total)
        return out


def _interval(samples: list[dict[str, float | None]], confidence: float) -> dict[str, list]:
    lo, hi = 50 * (1 - confidence), 50 * (1 + confidence)
    out: dict[str, list] = {}
    for key in samples[0] if samples else ():
        values = np.array([s[key] for s in samples if s[key] is not None], dtype=np.float64)
        if values.size >= 10:
            out[key] = [float(np.percentile(values, lo)), float(np.percentile(values, hi))]
    return out


def score_bands(reference_quantiles: Sequence[float] | None, bands: int = 10) -> list[float]:
    """Inner band edges from the reference's score quantiles (deciles by default)."""
    if not reference_quantiles:
        return []
    q = np.asarray(reference_quantiles, dtype=np.float64)
    idx = np.round(np.linspace(0, q.size - 1, bands + 1)[1:-1]).astype(int)
    return [float(x) for x in np.unique(q[idx])]


def _bands(
    scores: np.ndarray, edges: Sequence[float], y: np.ndarray | None, q: np.ndarray | None
) -> list[dict[str, Any]]:
    cuts = np.asarray(edges, dtype=np.float64)
    which = np.searchsorted(cuts, scores, "right")
    bounds = [-math.inf, *cuts.tolist(), math.inf]
    out = []
    for i in range(cuts.size + 1):
        mask = which == i
        count = int(mask.sum())
        row: dict[str, Any] = {
            "band": i + 1,
            "lower": finite_or_none(bounds[i]),
            "upper": finite_or_none(bounds[i + 1]),
            "count": count,
            "mean_score": float(scores[mask].mean()) if count else None,
        }
        if y is not None:
            row["default_rate"] = float(y[mask].mean()) if count else None
        if q is not None:
            row["expected_default_rate"] = float(q[mask].mean()) if count else None
        out.append(row)
    return out


def _check(scores: Any, threshold: float) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not s.size:
        raise InvalidInput("performance needs at least one scored row")
    if not np.all(np.isfinite(s)) or s.min() < 0 or s.max() > 1:
        raise InvalidInput("scores must be probabilities in [0, 1] with no NaN")
    if not 0 < threshold < 1:
        raise InvalidInput(f"the decision threshold must be in (0, 1). Got {threshold!r}.")
    return s


def realised(
    y: Any,
    scores: Any,
    *,
    threshold: float = 0.5,
    bands: Sequence[float] = (),
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics from labels, with bootstrap intervals (see the module docstring).

    Args:
        y: 0/1 labels, one per score.
        scores: Probabilities of the positive class.
        threshold: Decision threshold for precision and recall (score >= threshold).
        bands: Inner edges of the score bands for the default rate per band.
        n_boot: Bootstrap replicates (0: no intervals).
        confidence: Interval coverage.
        seed: Seeds the bootstrap.
    """
    from modelyard.metrics import calibration_bins

    s = _check(scores, threshold)
    labels = np.asarray(y, dtype=np.float64).ravel()
    if labels.shape != s.shape or not np.isin(labels, (0.0, 1.0)).all():
        raise InvalidInput("labels must be 0/1, one per score")
    ranked = _Ranked(s, threshold)
    ys = labels[ranked.order]
    point = ranked.metrics(ys, 1.0 - ys)
    both = 0 < labels.sum() < labels.size
    cal = calibration_bins(labels, s) if both else []
    if cal:
        rows = sum(b["count"] for b in cal)
        point["calibration_error"] = float(
            sum(b["count"] * abs(b["mean_score"] - b["default_rate"]) for b in cal) / rows
        )
    else:
        point["calibration_error"] = None
    point["mean_score"] = float(s.mean())
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_boot if both else 0):
        w = rng.poisson(1.0, s.size).astype(np.float64)
        samples.append(ranked.metrics(w * ys, w * (1.0 - ys)))
    return {
        "rows": int(s.size),
        "positives": int(labels.sum()),
        "threshold": float(threshold),
        "metrics": {k: finite_or_none(v) for k, v in point.items()},
        "ci": _interval(samples, confidence),
        "confidence": confidence,
        "bootstrap": n_boot if both else 0,
        "calibration": cal,
        "bands": _bands(s, bands, labels, None),
    }


def estimated(
    scores: Any,
    *,
    calibration: Calibration | None = None,
    threshold: float = 0.5,
    bands: Sequence[float] = (),
    n_sim: int = 100,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Expected metrics without labels, under the no-concept-drift assumption (CBPE)."""
    s = _check(scores, threshold)
    cal = calibration or Calibration()
    q = cal.apply(s)
    ranked = _Ranked(s, threshold)
    qs = q[ranked.order]
    point = ranked.metrics(qs, 1.0 - qs)
    point["mean_score"] = float(s.mean())
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_sim):
        drawn = (rng.random(s.size) < qs).astype(np.float64)
        samples.append(ranked.metrics(drawn, 1.0 - drawn))
    return {
        "rows": int(s.size),
        "calibrated": cal.calibrated,
        "expected_positives": float(q.sum()),
        "threshold": float(threshold),
        "metrics": {k: finite_or_none(v) for k, v in point.items()},
        "ci": _interval(samples, confidence),
        "confidence": confidence,
        "simulations": n_sim,
        "calibration": cal.to_dict(),
        "bands": _bands(s, bands, None, q),
        "assumption": ASSUMPTION,
    }


def degradation(metrics: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float]:
    """``<metric>_drop`` per metric both have: how much worse than the baseline (> 0 is
    worse; for Brier, log loss and calibration error the rise)."""
    out = {}
    for key in (*HIGHER_IS_BETTER, *LOWER_IS_BETTER):
        now, then = metrics.get(key), baseline.get(key)
        if isinstance(now, int | float) and isinstance(then, int | float):
            drop = then - now if key in HIGHER_IS_BETTER else now - then
            out[f"{key}_drop"] = float(drop)
    return out
