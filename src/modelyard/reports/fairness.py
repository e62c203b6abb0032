"""Group fairness of credit decisions: approval-rate ratio and true-positive-rate gap.

A decision is taken at ``threshold``: a score (probability of default) below
it is an *approval*; at or above it the applicant is declined (predicted
default, as in ``modelyard.metrics``). Per group of the attribute:

- approval rate = share of the group's applicants approved;
- true-positive rate (TPR) = share of the group's actual defaulters declined,
  i.e. how well the model catches defaults in that group (undefined when the
  group has no defaulters).

Headline figures: ``approval_rate_ratio`` = lowest / highest approval rate
(the "four-fifths rule" of adverse impact flags a ratio below 0.8), and
``tpr_gap`` = highest - lowest TPR across groups where it is defined (an
equal-opportunity gap). Groups are ``stats.group_labels`` of the attribute,
so a numeric attribute such as age is compared in quantile bands.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelyard.reports.stats import group_labels

__all__ = ["FOUR_FIFTHS", "SMALL_GROUP", "fairness_table"]

FOUR_FIFTHS = 0.8
SMALL_GROUP = 50
"""Groups with fewer rows are flagged: their rates move by several points per applicant."""


def fairness_table(
    attribute: pd.Series, y_true: np.ndarray, y_score: np.ndarray, *, threshold: float
) -> dict[str, Any]:
    """Per-group decision rates and the two headline figures.

    Returns:
        ``{"attribute", "threshold", "groups": [...], "approval_rate_ratio",
        "tpr_gap"}``; each group has ``group``, ``count``, ``share``,
        ``defaults``, ``default_rate``, ``approval_rate``, ``tpr`` (None
        without defaulters), ``fpr`` (None without non-defaulters) and
        ``small`` (fewer than ``SMALL_GROUP`` rows). A headline figure is None
        when it is undefined (no approvals anywhere, or no group with defaulters).
    """
    labels = group_labels(attribute)
    codes = labels.cat.codes.to_numpy()
    declined = y_score >= threshold
    groups: list[dict[str, Any]] = []
    for code, name in enumerate(labels.cat.categories):
        mask = codes == code
        count = int(mask.sum())
        if not count:
            continue
        bad = mask & (y_true == 1)
        good = mask & (y_true == 0)
        groups.append(
            {
                "group": str(name),
                "count": count,
                "share": count / len(y_true),
                "defaults": int(bad.sum()),
                "default_rate": float(bad.sum() / count),
                "approval_rate": float(np.mean(~declined[mask])),
                "tpr": float(np.mean(declined[bad])) if bad.any() else None,
                "fpr": float(np.mean(declined[good])) if good.any() else None,
                "small": count < SMALL_GROUP,
            }
        )
    approvals = [g["approval_rate"] for g in groups]
    tprs = [g["tpr"] for g in groups if g["tpr"] is not None]
    return {
        "attribute": str(attribute.name),
        "threshold": float(threshold),
        "groups": groups,
        "approval_rate_ratio": min(approvals) / max(approvals) if max(approvals) > 0 else None,
        "tpr_gap": max(tprs) - min(tprs) if tprs else None,
    }
