"""Run model code in a separate worker process, with results coming back as data.

The platform server never loads a model in its own process: validation,
reports, compilation and parity checks run in ``python -m
modelyard.registry._worker`` with a clean environment — only ``PATH``, the
interpreter's module path, a private ``HOME``/``TMPDIR`` and locale and thread
settings; no store URL, credentials or tokens. The worker gets a verified
local copy of the model directory and its input frames as Parquet files, and
answers with JSON, an HTML report or ONNX bytes. Nothing it returns is
unpickled, so a model that runs code (trusted code, or a bug in a loader) can
at worst fail its own job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.errors import (
    BackendUnavailable,
    Conflict,
    IntegrityError,
    InvalidInput,
    ModelyardError,
    NotFound,
    PermissionDenied,
)

__all__ = ["WorkerResult", "run_model_job", "worker_environment"]

WORKER_MODULE = "modelyard.registry._worker"
WORKER_TIMEOUT_S = 3600.0
"""A job still running after an hour is stopped (a hung model must not pin the server)."""

_PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "OMP_NUM_THREADS", "SYSTEMROOT")
_ERRORS: dict[str, type[ModelyardError]] = {
    cls.code: cls for cls in (NotFound, Conflict, InvalidInput, PermissionDenied, IntegrityError)
}


@dataclass(frozen=True)
class WorkerResult:
    """What the worker answered: its JSON body and the folder holding its output files."""

    body: dict[str, Any]
    out: Path


def worker_environment(home: Path) -> dict[str, str]:
    """The worker's whole environment: nothing of the server's secrets or configuration."""
    env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
    env.setdefault("PATH", os.defpath)
    # The interpreter's own module path, so the worker imports exactly this Modelyard.
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["HOME"] = str(home)
    env["TMPDIR"] = str(home)
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@contextmanager
def run_model_job(
    op: str,
    model_dir: Path,
    *,
    ref: str,
    inputs: Mapping[str, pd.DataFrame | None],
    params: Mapping[str, Any],
    trusted_code: bool,
    trusted_types: Sequence[str],
) -> Iterator[WorkerResult]:
    """Run one job (``validate`` or ``compile``) in a worker; yield its result while its files live.

    Raises:
        The worker's ModelyardError (same class and message), InvalidInput when the
        model's own code failed, BackendUnavailable when the worker died or timed out.
    """
    with tempfile.TemporaryDirectory(prefix="modelyard-worker-") as tmp:
        job_dir = Path(tmp)
        names: dict[str, str | None] = {}
        for key, frame in inputs.items():
            if frame is None:
                names[key] = None
                continue
            names[key] = f"{key}.parquet"
            frame.to_parquet(job_dir / names[key], index=False)
        job = {
            "op": op,
            "model_dir": str(model_dir),
            "inputs": names,
            "params": dict(params),
            "trusted_code": trusted_code,
            "trusted_types": list(trusted_types),
        }
        (job_dir / "job.json").write_text(json.dumps(job), "utf-8")
        home = job_dir / "home"
        home.mkdir()
        try:
            done = subprocess.run(
                [sys.executable, "-m", WORKER_MODULE, str(job_dir)],
                cwd=home,
                env=worker_environment(home),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=WORKER_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise BackendUnavailable(
                f"the model worker for {ref} ({op}) ran past {WORKER_TIMEOUT_S:.0f} s "
                "and was stopped"
            ) from exc
        result_file = job_dir / "out" / "result.json"
        if not result_file.is_file():
            tail = (done.stderr or "").strip().splitlines()[-5:]
            raise BackendUnavailable(
                f"the model worker for {ref} ({op}) exited with code {done.returncode} "
                f"without a result: {' | '.join(tail) or 'no output'}"
            )
        try:
            body = json.loads(result_file.read_text("utf-8"))
        except json.JSONDecodeError as exc:
            raise IntegrityError(f"the model worker for {ref} wrote an unreadable result") from exc
        if not body.get("ok"):
            error = _ERRORS.get(str(body.get("error")))
            message = str(body.get("message", "unknown failure"))
            if error is not None:
                raise error(message, details=body.get("details"))
            if body.get("error") == "backend_unavailable":
                raise BackendUnavailable(message)
            raise InvalidInput(f"{ref} failed in the model worker ({op}): {message}")
        yield WorkerResult(body, job_dir / "out")
