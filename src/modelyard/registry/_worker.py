"""The model worker: ``python -m modelyard.registry._worker JOB_DIR``.

Started by :mod:`modelyard.registry.isolation` with a minimal environment (no
store URL, no credentials, no tokens) to run one job on a verified local copy
of a model directory: load the model, validate or compile it, and write the
results as data — ``result.json`` plus ``report.html`` or ``model.onnx`` — into
``JOB_DIR/out``. It reads no metadata store and no artifact store; whatever
code a trusted-code model runs here runs outside the platform server.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

RESULT_FILE = "result.json"


def _frame(job_dir: Path, name: str | None) -> Any:
    import pandas as pd

    return pd.read_parquet(job_dir / name) if name else None


def run(job_dir: Path) -> dict[str, Any]:
    from modelyard.flavors import load_model
    from modelyard.registry import model_work

    job = json.loads((job_dir / "job.json").read_text("utf-8"))
    out = job_dir / "out"
    loaded = load_model(
        job["model_dir"],
        trusted_code=bool(job.get("trusted_code")),
        trusted_types=list(job.get("trusted_types") or []),
    )
    params = job.get("params") or {}
    if job["op"] == "validate":
        work = model_work.validation_work(
            loaded,
            _frame(job_dir, job["inputs"]["data"]),
            reference=_frame(job_dir, job["inputs"].get("reference")),
            **params,
        )
        (out / "report.html").write_text(work.html, "utf-8")
        return {"metrics": work.metrics}
    if job["op"] == "compile":
        compiled = model_work.compile_work(
            loaded, _frame(job_dir, job["inputs"]["data"]), tolerance=float(params["tolerance"])
        )
        (out / "model.onnx").write_bytes(compiled.onnx_bytes)
        return {"parity": compiled.parity}
    raise ValueError(f"unknown job {job['op']!r}")


def main(argv: list[str]) -> int:
    from modelyard.errors import ModelyardError

    job_dir = Path(argv[1])
    out = job_dir / "out"
    out.mkdir(exist_ok=True)
    try:
        body: dict[str, Any] = {"ok": True, **run(job_dir)}
    except ModelyardError as exc:
        body = {"ok": False, "error": exc.code, "message": exc.message, "details": exc.details}
    except Exception as exc:  # the model's own code may raise anything: report it as data
        body = {
            "ok": False,
            "error": "model_failure",
            "message": f"{type(exc).__name__}: {exc}",
            "trace": traceback.format_exc(limit=8),
        }
    (out / RESULT_FILE).write_text(json.dumps(body, default=str), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
