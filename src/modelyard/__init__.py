"""Modelyard: one platform for the life of production ML models.

import modelyard
yard = modelyard.connect()

``connect``, ``Yard`` and the settings are imported on first use (PEP 562):
a serving or batch worker process that imports one submodule then pays for
what it uses, not for SQLAlchemy, Alembic and the data services (~170 MiB
and ~0.8 s when imported eagerly).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelyard.errors import (
    BackendUnavailable,
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelyardError,
    NotFound,
    PermissionDenied,
)

if TYPE_CHECKING:
    from modelyard._connect import connect
    from modelyard.config import Settings, load_settings
    from modelyard.yard import Yard

__version__ = "0.1.0"

_LAZY = {
    "Settings": "modelyard.config",
    "load_settings": "modelyard.config",
    "Yard": "modelyard.yard",
    "connect": "modelyard._connect",
}

__all__ = [
    "BackendUnavailable",
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "ModelyardError",
    "NotFound",
    "PermissionDenied",
    "Settings",
    "Yard",
    "__version__",
    "connect",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modelyard' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
