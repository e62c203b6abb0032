"""The ``modelyard`` command run in the test's own process, its output captured.

Each call opens a fresh Yard from the environment (as a new ``modelyard``
process would), so a test may change ``MODELYARD_*`` variables between calls.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CliResult", "invoke"]


@dataclass
class CliResult:
    """What one ``modelyard ...`` call returned and printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def invoke(args: Sequence[str], capsys: Any) -> CliResult:
    """Run ``modelyard <args>``; ``capsys`` is pytest's fixture, read after the call."""
    from modelyard.cli import _context
    from modelyard.cli.main import main

    _context.yard.cache_clear()  # the Yard of a previous call acted for other settings
    code = main(list(args))
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
