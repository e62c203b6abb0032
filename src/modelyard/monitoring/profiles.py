"""A model version's monitoring reference: its data profile, its scores and its baseline.

``build_version_reference`` profiles the data a version learned from — its training
dataset (``registry.training_data``: a dataset logged with a training role, else the
training run's inputs, as ``start_run(..., inputs=[train])`` records them), else the
input example stored with it (with a warning naming it and the command to rebuild), or
data given explicitly — with ``build_reference``, and scores that data with the
version itself (``predict_proba``; values outside the training domain are scored, see
``registry.scoring``), keeping 1,001 quantiles of the scores for score drift and score
bands. When the data cannot be scored, the profile is built anyway and the reason
kept. When the version also has a held-out dataset ("holdout", "validation", "test",
...) with the target column, that data calibrates the estimated performance (Platt
scaling, ``performance.Calibration``, from ``MIN_CALIBRATION_ROWS`` rows) and gives
the baseline metrics that degradation is measured against; training data would
flatter both (in-sample scores are overconfident), so without a holdout the
calibration is the identity, and says why.

``store_reference`` attaches the result to the version as ``reference_profile.json``
(kind "reference", one JSON blob in the artifact store, audited like every attachment);
``ensure_reference`` returns the stored one, building it on first use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pandas as pd

from modelyard._util.clock import now_ms
from modelyard.errors import InvalidInput
from modelyard.monitoring import performance
from modelyard.monitoring._io import read_table
from modelyard.monitoring.performance import Calibration
from modelyard.monitoring.reference import ReferenceProfile, build_reference
from modelyard.registry import scoring
from modelyard.registry.training_data import holdout_datasets, training_data

if TYPE_CHECKING:
    from modelyard.registry.entities import ModelVersionInfo
    from modelyard.yard import Yard

__all__ = [
    "PROFILE_FILE",
    "VersionReference",
    "build_version_reference",
    "ensure_reference",
    "load_reference",
    "store_reference",
]

PROFILE_FILE = "reference_profile.json"
PROFILE_KIND = "reference"
FORMAT = "modelyard.monitoring.version_reference/1"
SCORE_QUANTILES = 1001
MAX_ROWS = 1_000_000
DEFAULT_THRESHOLD = 0.5
SCORE_BATCH = 100_000


@dataclass(frozen=True)
class VersionReference:
    """What monitoring compares a version's traffic with (see the module docstring).

    ``score_quantiles`` is None for a model without a positive-class probability
    (a regressor or a multi-class classifier); ``baseline`` holds the metrics
    degradation is measured against and where they come from.
    """

    model: str
    version: int
    features: list[str]
    target: str | None
    profile: ReferenceProfile
    score_quantiles: np.ndarray | None
    calibration: Calibration
    baseline: dict[str, Any]
    source: dict[str, Any]
    threshold: float = DEFAULT_THRESHOLD
    created_at: int = 0
    digest: str | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.model}/{self.version}"

    @property
    def warning(self) -> str | None:
        """Why this reference may not stand for the training data (None when it does)."""
        return self.source.get("warning")

    def describe_source(self) -> str:
        """Where the profile came from, in plain words."""
        found = self.source.get("description")
        if found:
            return str(found)
        kind, ref = self.source.get("kind"), self.source.get("ref")
        return f"{kind} {ref or ''}".strip()

    def score_bands(self, bands: int = 10) -> list[float]:
        """Inner edges of the reference's score deciles."""
        q = None if self.score_quantiles is None else self.score_quantiles.tolist()
        return performance.score_bands(q, bands)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model,
            "version": self.version,
            "features": list(self.features),
            "target": self.target,
            "threshold": self.threshold,
            "created_at": self.created_at,
            "source": dict(self.source),
            "calibration": self.calibration.to_dict(),
            "baseline": dict(self.baseline),
            "scores": None
            if self.score_quantiles is None
            else {"quantiles": self.score_quantiles.tolist()},
            "profile": self.profile.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], digest: str | None = None) -> VersionReference:
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise InvalidInput(
                f"not a version reference of format {FORMAT!r}; rebuild it with "
                "'modelyard monitor reference REF --rebuild'"
            )
        scores = d.get("scores")
        return cls(
            model=d["model"],
            version=int(d["version"]),
            features=list(d["features"]),
            target=d.get("target"),
            profile=ReferenceProfile.from_dict(d["profile"]),
            score_quantiles=None if not scores else np.asarray(scores["quantiles"], float),
            calibration=Calibration.from_dict(d.get("calibration")),
            baseline=dict(d.get("baseline") or {}),
            source=dict(d.get("source") or {}),
            threshold=float(d.get("threshold", DEFAULT_THRESHOLD)),
            created_at=int(d.get("created_at", 0)),
            digest=digest,
        )


def _binary(loaded: Any) -> bool:
    return loaded.task == "classification" and len(loaded.classes or ()) == 2


