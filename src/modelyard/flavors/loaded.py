"""LoadedModel: one object with the same calls whatever the flavor.

Serving, batch scoring and validation all call ``predict(frame)`` and
``predict_proba(frame)`` on this and never on the framework's object, so the
signature is enforced on every path and every flavor returns plain numpy
arrays of the same shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from modelyard.errors import InvalidInput
from modelyard.flavors.contract import InputContract

if TYPE_CHECKING:
    import pandas as pd

    from modelyard.flavors._base import Flavor
    from modelyard.flavors._enforce import InputWarnings
    from modelyard.flavors.manifest import ModelManifest


class LoadedModel:
    """A saved model, loaded: its manifest, the framework's object, and uniform calls.

    Attributes:
        manifest: The model's :class:`~modelyard.flavors.manifest.ModelManifest`.
        signature: Input/output signature, or None (then inputs are not checked).
        task: ``"classification"`` or ``"regression"``.
        classes: Class labels in ``predict_proba`` column order, or None.
        native: The underlying object (a Pipeline, LGBMClassifier, Booster,
            OnnxPredictor, or the user's class).
        contract: The input checks (signature, training domain, probe, policy),
            or None without a signature.
    """

    def __init__(self, manifest: ModelManifest, native: Any, flavor: Flavor) -> None:
        self.manifest = manifest
        self.native = native
        self._flavor = flavor
        self.signature = manifest.signature
        self.task = manifest.task
        self.classes = manifest.classes
        self.flavor = manifest.flavor
        self.contract = InputContract.from_manifest(manifest)

    def __repr__(self) -> str:
        return f"<LoadedModel {self.manifest.model_class} flavor={self.flavor} task={self.task}>"

    def enforce(self, frame: pd.DataFrame, *, allow_extra: bool = False) -> pd.DataFrame:
        """Check and coerce ``frame`` against the signature (see ``Signature.enforce``).

        Without a signature the frame is returned unchanged. Out-of-domain values
        the version scores pass (see :meth:`check` for the warnings).
        """
        if self.contract is None:
            return frame
        return self.contract.enforce(frame, allow_extra=allow_extra)

    def check(
        self, frame: pd.DataFrame, *, allow_extra: bool = False
    ) -> tuple[pd.DataFrame, InputWarnings | list[dict[str, Any]]]:
        """(checked frame, warnings about out-of-domain values that will be scored)."""
        if self.contract is None:
            return frame, []
        return self.contract.check(frame, allow_extra=allow_extra)

    def predict(self, frame: pd.DataFrame, *, validate: bool = True) -> np.ndarray:
        """Labels for a classifier, values for a regressor: a 1-D array, one per row.

        Args:
            frame: Input rows.
            validate: Enforce the signature first. Pass False only for a frame
                that has just been through :meth:`enforce`.

        Raises:
            InvalidInput: The frame breaks the signature (every problem listed).
        """
        if validate:
            frame = self.enforce(frame)
        result = np.asarray(self._flavor.predict(self.native, frame))
        if result.ndim == 2 and result.shape[1] == 1:
            result = result.ravel()
        return result

    def predict_proba(self, frame: pd.DataFrame, *, validate: bool = True) -> np.ndarray:
        """Class probabilities, float64 of shape (rows, classes), columns in ``classes`` order.

        Raises:
            InvalidInput: The model is a regressor, or the frame breaks the signature.
        """
        if self.task != "classification":
            raise InvalidInput(
                f"predict_proba needs a classifier; {self.manifest.model_class} was saved "
                "as a regression model — call predict instead"
            )
        if validate:
            frame = self.enforce(frame)
        return np.asarray(self._flavor.predict_proba(self.native, frame), dtype=np.float64)
