"""The scikit-learn flavor: any scikit-learn estimator or pipeline, stored with ``skops``.

``model.skops`` is data: skops rebuilds the objects from a schema and refuses
any type it was not told to trust, so loading runs no code of the file's
choosing. The types the file needs beyond skops' own set are recorded in the
manifest at saving (``skops_types``) and checked against the platform's
allow-list (:mod:`modelyard.flavors.trusted_types`) on every load.

A pipeline may hold estimators of other frameworks (LightGBM, XGBoost, a
company's own transformers); their packages are recorded as requirements too.
A pipeline that names a company's own class or function needs that type on
the allow-list (the ``trusted_types`` setting), or registration as trusted code.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelyard.errors import BackendUnavailable, IntegrityError, InvalidInput
from modelyard.flavors._base import Flavor, class_path, module_root
from modelyard.flavors.trusted_types import check_trusted_types

if TYPE_CHECKING:
    from modelyard.flavors.manifest import ModelManifest

SKOPS_FILE = "model.skops"


class SklearnFlavor(Flavor):
    name = "sklearn"
    model_format = "skops"

    def frameworks(self, model: Any) -> set[str]:
        roots = {"sklearn", module_root(model)}
        get_params = getattr(model, "get_params", None)
        if callable(get_params):
            # deep=True lists every nested step: pipeline steps, column-transformer parts.
            for value in get_params(deep=True).values():
                if callable(getattr(value, "fit", None)):
                    roots.add(module_root(value))
        return roots

    def save(self, model: Any, directory: Path) -> list[str]:
        import skops.io as sio

        try:
            sio.dump(model, directory / SKOPS_FILE)
        except Exception as exc:  # skops refuses objects it cannot describe as data
            raise InvalidInput(
                f"cannot store {class_path(model)} with skops: {type(exc).__name__}: {exc}. "
                "Register it as trusted code (trusted_code=True) if you must."
            ) from exc
        return [SKOPS_FILE]

    def types_needed(self, directory: Path) -> list[str]:
        import skops.io as sio

        return sorted(sio.get_untrusted_types(file=directory / SKOPS_FILE))

    def load(
        self, directory: Path, manifest: ModelManifest, *, trusted_types: Sequence[str] = ()
    ) -> Any:
        import skops.io as sio

        path = directory / SKOPS_FILE
        try:
            # The file's own list, not the manifest's: what is loaded is what is checked.
            needed = sio.get_untrusted_types(file=path)
        except Exception as exc:
            raise IntegrityError(f"{path} is not a readable skops file: {exc}") from exc
        check_trusted_types(
            needed, trusted_types, what=f"the {manifest.model_class} model at {str(directory)!r}"
        )
        try:
            return sio.load(path, trusted=needed)
        except (ImportError, AttributeError) as exc:
            raise BackendUnavailable(
                f"cannot load the {manifest.model_class} model: {exc}. It was saved with "
                f"{', '.join(manifest.requirements) or 'no recorded requirements'}."
            ) from exc


FLAVOR = SklearnFlavor()
