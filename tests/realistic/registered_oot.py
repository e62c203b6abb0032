"""The README's way of registering, on out-of-time data: a run with ``inputs=[train]`` (no
role word) and ``example=x.head(5)``, for each of the four realistic pipelines.

Imported by the validation and monitoring tests of this folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from realistic_pipelines import split_xy

import modelyard
from modelyard.data.out_of_time import TARGET

TRAIN = "oot-train/1"


def model_name(pipeline: str) -> str:
    return "oot-" + pipeline.replace("_", "-")


def connect(root: Path) -> Any:
    return modelyard.connect(
        f"sqlite:///{root / 'yard.db'}",
        artifact_root=str(root / "artifacts"),
        user="alice",
        home=str(root / "home"),
    )


def register_all(yard: Any, fitted: dict[str, Any], early: pd.DataFrame) -> dict[str, str]:
    """Every fitted pipeline registered as the README does; returns name -> version ref."""
    train = yard.datasets.register("oot-train", early)
    assert train.ref == TRAIN
    x, _ = split_xy(early)
    refs = {}
    for pipeline, model in fitted.items():
        with yard.start_run(experiment="out-of-time", inputs=[train]) as run:
            run.log_params({"pipeline": pipeline})
        version = yard.models.register(
            model_name(pipeline), model, run=run, example=x.head(5), target=TARGET
        )
        refs[pipeline] = version.ref
    return refs


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``modelyard ARGS`` in a real subprocess on the yard under ``root``."""
    env = {
        **os.environ,
        "MODELYARD_STORE_URL": f"sqlite:///{root / 'yard.db'}",
        "MODELYARD_ARTIFACT_ROOT": str(root / "artifacts"),
        "MODELYARD_HOME": str(root / "home"),
        "MODELYARD_USER": "alice",
        "COLUMNS": "240",
    }
    return subprocess.run(
        [sys.executable, "-m", "modelyard.cli.main", *args],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
