"""Seeded synthetic credit-risk loan applications with a known ground truth.

Public data cannot be downloaded where Modelyard is built and tested, so the demo
and every test that trains, serves, scores or monitors a model draws its data
here. Because the data-generating process is known exactly, tests can check
more than "it ran": a model's calibration against the true default probability,
and a drift monitor's verdicts against drift that was injected on purpose.

Ground truth. ``default`` is Bernoulli(p) with ``p = sigmoid(z)`` and::

    z = intercept
        + debt_to_income * dti
        + utilisation * util + utilisation_over_80 * max(util - 0.8, 0)
        + delinquencies * min(delinquencies_2y, 5)
        + log_income * ln(income / 40_000)
        + loan_to_income * loan_amount / income
        + term_60 * [term == 60]
        + log_credit_history * ln(1 + credit_history_years)
        + employment * min(employment_years, 10)
        + num_open_accounts * num_open_accounts
        + age_squared * (age - 45) ** 2
        + home[home_ownership] + purpose[loan_purpose] + region[region]

with the coefficients in ``COEFFICIENTS`` (an unknown category contributes 0).
The hinge on utilisation and the U-shape in age are the nonlinear terms a
linear model misses. ``interest_rate`` is the lender's price from a noisy view
of ``z``: predictive, but not part of the truth. The default rate is about 11%.

Scenarios are post-transforms of the base population, which uses the same
random draws whatever the scenario, so a scenario changes only its
``drifted_features`` (and the target). Covariate shifts recompute the target
from the shifted features with the same uniform draws (the true model holds);
``concept_drift`` keeps every feature and changes the coefficients by
``CONCEPT_DRIFT_DELTA``; quality faults draw the target from the clean values
before corrupting them, so ``true_default_probability`` of a corrupted frame is
not the truth for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from modelyard.errors import InvalidInput

__all__ = [
    "COEFFICIENTS",
    "CONCEPT_DRIFT_DELTA",
    "FEATURES",
    "HOME_OWNERSHIP",
    "LOAN_PURPOSES",
    "NEW_CATEGORY",
    "REGIONS",
    "SCENARIOS",
    "TARGET",
    "Scenario",
    "describe_scenarios",
    "generate",
    "scenario_names",
    "true_default_probability",
]

TARGET = "default"
FEATURES = (
    "age", "employment_years", "income", "home_ownership", "region", "loan_purpose",
    "loan_amount", "term", "interest_rate", "debt_to_income", "credit_history_years",
    "num_open_accounts", "delinquencies_2y", "utilisation",
)  # fmt: skip

HOME_OWNERSHIP = ("RENT", "MORTGAGE", "OWN", "OTHER")
LOAN_PURPOSES = (
    "debt_consolidation", "credit_card", "home_improvement", "car", "medical",
    "small_business", "other",
)  # fmt: skip
_PURPOSE_SHARE = (0.42, 0.2, 0.1, 0.1, 0.05, 0.04, 0.09)
_PURPOSE_AMOUNT = (1.0, 0.7, 1.2, 1.1, 0.6, 1.6, 0.7)  # loan size relative to the typical one
REGIONS = (
    "London", "South East", "South West", "Midlands", "North West", "North East",
    "Scotland", "Wales",
)  # fmt: skip
_REGION_SHARE = (0.16, 0.17, 0.1, 0.18, 0.13, 0.1, 0.09, 0.07)
NEW_CATEGORY = "crypto_investment"

COEFFICIENTS: dict[str, Any] = {
    "intercept": -3.6,
    "debt_to_income": 3.0,
    "utilisation": 1.1,
    "utilisation_over_80": 2.5,
    "delinquencies": 0.45,
    "log_income": -0.45,
    "loan_to_income": 1.6,
    "term_60": 0.35,
    "log_credit_history": -0.3,
    "employment": -0.04,
    "num_open_accounts": 0.015,
    "age_squared": 0.0006,
    "home": {"RENT": 0.25, "MORTGAGE": 0.0, "OWN": -0.1, "OTHER": 0.3},
    "purpose": {
        "debt_consolidation": 0.1,
        "credit_card": 0.0,
        "home_improvement": -0.1,
        "car": -0.2,
        "medical": 0.25,
        "small_business": 0.6,
        "other": 0.2,
        NEW_CATEGORY: 0.9,
    },
    "region": {"London": -0.05, "North East": 0.1, "Wales": 0.05},
}
# concept_drift at severity s uses COEFFICIENTS + s * delta: riskier overall, debt
# burden matters twice as much, and long terms become the safer choice.
CONCEPT_DRIFT_DELTA: dict[str, float] = {"intercept": 0.4, "debt_to_income": 3.0, "term_60": -0.7}


@dataclass(frozen=True)
class Scenario:
    """A named drift or data-quality fault that ``generate`` can inject."""

    name: str
    description: str
    drifted_features: tuple[str, ...]
    kind: Literal["none", "covariate", "new_category", "concept", "quality"]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("none", "the reference population, no drift", (), "none"),
        Scenario("income_shift", "incomes ~20% lower, so debt-to-income ~25% higher",
                 ("income", "debt_to_income"), "covariate"),
        Scenario("utilisation_shift", "credit utilisation moves up (mean ~0.40 -> ~0.60)",
                 ("utilisation",), "covariate"),
        Scenario("new_category", f"~10% of loans have the unseen purpose '{NEW_CATEGORY}'",
                 ("loan_purpose",), "new_category"),
        Scenario("concept_drift", "same features, new default mechanism (CONCEPT_DRIFT_DELTA)",
                 (), "concept"),
        Scenario("missing_values", "~25% of employment_years missing (target from clean values)",
                 ("employment_years",), "quality"),
        Scenario("unit_change", "income reported in thousands (target from clean values)",
                 ("income",), "quality"),
    )
}  # fmt: skip


def scenario_names() -> list[str]:
    """Names accepted by ``generate(scenario=...)``, in a stable order."""
    return list(SCENARIOS)


def describe_scenarios() -> str:
    """One line per scenario (name, kind, drifted features, what it does), for a CLI."""
    lines = []
    for s in SCENARIOS.values():
        drifted = ", ".join(s.drifted_features) or "-"
        lines.append(f"{s.name:<18} {s.kind:<13} {drifted:<30} {s.description}")
    return "\n".join(lines)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _lookup(values: pd.Series, table: dict[str, float]) -> np.ndarray:
    return values.map(table).fillna(0.0).to_numpy(dtype=float)


def _logit(frame: pd.DataFrame, c: dict[str, Any]) -> np.ndarray:
    income = frame["income"].to_numpy(dtype=float)
    util = frame["utilisation"].to_numpy(dtype=float)
    age = frame["age"].to_numpy(dtype=float)
    return (
        c["intercept"]
        + c["debt_to_income"] * frame["debt_to_income"].to_numpy(dtype=float)
        + c["utilisation"] * util
        + c["utilisation_over_80"] * np.maximum(util - 0.8, 0.0)
        + c["delinquencies"] * np.minimum(frame["delinquencies_2y"].to_numpy(dtype=float), 5)
        + c["log_income"] * np.log(income / 40_000.0)
        + c["loan_to_income"] * frame["loan_amount"].to_numpy(dtype=float) / income
        + c["term_60"] * (frame["term"].to_numpy() == 60)
        + c["log_credit_history"] * np.log1p(frame["credit_history_years"].to_numpy(dtype=float))
        + c["employment"] * np.minimum(frame["employment_years"].to_numpy(dtype=float), 10.0)
        + c["num_open_accounts"] * frame["num_open_accounts"].to_numpy(dtype=float)
        + c["age_squared"] * (age - 45.0) ** 2
        + _lookup(frame["home_ownership"], c["home"])
        + _lookup(frame["loan_purpose"], c["purpose"])
        + _lookup(frame["region"], c["region"])
    )


def _coefficients(scenario: str | None, severity: float) -> dict[str, Any]:
    if scenario != "concept_drift":
        return COEFFICIENTS
    drifted = dict(COEFFICIENTS)
    for key, delta in CONCEPT_DRIFT_DELTA.items():
        drifted[key] = COEFFICIENTS[key] + severity * delta
    return drifted


def true_default_probability(
    frame: pd.DataFrame, *, scenario: str | None = None, severity: float = 1.0
) -> np.ndarray:
    """The probability of default the generator used, for checking calibration.

    Args:
        frame: rows with the columns in ``FEATURES`` (extra columns are ignored).
        scenario: pass ``"concept_drift"`` (and its severity) for the drifted
            mechanism; every other scenario keeps the base mechanism.
        severity: the severity the frame was generated with.

    Returns:
        One probability per row; NaN where a feature is missing.
    """
    _check_scenario(scenario)
    missing = [c for c in FEATURES if c not in frame.columns and c != "interest_rate"]
    if missing:
        raise InvalidInput(f"frame lacks the feature columns {missing}.")
    return _sigmoid(_logit(frame, _coefficients(scenario, severity)))


def _check_scenario(scenario: str | None) -> None:
    if scenario is not None and scenario not in SCENARIOS:
        raise InvalidInput(
            f"The 'scenario' parameter must be one of {scenario_names()} or None. "
            f"Got {scenario!r} instead."
        )


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInput(
            f"The {name!r} parameter must be an integer >= {minimum}. Got {value!r}."
        )


def _choice(rng: np.random.Generator, labels: tuple[str, ...], probs: Any, n: int) -> np.ndarray:
    """Draw labels as an object array; ``probs`` is one vector or one row per draw."""
    cumulative = np.cumsum(np.atleast_2d(probs), axis=1)
    cumulative /= cumulative[:, -1:]
    index = (rng.random((n, 1)) > cumulative).sum(axis=1)
    return np.array(labels, dtype=object)[index]


def _base(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """The scenario-free population; its draws must not depend on the scenario."""
    age = np.clip(np.round(rng.normal(41, 13, n)), 18, 85).astype(np.int64)
    working = (age - 18).astype(float)
    employment = np.round(np.minimum(rng.gamma(1.6, 4.0, n), working), 1)
    history = np.round(working * rng.beta(2.5, 1.5, n) + rng.uniform(0, 1, n), 1)
    log_income = (
        np.log(36_000) + 0.012 * (age - 41) + 0.02 * np.minimum(employment, 15)
        + rng.normal(0, 0.5, n)
    )  # fmt: skip
    income = np.round(np.clip(np.exp(log_income), 8_000, 2_000_000), 0)

    rich, older = np.log(income / 36_000), (age - 41) / 13
    home_logits = np.column_stack(
        [0.6 - 0.8 * older - rich, 0.2 + 0.7 * older + 1.0 * rich, -0.6 + 1.1 * older,
         np.full(n, -2.6)]
    )  # fmt: skip
    home = _choice(rng, HOME_OWNERSHIP, np.exp(home_logits), n)
    region = _choice(rng, REGIONS, _REGION_SHARE, n)
    purpose = _choice(rng, LOAN_PURPOSES, _PURPOSE_SHARE, n)
    size = np.array(_PURPOSE_AMOUNT)[pd.Index(LOAN_PURPOSES).get_indexer(purpose)]
    raw_amount = 0.75 * income**0.9 * size * rng.lognormal(0, 0.45, n)
    loan_amount = np.round(np.clip(raw_amount, 1_000, 40_000) / 50) * 50
    term = np.where(rng.random(n) < _sigmoid((loan_amount - 16_000) / 5_000), 60, 36)

    dti = np.round(rng.beta(2.2, 9.0, n) * np.clip((36_000 / income) ** 0.25, 0.6, 1.6), 4)
    accounts = np.minimum(rng.poisson(3 + 0.3 * history), 40).astype(np.int64)
    delinquencies = rng.negative_binomial(0.4, 0.4 / (0.4 + 0.25), n).astype(np.int64)
    util = rng.beta(1.8, 2.7, n) * 1.05 + 0.08 * np.minimum(delinquencies, 3)
    util = np.round(np.clip(util, 0.0, 1.5), 4)
    return {
        "age": age, "employment_years": employment, "income": income, "home_ownership": home,
        "region": region, "loan_purpose": purpose, "loan_amount": loan_amount,
        "term": term.astype(np.int64), "debt_to_income": dti, "credit_history_years": history,
        "num_open_accounts": accounts, "delinquencies_2y": delinquencies, "utilisation": util,
    }  # fmt: skip


def _price(rng: np.random.Generator, frame: pd.DataFrame) -> np.ndarray:
    """The lender's rate: a noisy, monotone view of the true risk."""
    grade = _logit(frame, COEFFICIENTS) + rng.normal(0, 0.45, len(frame))
    rate = 12.0 + 3.5 * (grade + 2.5) + 1.2 * (frame["term"].to_numpy() == 60)
    return np.round(np.clip(rate, 4.5, 29.99), 2)


