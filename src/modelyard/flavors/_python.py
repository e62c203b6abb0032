"""The python flavor: any object with ``predict(frame)``, pickled.

The class is pickled by reference, so it must live in an importable module
(not ``__main__``, not inside a function); loading imports that module.
"""

from __future__ import annotations

from typing import Any

from modelyard.errors import InvalidInput
from modelyard.flavors._base import Flavor, class_path, labels


class PythonFlavor(Flavor):
    name = "python"

    def validate(self, model: Any) -> None:
        super().validate(model)
        cls = type(model)
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            raise InvalidInput(
                f"cannot save {class_path(model)} as a python model: its class must be defined "
                "at the top level of an importable module (not __main__ or a function), "
                "because loading imports it by name"
            )

    def describe(self, model: Any) -> tuple[str, list[Any] | None]:
        task, classes = super().describe(model)
        if task == "classification" and classes is None:
            declared = getattr(model, "classes", None)
            classes = labels(declared) if declared is not None and not callable(declared) else None
        return task, classes


FLAVOR = PythonFlavor()
