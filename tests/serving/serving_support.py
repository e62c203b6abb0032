"""Serving fixtures: two trained LightGBM credit models registered in a SQLite yard, and
real uvicorn servers on free localhost ports.

Training happens once per session (50-60 trees, one thread). ``build_yard``
registers the models in a fresh store: version 1 is ``champion`` and version 2
``challenger``, each signed off by a validator and an approver other than the
registrant (tier 1, four eyes). Tests that move aliases build their own yard.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import modelyard
from modelyard.data import synthetic
from modelyard.data.synthetic import FEATURES
from modelyard.demo.credit_models import lightgbm_pipeline, split_xy
from modelyard.testing.asgi import LiveServer
from modelyard.testing.asgi import start_server as serve_app
from modelyard.testing.process import ChildServer

TRAIN_SEED = 41_001
HOLDOUT_SEED = 41_002


@pytest.fixture(scope="session")
def train_frame() -> pd.DataFrame:
    return synthetic.generate(4_000, seed=TRAIN_SEED)


@pytest.fixture(scope="session")
def holdout() -> pd.DataFrame:
    """Held-out applications (features only)."""
    return synthetic.generate(1_000, seed=HOLDOUT_SEED)[list(FEATURES)]


@pytest.fixture(scope="session")
def credit_models(train_frame: pd.DataFrame) -> tuple[Any, Any]:
    x, y = split_xy(train_frame)
    first = lightgbm_pipeline(n_estimators=50).fit(x, y)
    second = lightgbm_pipeline(n_estimators=60, num_leaves=15, random_state=11).fit(x, y)
    return first, second


def open_yard(root: Path, user: str = "alice") -> modelyard.Yard:
    """The store as ``user``: claimed while it has no users, then with a token of theirs."""
    from modelyard.testing.identity import open_as

    return open_as(
        f"sqlite:///{root / 'yard.db'}",
        user,
        artifact_root=str(root / "artifacts"),
        home=str(root / "home"),
    )


def build_yard(root: Path, credit_models: tuple[Any, Any], example: pd.DataFrame) -> None:
    """Register credit-risk/1 (champion), credit-risk/2 (challenger) and faulty/1 (champion)."""
    from serving_testmodels import FaultyScorecard

    alice = open_yard(root)
    try:
        alice.models.create("credit-risk", risk_tier=1)
        for model in credit_models:
            version = alice.models.register("credit-risk", model, example=example)
            for user, role in (("vera", "validator"), ("aaron", "approver")):
                with open_yard(root, user) as other:
                    other.models.approve(version.ref, comment="ok", role=role)
        alice.models.set_alias("credit-risk", "champion", 1)
        alice.models.set_alias("credit-risk", "challenger", 2)
        alice.models.create("faulty", risk_tier=3)
        alice.models.register(
            "faulty", FaultyScorecard(), example=example.head(200), trusted_code=True
        )
        alice.models.set_alias("faulty", "champion", 1)
    finally:
        alice.close()


@pytest.fixture(scope="session")
def yard_root(
    tmp_path_factory: pytest.TempPathFactory,
    credit_models: tuple[Any, Any],
    train_frame: pd.DataFrame,
) -> Path:
    root = tmp_path_factory.mktemp("serving-yard")
    build_yard(root, credit_models, train_frame[list(FEATURES)].head(1_000))
    return root


@pytest.fixture
def fresh_yard_root(
    tmp_path: Path, credit_models: tuple[Any, Any], train_frame: pd.DataFrame
) -> Path:
    """A yard of this test's own, for tests that move aliases or change deployments."""
    root = tmp_path / "yard"
    root.mkdir()
    build_yard(root, credit_models, train_frame[list(FEATURES)].head(1_000))
    return root


def serving_config(**overrides: Any) -> Any:
    from modelyard.serving import ServingConfig

    values: dict[str, Any] = {"poll_interval_s": 0, "gc_freeze": False, "warm_rows": 200}
    values.update(overrides)
    return ServingConfig.build(**values)


def start_server(app: Any) -> LiveServer:
    """Serve ``app`` as production does (uvloop, httptools) on a free localhost port."""
    return serve_app(app, loop="uvloop", http="httptools", ws="none")


@pytest.fixture(scope="session")
def live(yard_root: Path) -> Iterator[LiveServer]:
    """One server for read-only tests: credit-risk@champion and faulty@champion."""
    from modelyard.serving import create_app

    yard = open_yard(yard_root)
    app = create_app(
        ["credit-risk@champion", "faulty@champion"],
        yard=yard,
        config=serving_config(max_body_bytes=64 * 1024, batching={"max_wait_ms": 2.0}),
    )
    server = start_server(app)
    yield server
    server.stop()
    yard.close()


class ServingProcess(ChildServer):
    """``python <script> <args>`` serving on ``port`` in a child process (a script that
    calls ``modelyard.serving.server.serve``), ready once ``/v2/health/ready`` answers.

    For the tests that kill a server: :meth:`send` a signal to it (``group=True`` with
    ``new_session``, to a server and its worker processes at once).
    """

    name = "the serving server"

    def __init__(
        self,
        script: Path,
        args: list[str],
        port: int,
        log: Path,
        *,
        env: dict[str, str] | None = None,
        new_session: bool = False,
    ) -> None:
        super().__init__(log, startup_timeout_s=300.0)
        self.command = [sys.executable, str(script), *args]
        self.url = f"http://127.0.0.1:{port}"
        self.env = dict(env) if env is not None else os.environ.copy()
        self.new_session = new_session

    def start(self) -> ServingProcess:
        ready = f"{self.url}/v2/health/ready"
        self._launch(self.command, env=self.env, ready_url=ready, new_session=self.new_session)
        return self

    def lines(self) -> list[dict[str, Any]]:
        """The JSON lines of its log (the server logs one JSON object a line)."""
        text = self._log_path.read_text()
        return [json.loads(x) for x in text.splitlines() if x[:1] == "{"]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dict(orient="records")