def _apply(name: str, frame: pd.DataFrame, rng: np.random.Generator, severity: float) -> None:
    """Transform the scenario's drifted columns in place; all other columns stay untouched."""
    n = len(frame)
    if name == "income_shift":
        factor = max(1.0 - 0.2 * severity, 0.05)
        frame["income"] = np.round(frame["income"] * factor, 0)
        frame["debt_to_income"] = np.round(frame["debt_to_income"] / factor, 4)
    elif name == "utilisation_shift":
        util = frame["utilisation"]
        frame["utilisation"] = np.round(np.clip(util + 0.25 * severity * (1.2 - util), 0, 1.5), 4)
    elif name == "new_category":
        hit = rng.random(n) < min(0.1 * severity, 1.0)
        frame["loan_purpose"] = np.where(hit, NEW_CATEGORY, frame["loan_purpose"].to_numpy())
    elif name == "missing_values":
        hit = rng.random(n) < min(0.25 * severity, 1.0)
        frame["employment_years"] = frame["employment_years"].mask(hit)
    elif name == "unit_change":
        # Severity below 1 models a partial rollout of the upstream change.
        hit = rng.random(n) < min(severity, 1.0)
        frame["income"] = np.where(hit, frame["income"] / 1000.0, frame["income"])


def generate(
    rows: int,
    *,
    seed: int = 0,
    scenario: str | None = None,
    start_date: Any = "2026-01-01",
    days: int = 90,
    start_id: int = 0,
    severity: float = 1.0,
) -> pd.DataFrame:
    """Draw ``rows`` loan applications, optionally with one drift scenario injected.

    Args:
        rows: number of applications (> 0).
        seed: the same seed gives the same frame; the same seed with a scenario
            gives the same frame except the scenario's drifted columns and target.
        scenario: a name from ``SCENARIOS``; ``None`` and ``"none"`` are the same.
        start_date: first day of the application window (anything ``pd.Timestamp`` accepts).
        days: length of the window; application times are spread uniformly over it.
        start_id: number of the first ``application_id``, so successive batches don't collide.
        severity: scales the scenario's shift (0 = no shift, 1 = as described).

    Returns:
        One row per application, in time order: ``application_id``,
        ``application_date``, the ``FEATURES`` and the 0/1 ``default`` target.
    """
    _check_scenario(scenario)
    _check_int("rows", rows, minimum=1)
    _check_int("days", days, minimum=1)
    _check_int("start_id", start_id, minimum=0)
    if (
        not isinstance(severity, int | float | np.number)
        or not np.isfinite(severity)
        or severity < 0
    ):
        raise InvalidInput(f"The 'severity' parameter must be a number >= 0. Got {severity!r}.")
    try:
        start = pd.Timestamp(start_date)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"The 'start_date' parameter is not a date: {start_date!r}.") from exc
    if start is pd.NaT:
        raise InvalidInput(f"The 'start_date' parameter is not a date: {start_date!r}.")

    # Independent streams: the base population never sees the scenario's draws.
    base_rng, outcome_rng, scenario_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    seconds = np.sort(base_rng.integers(0, days * 86_400, rows))
    frame = pd.DataFrame(
        {
            "application_id": np.array(
                [f"APP-{i:09d}" for i in range(start_id, start_id + rows)], dtype=object
            ),
            "application_date": (
                start.tz_localize(None).floor("s") + pd.to_timedelta(seconds, unit="s")
            ).astype("datetime64[ns]"),
            **_base(base_rng, rows),
        }
    )
    frame.insert(frame.columns.get_loc("term") + 1, "interest_rate", _price(base_rng, frame))
    uniform = outcome_rng.random(rows)

    name = scenario or "none"
    kind = SCENARIOS[name].kind
    if kind == "quality":  # the world is unchanged; only the recorded values are wrong
        frame[TARGET] = (uniform < true_default_probability(frame)).astype(np.int64)
        _apply(name, frame, scenario_rng, severity)
    else:
        _apply(name, frame, scenario_rng, severity)
        p = true_default_probability(frame, scenario=scenario, severity=severity)
        frame[TARGET] = (uniform < p).astype(np.int64)
    return frame
