"""Out-of-time data for the tree evaluators: trained before the regime change, scored after.

The generator's months after the change bring unseen categories, nulls and new
ranges; on top of them, nulls, unseen and fractional category codes, zeros,
values at LightGBM's zero threshold and infinities are injected at random cells.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OrdinalEncoder

from modelyard.data.out_of_time import (
    CATEGORICAL,
    FEATURES,
    NUMERIC,
    TARGET,
    generate_out_of_time,
    split_at_change,
)

ROWS = 40_000  # about 10,000 after the regime change
SCORED = 10_000
SEED = 23
ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold


@pytest.fixture(scope="session")
def data() -> dict[str, Any]:
    """Encoded training and scoring matrices (nulls and unseen categories injected)."""
    early, late = split_at_change(generate_out_of_time(ROWS, seed=SEED))
    encode = ColumnTransformer(
        [
            ("num", "passthrough", list(NUMERIC)),
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                list(CATEGORICAL),
            ),
        ]
    ).fit(early[list(FEATURES)])
    train = encode.transform(early[list(FEATURES)]).astype(np.float64)
    late = late.iloc[:SCORED].reset_index(drop=True)
    score = _inject(encode.transform(late[list(FEATURES)]).astype(np.float64), len(NUMERIC))
    assert score.shape[0] == SCORED
    y = early[TARGET].to_numpy()
    # Three classes: no default, default with a small loan, default with a large one.
    big = early["loan_amount"].to_numpy() > np.median(early["loan_amount"])
    classes = np.where(y == 0, 0, np.where(big, 2, 1))
    return {"train": train, "score": score, "y": y, "classes": classes, "n_num": len(NUMERIC)}


def _inject(matrix: np.ndarray, n_num: int) -> np.ndarray:
    """Nulls, unseen and fractional category codes, zeros and tiny values, at random cells."""
    rng = np.random.default_rng(SEED)
    out = matrix.copy()
    n, width = out.shape
    cells = rng.random((n, width))
    out[:, :n_num][cells[:, :n_num] < 0.05] = np.nan
    out[:, :n_num][(cells[:, :n_num] >= 0.05) & (cells[:, :n_num] < 0.08)] = 0.0
    cat = out[:, n_num:]
    cat[cells[:, n_num:] < 0.03] = np.nan
    cat[(cells[:, n_num:] >= 0.03) & (cells[:, n_num:] < 0.06)] = 977.0  # unseen code
    cat[(cells[:, n_num:] >= 0.06) & (cells[:, n_num:] < 0.07)] = 2.5  # truncated to 2
    cat[(cells[:, n_num:] >= 0.07) & (cells[:, n_num:] < 0.08)] = -0.5  # truncated to 0
    cat[(cells[:, n_num:] >= 0.08) & (cells[:, n_num:] < 0.085)] = 3e9  # beyond int32
    rows = rng.choice(n, size=40, replace=False)
    out[rows[:10], 0] = ZERO
    out[rows[10:20], 0] = -ZERO
    out[rows[20:30], 1] = 1e-300
    out[rows[30:], 1] = -np.inf
    return out
