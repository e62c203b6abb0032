"""The parts of validation and compilation that call the model, as plain data in and out.

Both the in-process path (a user's own session) and the platform server's
worker process (:mod:`modelyard.registry.isolation`) run these, so the two
give the same reports and verdicts. Inputs are a loaded model and frames;
outputs are HTML, JSON-able metrics, ONNX bytes and a parity dict — never
objects that would need unpickling on the way back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from modelyard.errors import InvalidInput

PARITY_ROWS = 2000


@dataclass(frozen=True)
class ValidationWork:
    html: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class CompileWork:
    onnx_bytes: bytes
    parity: dict[str, Any]


def validation_work(
    loaded: Any,
    data: pd.DataFrame,
    *,
    name: str,
    version: int,
    target: str,
    features: Sequence[str],
    reference: pd.DataFrame | None,
    segment_by: Sequence[str],
    fairness_attribute: str | None,
    threshold: float,
    reference_name: str | None = None,
) -> ValidationWork:
    """Score ``data`` with ``loaded`` (out-of-domain values too, see ``registry.scoring``)
    and build the validation report."""
    from modelyard.registry import scoring
    from modelyard.reports.validation import validate_model

    result = validate_model(
        lambda frame: scoring.predict_proba(loaded, frame)[:, -1],
        data,
        target=target,
        features=list(features),
        model_name=name,
        version=version,
        reference_data=reference,
        reference_name=reference_name,
        segment_by=list(segment_by),
        fairness_attribute=fairness_attribute,
        threshold=threshold,
        model_for_importance=loaded.native,
    )
    return ValidationWork(result.html, {k: float(v) for k, v in result.metrics.items()})


def parity_sample(sample: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    missing = [f for f in features if f not in sample.columns]
    if missing:
        raise InvalidInput(f"the parity sample lacks column(s) {missing}")
    return sample[list(features)].head(PARITY_ROWS)


def compile_work(loaded: Any, sample: pd.DataFrame, *, tolerance: float) -> CompileWork:
    """Convert ``loaded`` to ONNX and check parity on ``sample`` (already cut to features)."""
    from modelyard.flavors import check_parity, compile_onnx

    onnx_bytes = compile_onnx(loaded.native, sample)
    parity = check_parity(loaded, onnx_bytes, sample, tolerance=tolerance)
    return CompileWork(bytes(onnx_bytes), parity.to_dict())
