"""Model flavors: save, load and call models of any framework the same way.

``save_model`` writes a model's files and a ``modelyard.json`` manifest
(flavor, task, classes, signature, framework and Python versions, pinned
requirements) into a local directory; ``load_model`` returns a
:class:`LoadedModel` whose ``predict(frame)`` / ``predict_proba(frame)``
enforce the signature and return numpy arrays for every flavor:

* ``sklearn`` — any scikit-learn estimator or pipeline (whatever its last step);
* ``lightgbm`` — LGBMClassifier/LGBMRegressor or a raw Booster (+ ``model.txt``);
* ``xgboost`` — XGBClassifier/XGBRegressor (+ ``model.json``);
* ``onnx`` — ONNX bytes or ``onnx.ModelProto`` (``model.onnx``, no pickle);
* ``python`` — any object with ``predict(frame)`` from an importable module.

:mod:`modelyard.flavors.onnx` compiles sklearn, LightGBM and XGBoost models to
ONNX and checks parity before the compiled form may be used.

This package works on local directories only; the registry moves them in and
out of the artifact store. Frameworks are imported only when a model of
theirs is saved or loaded.
"""

from modelyard.flavors._io import load_model, save_model
from modelyard.flavors.loaded import LoadedModel
from modelyard.flavors.manifest import ModelManifest, read_manifest
from modelyard.flavors.onnx import (
    OnnxPredictor,
    ParityResult,
    check_parity,
    compile_onnx,
    load_compiled,
    save_compiled,
)
from modelyard.flavors.signature import ColumnSpec, Signature

__all__ = [
    "ColumnSpec",
    "LoadedModel",
    "ModelManifest",
    "OnnxPredictor",
    "ParityResult",
    "Signature",
    "check_parity",
    "compile_onnx",
    "load_compiled",
    "load_model",
    "read_manifest",
    "save_compiled",
    "save_model",
]
