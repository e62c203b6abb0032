"""Attribution drift: which features the model relies on, per window, against training.

Feature drift says the inputs moved; attribution drift says the *model's use*
of them moved — a model that starts deciding on a different feature shows up
here before any label arrives. For a window, the importance of a feature is
its mean absolute contribution to the raw score over a sample of the
window's rows (``modelyard.explain``); the reference is the same over the
version's stored training example. Each feature's share of the total is
compared, and the summary names the feature that leads in each and the
largest change of share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SAMPLE_ROWS", "attribution_summary", "mean_abs_contributions"]

SAMPLE_ROWS = 500
"""Rows of a window (and of the training example) whose contributions are averaged."""


def mean_abs_contributions(explainer: Any, frame: pd.DataFrame) -> dict[str, float]:
    """Mean |contribution| of each input column over the rows of ``frame``."""
    values = explainer.contributions(frame.head(SAMPLE_ROWS)).values
    return dict(zip(explainer.columns, np.abs(values).mean(axis=0).tolist(), strict=True))


def _shares(importance: dict[str, float]) -> dict[str, float]:
    total = sum(importance.values())
    return {k: (v / total if total > 0 else 0.0) for k, v in importance.items()}


def attribution_summary(
    reference: dict[str, float], current: dict[str, float], rows: int
) -> dict[str, Any]:
    """Per-feature mean |contribution| and share, then and now, and the headline changes."""
    ref_share, cur_share = _shares(reference), _shares(current)
    features = {
        name: {
            "reference": reference[name],
            "current": current.get(name, 0.0),
            "reference_share": ref_share[name],
            "current_share": cur_share.get(name, 0.0),
            "share_change": cur_share.get(name, 0.0) - ref_share[name],
        }
        for name in reference
    }
    changes = {n: abs(f["share_change"]) for n, f in features.items()}
    moved = max(changes, key=lambda n: changes[n]) if changes else None
    return {
        "rows": rows,
        "top_reference": max(reference, key=lambda n: reference[n]) if reference else None,
        "top_current": max(current, key=lambda n: current[n]) if current else None,
        "max_share_change": changes[moved] if moved else 0.0,
        "most_changed": moved,
        "features": features,
    }
