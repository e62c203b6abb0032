"""The XGBoost flavor: XGBClassifier / XGBRegressor as XGBoost's own JSON.

``model.json`` is XGBoost's portable format, readable by other XGBoost
versions and languages; it also records the scikit-learn wrapper's type and
parameters, so loading builds the wrapper (one of :data:`ESTIMATORS`, never a
class named by the file) and calls its ``load_model`` — no pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import IntegrityError, InvalidInput
from modelyard.flavors._base import Flavor, class_path

if TYPE_CHECKING:
    from modelyard.flavors.manifest import ModelManifest

NATIVE_FILE = "model.json"
ESTIMATORS = ("XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor")


class XGBoostFlavor(Flavor):
    name = "xgboost"
    model_format = "xgboost-json"

    def validate(self, model: Any) -> None:
        super().validate(model)
        if not callable(getattr(model, "get_booster", None)):
            raise InvalidInput(
                f"cannot save {class_path(model)}: the xgboost flavor takes the scikit-learn "
                "API (XGBClassifier, XGBRegressor); wrap a raw Booster in one of them"
            )

    def save(self, model: Any, directory: Path) -> list[str]:
        if type(model).__name__ not in ESTIMATORS:
            raise InvalidInput(
                f"cannot store {class_path(model)} as XGBoost JSON: the xgboost flavor takes "
                f"one of {ESTIMATORS}; register it as trusted code instead"
            )
        model.save_model(str(directory / NATIVE_FILE))
        return [NATIVE_FILE]

    def load(
        self, directory: Path, manifest: ModelManifest, *, trusted_types: Sequence[str] = ()
    ) -> Any:
        import xgboost

        kind = manifest.model_class.rsplit(".", 1)[-1]
        if kind not in ESTIMATORS:  # never import a class by a name the file chose
            raise IntegrityError(
                f"xgboost model class {manifest.model_class!r} is not one of {ESTIMATORS}"
            )
        model = getattr(xgboost, kind)()
        model.load_model(str(directory / NATIVE_FILE))
        return model


FLAVOR = XGBoostFlavor()
