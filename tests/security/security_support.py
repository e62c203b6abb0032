"""Helpers of the security tests: a crafted pickle, and the serving configuration.

(A module name no other test folder uses, so ``from security_support import ...``
is never another folder's helper.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelyard.testing.asgi import start_server

__all__ = ["Trojan", "serving_config", "start_server"]


class Trojan:
    """A model that scores like a real one in memory, and whose pickle runs a payload.

    ``__reduce__`` makes ``pickle.dumps`` record a call of the builtin ``exec``
    with code that writes this process id into ``marker`` — what a developer
    could hide in a model file. Unpickling runs it; the object it leaves behind
    is irrelevant, the side effect is the attack.
    """

    def __init__(self, model: Any, marker: Path) -> None:
        self.model = model
        self.marker = str(marker)
        self.classes_ = model.classes_

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict(frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(frame)

    def __reduce__(self) -> tuple[Any, ...]:
        code = f"import os, pathlib; pathlib.Path({self.marker!r}).write_text(str(os.getpid()))"
        return (exec, (code,))


def serving_config() -> Any:
    from modelyard.serving import ServingConfig

    return ServingConfig.build(poll_interval_s=0, gc_freeze=False, warm_rows=50)
