"""ONNX compilation with a parity check: the fast path serving may use, and only if it is exact.

The workflow the registry runs::

    onnx_bytes = compile_onnx(loaded.native, example=train_frame.head(200))
    parity = check_parity(loaded, onnx_bytes, sample=holdout.sample(2000, random_state=0))
    save_compiled(model_dir / "compiled", onnx_bytes, parity,
                  signature=loaded.signature, classes=loaded.classes)
    ...
    fast = load_compiled(model_dir / "compiled")   # IntegrityError unless parity passed

The parity check compares the compiled graph with the native model on a
held-out sample: the largest absolute difference of the probabilities must
be within the tolerance (1e-5) and every label equal. Use held-out rows, not
training rows: a StandardScaler in front of a tree model matched to 2e-7 on
its training rows and differed by up to 0.06 on new ones (the scaler runs in
float32, so scaled values cross LightGBM's float64 thresholds).
A failed check is recorded too, so the registry can show why a model has no
fast path; :func:`load_compiled` refuses it.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.errors import IntegrityError, InvalidInput
from modelyard.flavors._files import staged_directory
from modelyard.flavors._onnx_convert import DEFAULT_OPSET, compile_onnx
from modelyard.flavors._onnx_runtime import OnnxPredictor
from modelyard.flavors.signature import Signature

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors.loaded import LoadedModel

__all__ = [
    "COMPILED_FORMAT",
    "DEFAULT_OPSET",
    "DEFAULT_TOLERANCE",
    "OnnxPredictor",
    "ParityResult",
    "check_parity",
    "compile_onnx",
    "load_compiled",
    "save_compiled",
]

DEFAULT_TOLERANCE = 1e-5
COMPILED_FORMAT = "modelyard.compiled/v1"
ONNX_FILE = "model.onnx"
PARITY_FILE = "parity.json"


@dataclass
class ParityResult:
    """How closely a compiled graph reproduces the native model on a sample.

    Attributes:
        max_abs_diff: Largest absolute difference of the probabilities
            (classifiers) or of ``|a - b| / max(1, |a|)`` on predictions
            (regressors, whose values are not on a 0–1 scale); inf when the
            shapes differ.
        labels_equal: Every predicted label equal (always True for regressors).
        rows: Rows compared.
        passed: ``labels_equal and max_abs_diff <= tolerance``.
        tolerance: The bound used.
        measure: ``"probabilities"`` or ``"relative predictions"``.
    """

    max_abs_diff: float
    labels_equal: bool
    rows: int
    passed: bool
    tolerance: float
    measure: str = "probabilities"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not math.isfinite(self.max_abs_diff):
            data["max_abs_diff"] = None  # JSON has no infinity
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ParityResult:
        diff = data.get("max_abs_diff")
        return cls(
            max_abs_diff=math.inf if diff is None else float(diff),
            labels_equal=bool(data["labels_equal"]),
            rows=int(data["rows"]),
            passed=bool(data["passed"]),
            tolerance=float(data["tolerance"]),
            measure=str(data.get("measure", "probabilities")),
        )


def check_parity(
    loaded: LoadedModel,
    onnx_bytes: bytes,
    sample: pd.DataFrame,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ParityResult:
    """Compare the compiled graph with the native model on ``sample`` (held-out rows).

    Raises:
        InvalidInput: The sample is empty or breaks the signature, or the graph
            cannot run on it.
    """
    if len(sample) == 0:
        raise InvalidInput("check_parity needs a non-empty sample")
    frame = loaded.enforce(sample)
    compiled = OnnxPredictor(onnx_bytes, loaded.signature, loaded.classes)
    if loaded.task == "classification":
        expected = loaded.predict_proba(frame, validate=False)
        got = compiled.predict_proba(frame, validate=False)
        diff = _max_diff(expected, got, relative=False)
        native_labels = loaded.predict(frame, validate=False)
        onnx_labels = compiled.predict(frame, validate=False)
        labels_equal = native_labels.shape == onnx_labels.shape and bool(
            np.array_equal(native_labels, onnx_labels)
        )
        measure = "probabilities"
    else:
        diff = _max_diff(
            loaded.predict(frame, validate=False), compiled.predict(frame, validate=False), True
        )
        labels_equal = True
        measure = "relative predictions"
    return ParityResult(
        max_abs_diff=diff,
        labels_equal=labels_equal,
        rows=len(frame),
        passed=labels_equal and diff <= tolerance,
        tolerance=tolerance,
        measure=measure,
    )


def _max_diff(expected: np.ndarray, got: np.ndarray, relative: bool) -> float:
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if expected.shape != got.shape:
        return math.inf
    diff = np.abs(expected - got)
    if relative:
        diff = diff / np.maximum(1.0, np.abs(expected))
    worst = float(np.max(diff)) if diff.size else 0.0
    return worst if math.isfinite(worst) else math.inf


def save_compiled(
    path: str | Path,
    onnx_bytes: bytes,
    parity: ParityResult,
    *,
    signature: Signature | None = None,
    classes: list[Any] | None = None,
) -> Path:
    """Write ``model.onnx`` and ``parity.json`` into a new or empty directory.

    The parity result is recorded whether or not it passed; ``usable`` is true
    only when it passed. ``parity.json`` also holds the graph's SHA-256 (so a
    swapped graph is refused), and the signature and classes the predictor
    needs, making the directory self-contained for serving.

    Raises:
        Conflict: ``path`` exists and is not an empty directory.
    """
    data = bytes(onnx_bytes)
    record = {
        "format": COMPILED_FORMAT,
        "usable": bool(parity.passed),
        "parity": parity.to_dict(),
        "onnx_sha256": hashlib.sha256(data).hexdigest(),
        "signature": signature.to_dict() if signature is not None else None,
        "classes": classes,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with staged_directory(path, "a compiled model") as staging:
        (staging / ONNX_FILE).write_bytes(data)
        text = json.dumps(record, indent=2, sort_keys=True, allow_nan=False)
        (staging / PARITY_FILE).write_text(text + "\n", encoding="utf-8")
    return Path(path)


def load_compiled(path: str | Path, *, threads: int = 1) -> OnnxPredictor:
    """Load a compiled form for serving — only if its parity check passed.

    Raises:
        IntegrityError: No parity record, a failed parity check, or a graph
            whose hash differs from the one checked.
    """
    directory = Path(path)
    try:
        record = json.loads((directory / PARITY_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IntegrityError(
            f"compiled model at {str(directory)!r} has no {PARITY_FILE}: "
            "its parity was never checked, so it must not be used"
        ) from exc
    except json.JSONDecodeError as exc:
        raise IntegrityError(f"{directory / PARITY_FILE} is not valid JSON: {exc}") from exc
    parity = ParityResult.from_dict(record.get("parity") or {})
    if not (record.get("usable") and parity.passed):
        diff = "n/a" if math.isinf(parity.max_abs_diff) else f"{parity.max_abs_diff:.3g}"
        raise IntegrityError(
            f"compiled model at {str(directory)!r} failed its parity check "
            f"(max difference {diff} > tolerance {parity.tolerance:g} or labels differ: "
            f"labels_equal={parity.labels_equal}, {parity.rows} rows) and is not usable; "
            "serve the native model instead"
        )
    data = (directory / ONNX_FILE).read_bytes()
    if hashlib.sha256(data).hexdigest() != record.get("onnx_sha256"):
        raise IntegrityError(
            f"{directory / ONNX_FILE} is not the graph whose parity was checked (hash differs)"
        )
    signature = record.get("signature")
    return OnnxPredictor(
        data,
        Signature.from_dict(signature) if signature is not None else None,
        record.get("classes"),
        threads=threads,
    )
