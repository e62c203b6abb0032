"""MLflow model-registry costs with a SQLite store; runs INSIDE the mlflow venv.

Imports only mlflow and the standard library. Registers one model, creates
``--versions`` model versions with ``MlflowClient.create_model_version`` (source:
a dummy artifact directory of a logged run), sets an alias and resolves it
``--resolves`` times with ``get_model_version_by_alias``. Prints one JSON line:
``create_model_version_ms`` / ``get_by_alias_ms`` are medians per call; means and
totals are reported alongside.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

MODEL_NAME = "bench-model"
ALIAS = "champion"


def _setup(tmp: Path) -> str:
    """Point tracking and registry at a fresh SQLite store in ``tmp``; return an experiment id."""
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    artifacts = tmp / "artifacts"
    artifacts.mkdir(exist_ok=True)
    exp_id = mlflow.create_experiment("bench-registry", artifact_location=artifacts.as_uri())
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def _logged_run(tmp: Path) -> tuple[str, str]:
    """Log a run with a dummy ``model`` artifact directory; return (run_id, source uri)."""
    dummy = tmp / "model"
    dummy.mkdir()
    (dummy / "MLmodel").write_text("artifact_path: model\nflavors: {}\n")
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(dummy), artifact_path="model")
        source = f"{run.info.artifact_uri}/model"
    return run.info.run_id, source


def _ms(times: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(times), 4),
        "mean": round(statistics.fmean(times), 4),
        "total_s": round(sum(times) / 1000.0, 4),
    }


def main(argv: list[str] | None = None) -> dict:
    """Run the registry measurements and print/return the result as one JSON object."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--versions", type=int, default=1000)
    ap.add_argument("--resolves", type=int, default=10_000)
    args = ap.parse_args(argv)
    if args.versions < 1 or args.resolves < 1:
        ap.error("--versions and --resolves must be at least 1")

    tmp = Path(tempfile.mkdtemp(prefix="mlflow-registry-bench-"))
    try:
        _setup(tmp)
        client = MlflowClient()
        run_id, source = _logged_run(tmp)
        client.create_registered_model(MODEL_NAME)

        create: list[float] = []
        last_version = None
        for _ in range(args.versions):
            t0 = time.perf_counter()
            mv = client.create_model_version(MODEL_NAME, source, run_id)
            create.append((time.perf_counter() - t0) * 1000.0)
            last_version = mv.version

        client.set_registered_model_alias(MODEL_NAME, ALIAS, str(last_version))
        resolve: list[float] = []
        for _ in range(args.resolves):
            t0 = time.perf_counter()
            mv = client.get_model_version_by_alias(MODEL_NAME, ALIAS)
            resolve.append((time.perf_counter() - t0) * 1000.0)
        if str(mv.version) != str(last_version):
            raise SystemExit(f"alias resolved to {mv.version}, expected {last_version}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    c, r = _ms(create), _ms(resolve)
    result = {
        "tool": "mlflow",
        "mlflow_version": mlflow.__version__,
        "python": platform.python_version(),
        "store": "sqlite",
        "versions": args.versions,
        "create_model_version_ms": c["median"],
        "create_model_version_mean_ms": c["mean"],
        "create_model_version_total_s": c["total_s"],
        "resolves": args.resolves,
        "get_by_alias_ms": r["median"],
        "get_by_alias_mean_ms": r["mean"],
        "get_by_alias_total_s": r["total_s"],
    }
    print(json.dumps(result), flush=True)
    return result


if __name__ == "__main__":
    main()
