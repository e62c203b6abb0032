"""The scikit-learn flavor: any scikit-learn estimator or pipeline, pickled.

A pipeline may hold estimators of other frameworks (LightGBM, XGBoost, a
company's own transformers); their packages are recorded as requirements too,
since unpickling the pipeline imports them.
"""

from __future__ import annotations

from typing import Any

from modelyard.flavors._base import Flavor, module_root


class SklearnFlavor(Flavor):
    name = "sklearn"

    def frameworks(self, model: Any) -> set[str]:
        roots = {"sklearn", module_root(model)}
        get_params = getattr(model, "get_params", None)
        if callable(get_params):
            # deep=True lists every nested step: pipeline steps, column-transformer parts.
            for value in get_params(deep=True).values():
                if callable(getattr(value, "fit", None)):
                    roots.add(module_root(value))
        return roots


FLAVOR = SklearnFlavor()
