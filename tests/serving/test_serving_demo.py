"""`modelyard serve` as a real process: the demo step starts it, calls it over two
protocols, stops it with SIGTERM and finds every row in the prediction log."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from serving_support import open_yard

from modelyard.demo.serving_step import run_serving_demo


@pytest.mark.slow
def test_serving_demo_round_trip(yard_root, holdout) -> None:
    output = io.StringIO()
    with open_yard(yard_root) as yard:
        result = run_serving_demo(
            yard,
            Console(file=output, width=120),
            "credit-risk@champion",
            frame=holdout,
            requests=150,
        )
    assert result["requests"] == 150 and result["logged_rows"] == 150
    assert result["versions"] == [1]
    assert result["plain"]["requests"] == 100 and result["v2"]["requests"] == 50
    assert "Serving demo" in output.getvalue() and "stopped cleanly" in output.getvalue()
