"""The XGBoost flavor: XGBClassifier / XGBRegressor, pickled, plus XGBoost's own JSON.

``model.json`` is XGBoost's portable format, readable by other XGBoost
versions and languages; the pickle keeps the scikit-learn wrapper (classes,
parameters) and is what ``load_model`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelyard.errors import InvalidInput
from modelyard.flavors._base import PICKLE_FILE, Flavor, class_path, write_pickle

NATIVE_FILE = "model.json"


class XGBoostFlavor(Flavor):
    name = "xgboost"

    def validate(self, model: Any) -> None:
        super().validate(model)
        if not callable(getattr(model, "get_booster", None)):
            raise InvalidInput(
                f"cannot save {class_path(model)}: the xgboost flavor takes the scikit-learn "
                "API (XGBClassifier, XGBRegressor); wrap a raw Booster in one of them"
            )

    def save(self, model: Any, directory: Path) -> list[str]:
        write_pickle(model, directory / PICKLE_FILE)
        model.save_model(str(directory / NATIVE_FILE))
        return [PICKLE_FILE, NATIVE_FILE]


FLAVOR = XGBoostFlavor()
