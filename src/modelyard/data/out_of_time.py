"""Synthetic loan applications that behave like a bank's real out-of-time data.

``modelyard.data.synthetic`` draws clean, stationary populations with
scenarios switched on one at a time. Real data is messier: a model trained on
the first months is served, batch-scored and monitored on the months after,
and those bring values that training never saw. This generator reproduces
what breaks naive platforms on public credit data split in time order:

- rows in time order over ``months`` months, with a **regime change** after
  ``change_date``: incomes fall, debt burden rises and the default mechanism
  itself gets riskier;
- **categories that first appear late**: ``application_month`` (every month
  after training is a new string), a new contact ``channel`` (``app``), new
  ``postcode_area`` prefixes and new integer ``branch_code`` values;
- **nulls appearing late** in ``employment_years``, complete before the change;
- column names with **dots and spaces** (``bureau.score``,
  ``months since delinquency``) and an **integer-coded categorical**
  (``branch_code``);
- a column that is sometimes null by nature (``months since delinquency``,
  null for applicants who were never delinquent).

Ground truth: ``default`` is Bernoulli(sigmoid(z)) with ``z`` the base
generator's logit (``synthetic.COEFFICIENTS``, computed from clean values)
plus the effects in ``EXTRA_EFFECTS``; after the change the coefficients
move by ``REGIME_DELTA``. ``true_default_probability`` gives it per row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelyard.data import synthetic
from modelyard.errors import InvalidInput

__all__ = [
    "CATEGORICAL",
    "CHANGE_DATE",
    "EXTRA_EFFECTS",
    "FEATURES",
    "LATE_CATEGORIES",
    "NUMERIC",
    "REGIME_DELTA",
    "TARGET",
    "generate_out_of_time",
    "split_at_change",
    "true_default_probability",
]

TARGET = synthetic.TARGET
START_DATE = "2025-01-01"
CHANGE_DATE = "2025-10-01"
MONTHS = 12

CHANNELS_EARLY = ("branch", "phone", "web")
CHANNEL_LATE = "app"
POSTCODES_EARLY = ("AB", "B", "BS", "CF", "E", "EH", "G", "L", "LS", "M", "N", "NE", "SW")
POSTCODES_LATE = ("ZE", "HS", "KW")
BRANCHES_EARLY = tuple(range(101, 131))
BRANCHES_LATE = (131, 132, 133)

FEATURES = (
    *synthetic.FEATURES,
    "application_month", "channel", "postcode_area", "branch_code",
    "bureau.score", "months since delinquency",
)  # fmt: skip
CATEGORICAL = (
    "home_ownership", "region", "loan_purpose", "application_month", "channel",
    "postcode_area", "branch_code",
)  # fmt: skip
NUMERIC = tuple(f for f in FEATURES if f not in CATEGORICAL)

# Effects of the extra columns on the default logit (an unknown category adds 0).
EXTRA_EFFECTS: dict[str, Any] = {
    "channel": {"branch": -0.1, "phone": 0.0, "web": 0.1, CHANNEL_LATE: 0.35},
    "bureau_score": -0.004,  # per point above 650
    "recent_delinquency": 0.3,  # delinquent within the last 12 months
}
# After the change: riskier overall and debt burden matters more.
REGIME_DELTA: dict[str, float] = {"intercept": 0.3, "debt_to_income": 1.5}
# Share of rows after the change that take a late-only value.
LATE_CATEGORIES: dict[str, float] = {"channel": 0.25, "postcode_area": 0.08, "branch_code": 0.1}
_LATE_EMPLOYMENT_NULLS = 0.15


def _check(rows: Any, months: Any, start: pd.Timestamp, change: pd.Timestamp) -> None:
    for name, value, minimum in (("rows", rows, 1), ("months", months, 2)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
            raise InvalidInput(
                f"The {name!r} parameter must be an integer >= {minimum}. Got {value!r}."
            )
    end = start + pd.DateOffset(months=months)
    if not start < change < end:
        raise InvalidInput(
            f"The 'change_date' parameter must fall inside the window {start.date()} .. "
            f"{end.date()}. Got {change.date()}."
        )


def _timestamp(name: str, value: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"The {name!r} parameter is not a date: {value!r}.") from exc
    if stamp is pd.NaT:
        raise InvalidInput(f"The {name!r} parameter is not a date: {value!r}.")
    return stamp.tz_localize(None) if stamp.tzinfo else stamp


def _late_choice(
    rng: np.random.Generator, late: np.ndarray, early: tuple, new: tuple, share: float
) -> np.ndarray:
    """Draw from ``early`` before the change; after it, ``share`` of rows take a ``new`` value."""
    n = len(late)
    values = np.array(early, dtype=object)[rng.integers(0, len(early), n)]
    hit = late & (rng.random(n) < share)
    values[hit] = np.array(new, dtype=object)[rng.integers(0, len(new), int(hit.sum()))]
    return values


def _extra_logit(frame: pd.DataFrame) -> np.ndarray:
    channel = frame["channel"].map(EXTRA_EFFECTS["channel"]).fillna(0.0).to_numpy(dtype=float)
    score = frame["bureau.score"].to_numpy(dtype=float)
    since = frame["months since delinquency"].to_numpy(dtype=float)
    recent = np.where(np.isnan(since), 0.0, (since <= 12).astype(float))
    return (
        channel
        + EXTRA_EFFECTS["bureau_score"] * (score - 650.0)
        + EXTRA_EFFECTS["recent_delinquency"] * recent
    )


def true_default_probability(frame: pd.DataFrame, *, change_date: Any = CHANGE_DATE) -> np.ndarray:
    """The default probability of each row of a frame with clean values.

    Rows whose ``employment_years`` the generator blanked out after the change
    get NaN here; ``generate_out_of_time(..., with_truth=True)`` returns the
    truth computed before blanking.
    """
    change = _timestamp("change_date", change_date)
    late = (frame["application_date"] >= change).to_numpy()
    shifted = dict(synthetic.COEFFICIENTS)
    for key, delta in REGIME_DELTA.items():
        shifted[key] = synthetic.COEFFICIENTS[key] + delta
    base = synthetic._logit(frame, synthetic.COEFFICIENTS)
    z = np.where(late, synthetic._logit(frame, shifted), base) + _extra_logit(frame)
    return synthetic._sigmoid(z)


def generate_out_of_time(
    rows: int,
    *,
    seed: int = 0,
    start_date: Any = START_DATE,
    months: int = MONTHS,
    change_date: Any = CHANGE_DATE,
    with_truth: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Draw ``rows`` applications over ``months`` months with a regime change at ``change_date``.

    Returns:
        One row per application in time order: ``application_id``,
        ``application_date``, the ``FEATURES`` and the 0/1 ``default``;
        ``frame.attrs["change_date"]`` holds the change date. With
        ``with_truth=True``, the pair (frame, true default probability per row).
    """
    start = _timestamp("start_date", start_date)
    change = _timestamp("change_date", change_date)
    _check(rows, months, start, change)

    days = int((start + pd.DateOffset(months=months) - start).days)
    frame = synthetic.generate(rows, seed=seed, start_date=start, days=days)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 20251001]))
    late = (frame["application_date"] >= change).to_numpy()
    n = len(frame)

    # Regime change: incomes ~12% lower after the change, so debt-to-income higher.
    factor = np.where(late, 0.88, 1.0)
    frame["income"] = np.round(frame["income"] * factor, 0)
    frame["debt_to_income"] = np.round(frame["debt_to_income"] / factor, 4)

    frame["application_month"] = frame["application_date"].dt.strftime("%Y-%m").astype(object)
    frame["channel"] = _late_choice(
        rng, late, CHANNELS_EARLY, (CHANNEL_LATE,), LATE_CATEGORIES["channel"]
    )
    frame["postcode_area"] = _late_choice(
        rng, late, POSTCODES_EARLY, POSTCODES_LATE, LATE_CATEGORIES["postcode_area"]
    )
    frame["branch_code"] = _late_choice(
        rng, late, BRANCHES_EARLY, BRANCHES_LATE, LATE_CATEGORIES["branch_code"]
    ).astype(np.int64)
    delinquent = frame["delinquencies_2y"].to_numpy() > 0
    frame["bureau.score"] = np.round(
        np.clip(rng.normal(700, 60, n) - 25 * np.minimum(frame["delinquencies_2y"], 4), 300, 999)
    ).astype(np.int64)
    frame["months since delinquency"] = np.where(
        delinquent, rng.integers(0, 24, n).astype(float), np.nan
    )

    probability = true_default_probability(frame.drop(columns=[TARGET]), change_date=change)
    uniform = np.random.default_rng(np.random.SeedSequence([seed, 7])).random(n)
    target = (uniform < probability).astype(np.int64)

    # Quality fault after the change: employment_years, complete before, goes missing.
    blank = late & (rng.random(n) < _LATE_EMPLOYMENT_NULLS)
    frame["employment_years"] = frame["employment_years"].mask(blank)

    out = frame[["application_id", "application_date", *FEATURES]].copy()
    out[TARGET] = target
    out.attrs["change_date"] = str(change.date())
    return (out, probability) if with_truth else out


def split_at_change(
    frame: pd.DataFrame, *, change_date: Any = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a generated frame into (before the change, from the change on), as training
    and out-of-time data are split in practice."""
    when = _timestamp("change_date", change_date or frame.attrs.get("change_date") or CHANGE_DATE)
    late = (frame["application_date"] >= when).to_numpy()
    early_part, late_part = frame[~late].copy(), frame[late].copy()
    for part in (early_part, late_part):
        part.attrs = {"change_date": str(when.date())}
    return early_part, late_part
