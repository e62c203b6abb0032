"""The onnx flavor: a serialised ONNX model (bytes or ``onnx.ModelProto``) as ``model.onnx``.

Loading needs only ONNX Runtime, never pickle. Class labels come from the
graph's ``modelyard.classes`` metadata (written by ``compile_onnx``) or, for
graphs converted elsewhere, from the classifier node's ``classlabels_*``
attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import InvalidInput
from modelyard.flavors._base import Flavor, class_path, is_onnx_proto
from modelyard.flavors._onnx_runtime import OnnxPredictor

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors.manifest import ModelManifest
    from modelyard.flavors.signature import Signature

ONNX_FILE = "model.onnx"


def onnx_bytes(model: Any) -> bytes:
    if is_onnx_proto(model):
        return model.SerializeToString()
    if isinstance(model, bytes | bytearray | memoryview):
        return bytes(model)
    raise InvalidInput(
        f"the onnx flavor takes ONNX bytes or an onnx.ModelProto, not {class_path(model)}"
    )


class OnnxFlavor(Flavor):
    name = "onnx"
    model_format = "onnx"

    def validate(self, model: Any) -> None:
        onnx_bytes(model)

    def frameworks(self, model: Any) -> set[str]:
        return {"onnxruntime"}

    def describe(self, model: Any) -> tuple[str, list[Any] | None]:
        data = onnx_bytes(model)
        predictor = OnnxPredictor(data)
        if predictor.task == "regression":
            return "regression", None
        return "classification", predictor.classes or _classes_from_graph(data)

    def in_memory(
        self, model: Any, classes: list[Any] | None, signature: Signature | None = None
    ) -> Any:
        return OnnxPredictor(onnx_bytes(model), signature, classes)

    def save(self, model: Any, directory: Path) -> list[str]:
        (directory / ONNX_FILE).write_bytes(onnx_bytes(model))
        return [ONNX_FILE]

    def load(
        self, directory: Path, manifest: ModelManifest, *, trusted_types: Sequence[str] = ()
    ) -> Any:
        data = (directory / ONNX_FILE).read_bytes()
        return OnnxPredictor(data, manifest.signature, manifest.classes)

    def predict(self, native: Any, frame: pd.DataFrame) -> Any:
        return native.predict(frame, validate=False)  # LoadedModel has enforced already

    def predict_proba(self, native: Any, frame: pd.DataFrame) -> Any:
        return native.predict_proba(frame, validate=False)


def _classes_from_graph(data: bytes) -> list[Any] | None:
    try:
        import onnx
    except ImportError:  # pragma: no cover - onnx ships with the onnx extra
        return None
    graph = onnx.load_from_string(data).graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in ("classlabels_ints", "classlabels_int64s") and attribute.ints:
                return list(attribute.ints)
            if attribute.name == "classlabels_strings" and attribute.strings:
                return [s.decode("utf-8") for s in attribute.strings]
    return None


FLAVOR = OnnxFlavor()