def positive_scores(loaded: Any, frame: pd.DataFrame) -> np.ndarray:
    """P(positive class) of every row, scored ``SCORE_BATCH`` rows at a time; values
    outside the training domain are scored (``registry.scoring``)."""
    parts = [
        scoring.predict_proba(loaded, frame.iloc[i : i + SCORE_BATCH])[:, 1]
        for i in range(0, len(frame), SCORE_BATCH)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def _thin(frame: pd.DataFrame, limit: int) -> pd.DataFrame:
    """Every k-th row when the frame is longer than ``limit`` (deterministic)."""
    if len(frame) <= limit:
        return frame
    step = -(-len(frame) // limit)
    return frame.iloc[::step].reset_index(drop=True)


def _threshold(info: ModelVersionInfo) -> float:
    for key in ("decision_threshold", "threshold"):
        raw = info.tags.get(key)
        if raw is not None:
            try:
                value = float(raw)
            except ValueError:
                continue
            if 0 < value < 1:
                return value
    return DEFAULT_THRESHOLD


def _load(yard: Yard, data: Any, what: str) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    return read_table(data, what, yard).to_pandas()


def build_version_reference(
    yard: Yard,
    ref: str,
    *,
    data: Any = None,
    holdout: Any = None,
    threshold: float | None = None,
) -> VersionReference:
    """Profile and score a version's reference data (see the module docstring).

    Args:
        ref: The version, e.g. ``credit-risk@champion``.
        data: Reference data (a DataFrame, a dataset reference or a file) instead of
            the version's training dataset.
        holdout: Labelled held-out data instead of the version's holdout dataset.
        threshold: The decision threshold (default: the version's tag
            ``decision_threshold``, else 0.5).

    Raises:
        InvalidInput: The version has no signature, or no reference data is found.
    """
    info = yard.models.get(ref)
    loaded = yard.models.load(info.ref)
    if loaded.signature is None:
        raise InvalidInput(f"{info.ref} has no input signature; register it with example=...")
    features = loaded.signature.input_names
    target = info.tags.get("target")
    frame, source = _reference_frame(yard, info, data)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise InvalidInput(f"the reference data lacks the model's input column(s) {missing}")
    source["rows"] = len(frame)
    frame = _thin(frame, MAX_ROWS)
    codes = [c for c in encoded_as_categories(loaded.native) if c in features]
    profile = build_reference(
        frame[features],
        metadata={"model": info.name, "version": info.version, **source},
        categorical=codes,
    )
    quantiles = None
    calibration = Calibration()
    baseline: dict[str, Any] = {}
    t = threshold if threshold is not None else _threshold(info)
    if _binary(loaded):
        try:
            scores = positive_scores(loaded, frame[features])
        except InvalidInput as exc:  # the profile stands without scores
            scores = None
            source["scores_error"] = f"the reference data could not be scored: {exc.message}"
        if scores is not None:
            quantiles = np.quantile(scores, np.linspace(0, 1, SCORE_QUANTILES))
        calibration, baseline = _calibration(
            yard, info, loaded, features, holdout, target, t, frame, scores
        )
    return VersionReference(
        model=info.name,
        version=info.version,
        features=list(features),
        target=target,
        profile=profile,
        score_quantiles=quantiles,
        calibration=calibration,
        baseline=baseline,
        source=source,
        threshold=t,
        created_at=now_ms(),
    )


_ENCODERS = ("OneHotEncoder", "OrdinalEncoder", "TargetEncoder")


def encoded_as_categories(model: Any) -> list[str]:
    """Columns a fitted scikit-learn model encodes as categories (one-hot, ordinal or
    target encoders, alone, in a Pipeline or a ColumnTransformer): integer codes among
    them are monitored as categories, so that new codes show as unseen values."""
    found: dict[str, None] = {}
    seen: set[int] = set()

    def visit(obj: Any) -> None:
        if obj is None or id(obj) in seen or isinstance(obj, str | int | float):
            return
        seen.add(id(obj))
        if type(obj).__name__ in _ENCODERS:
            names = getattr(obj, "feature_names_in_", None)
            found.update(dict.fromkeys(str(n) for n in (names if names is not None else ())))
        for _, step in getattr(obj, "steps", None) or ():
            visit(step)
        for item in getattr(obj, "transformers_", None) or ():
            if isinstance(item, tuple) and len(item) >= 2:
                visit(item[1])

    visit(model)
    return list(found)


def _reference_frame(
    yard: Yard, info: ModelVersionInfo, data: Any
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The reference data and where it came from: ``data``, the training dataset, else
    the input example (with a warning naming it and how to rebuild)."""
    if data is not None:
        name = data if isinstance(data, str) else None
        described = f"data given ({name})" if name else "data given"
        return _load(yard, data, "reference data"), {
            "kind": "data",
            "ref": name,
            "description": described,
        }
    found = training_data(info)
    if found.first is not None:
        return yard.datasets.load(found.first), {
            "kind": "dataset",
            "ref": found.first,
            "role": found.role,
            "description": found.describe(),
        }
    frame = yard.models.input_example(info)
    if frame is None:
        raise InvalidInput(
            f"{info.ref} has no training dataset and no input example to build a "
            "monitoring reference from; pass data=... "
            f"('modelyard monitor reference {info.ref} --data DATASET')"
        )
    return frame, {
        "kind": "input_example",
        "ref": None,
        "description": f"the input example stored with the version ({len(frame):,} rows)",
        "warning": (
            f"{info.ref} records no training dataset, so its monitoring reference is the "
            f"{len(frame):,}-row input example stored with the version, which may not "
            "stand for the training data. Log the training data as an input of the "
            "training run (start_run(..., inputs=[train])), or rebuild the reference: "
            f"'modelyard monitor reference {info.ref} --rebuild --data DATASET'"
        ),
    }


def _calibration(
    yard: Yard,
    info: ModelVersionInfo,
    loaded: Any,
    features: list[str],
    holdout: Any,
    target: str | None,
    threshold: float,
    frame: pd.DataFrame,
    scores: np.ndarray | None,
) -> tuple[Calibration, dict[str, Any]]:
    """Platt calibration and baseline metrics from the labelled holdout, else the
    identity (with the reason) and the in-sample baseline when the data has labels."""
    labelled, where, why = _holdout(yard, info, holdout, target)
    if labelled is not None and target:
        y = performance.to_binary(labelled[target].tolist())
        keep = y >= 0
        try:
            held = positive_scores(loaded, labelled.loc[keep, features])
        except InvalidInput as exc:
            return Calibration(reason=f"the holdout {where} could not be scored: {exc.message}"), {}
        calibration = Calibration.fit(y[keep], held, source=where)
        figures = performance.realised(y[keep], held, threshold=threshold, n_boot=0)
        baseline = {"source": f"holdout {where}", "rows": int(keep.sum()), **figures}
        return calibration, {k: baseline[k] for k in ("source", "rows", "metrics")}
    calibration = Calibration(reason=why)
    if scores is not None and target and target in frame.columns:
        y = performance.to_binary(frame[target].tolist())
        keep = y >= 0
        figures = performance.realised(y[keep], scores[keep], threshold=threshold, n_boot=0)
        return calibration, {
            "source": "reference data (in-sample)",
            "rows": int(keep.sum()),
            "metrics": figures["metrics"],
        }
    return calibration, {}


def _holdout(
    yard: Yard, info: ModelVersionInfo, holdout: Any, target: str | None
) -> tuple[pd.DataFrame | None, str | None, str | None]:
    """(labelled holdout, where it came from, None) or (None, None, why there is none)."""
    if holdout is not None:
        frame = _load(yard, holdout, "holdout data")
        where = holdout if isinstance(holdout, str) else "data"
    else:
        refs = holdout_datasets(info)
        if not refs:
            return None, None, None  # Calibration explains "no labelled holdout"
        frame, where = yard.datasets.load(refs[0]), refs[0]
    if not target:
        return (
            None,
            None,
            (
                f"{info.ref} records no target column, so the holdout {where} cannot "
                "calibrate (register with target=...)"
            ),
        )
    if target not in frame.columns:
        return None, None, f"the holdout {where} has no target column {target!r}"
    return _thin(frame, MAX_ROWS), where, None


def store_reference(yard: Yard, reference: VersionReference) -> VersionReference:
    """Attach ``reference`` to its version; returns it with the blob's digest."""
    body = orjson.dumps(reference.to_dict(), option=orjson.OPT_SERIALIZE_NUMPY)
    digest = yard.artifacts.put_bytes(body)
    yard.models.attach(
        reference.ref,
        PROFILE_FILE,
        digest,
        kind=PROFILE_KIND,
        details={
            "format": FORMAT,
            "source": reference.source,
            "rows": reference.profile.rows,
            "features": len(reference.features),
            "calibration": reference.calibration.method,
            "baseline": reference.baseline.get("source"),
        },
    )
    return VersionReference.from_dict(reference.to_dict(), digest)


def load_reference(yard: Yard, ref: str | ModelVersionInfo) -> VersionReference | None:
    """The stored reference of a version, or None when it has none yet."""
    info = ref if not isinstance(ref, str) else yard.models.get(ref)
    record = info.artifact(PROFILE_FILE)
    if record is None:
        return None
    return VersionReference.from_dict(
        orjson.loads(yard.artifacts.get_bytes(record.digest)), record.digest
    )


def ensure_reference(
    yard: Yard,
    ref: str,
    *,
    rebuild: bool = False,
    data: Any = None,
    holdout: Any = None,
    threshold: float | None = None,
) -> VersionReference:
    """The version's stored reference, built and stored first when missing (or ``rebuild``)."""
    if not rebuild and data is None and holdout is None:
        found = load_reference(yard, ref)
        if found is not None:
            return found
    built = build_version_reference(yard, ref, data=data, holdout=holdout, threshold=threshold)
    return store_reference(yard, built)


def feature_columns(reference: VersionReference, names: Sequence[str]) -> list[str]:
    """The reference's features present among ``names``, in reference order."""
    present = set(names)
    return [f for f in reference.features if f in present]
