"""Shared data for the monitoring tests: seeded generators and synthetic credit frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelyard.data import synthetic

REFERENCE_ROWS = 20_000


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261124)


@pytest.fixture(scope="session")
def reference_frame() -> pd.DataFrame:
    """The 'none' scenario, 20,000 rows: the reference of the scenario tests."""
    return synthetic.generate(REFERENCE_ROWS, seed=101)
