"""Modelyard: one platform for the life of production ML models.

import modelyard
yard = modelyard.connect()
"""

from modelyard.config import Settings, load_settings
from modelyard.errors import (
    BackendUnavailable,
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelyardError,
    NotFound,
    PermissionDenied,
)
from modelyard.yard import Yard, connect

__version__ = "0.1.0"

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
