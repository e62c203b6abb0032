"""The realistic fixtures themselves: the late part really holds what training never saw,
and every pipeline scores it natively (so any refusal is the platform's doing)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from realistic_pipelines import PIPELINES, split_xy

from modelyard.data.out_of_time import CATEGORICAL


def test_late_part_holds_unseen_categories_and_new_nulls(
    early: pd.DataFrame, late: pd.DataFrame
) -> None:
    unseen = {c: set(late[c]) - set(early[c]) for c in CATEGORICAL}
    assert unseen["application_month"] and unseen["channel"] == {"app"}
    assert unseen["postcode_area"] and unseen["branch_code"]
    assert early["employment_years"].notna().all()
    assert late["employment_years"].isna().mean() > 0.05


def test_every_pipeline_scores_every_late_row_natively(
    fitted_pipelines: dict, late: pd.DataFrame
) -> None:
    x, y = split_xy(late)
    assert set(fitted_pipelines) == set(PIPELINES)
    for name, model in fitted_pipelines.items():
        p = model.predict_proba(x)[:, 1]
        assert p.shape == (len(late),) and np.isfinite(p).all(), name
        assert 0.5 < float(np.mean((p > 0.5) == y)) <= 1.0, name
