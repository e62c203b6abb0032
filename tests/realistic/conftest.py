"""Out-of-time data and the four pipelines a bank's team typically registers.

Every test in this folder trains on the months before the generator's regime
change and serves, scores, validates and monitors the months after it, where
categories, nulls and ranges appear that training never saw. The pipelines
(``realistic_pipelines.PIPELINES``) are fitted once per test process on the
early part.
"""

from __future__ import annotations

import pandas as pd
import pytest
from realistic_pipelines import PIPELINES, split_xy
from sklearn.pipeline import Pipeline

from modelyard.data.out_of_time import generate_out_of_time, split_at_change

ROWS = 12_000
SEED = 11


@pytest.fixture(scope="session")
def out_of_time() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(early, late): the months before the regime change and the months from it on."""
    return split_at_change(generate_out_of_time(ROWS, seed=SEED))


@pytest.fixture(scope="session")
def early(out_of_time: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return out_of_time[0]


@pytest.fixture(scope="session")
def late(out_of_time: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return out_of_time[1]


@pytest.fixture(scope="session")
def fitted_pipelines(early: pd.DataFrame) -> dict[str, Pipeline]:
    """The four pipelines fitted on the early months, keyed by the names in ``PIPELINES``."""
    x, y = split_xy(early)
    return {name: make().fit(x, y) for name, make in PIPELINES.items()}
