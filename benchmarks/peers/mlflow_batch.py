"""MLflow batch scoring on a whole frame; runs INSIDE the mlflow peer venv (with LightGBM).

Two commands, each printing one JSON line:

    mlflow_batch.py save MODEL.pkl MODEL_DIR
        Save the pickled scikit-learn pipeline with ``mlflow.sklearn.save_model``
        (cloudpickle; pyfunc calls ``predict_proba``, the same output as ours).
    mlflow_batch.py predict MODEL_DIR INPUT_DIR COLUMNS
        ``mlflow.pyfunc.load_model`` (timed apart), then ``pandas.read_parquet``
        of the whole input and one ``predict`` on it: what an MLflow user does
        with ``mlflow models predict`` or a notebook on one machine.
"""

from __future__ import annotations

import json
import pickle
import sys
import time


def save(pickle_path: str, model_dir: str) -> dict:
    import mlflow.sklearn

    with open(pickle_path, "rb") as fh:
        model = pickle.load(fh)  # our own file, written by benchmarks/batch.py
    mlflow.sklearn.save_model(
        model,
        model_dir,
        serialization_format="cloudpickle",
        pyfunc_predict_fn="predict_proba",
    )
    return {"saved": model_dir}


def predict(model_dir: str, input_dir: str, columns: str) -> dict:
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(model_dir)
    load_s = time.perf_counter() - started
    started, cpu_started = time.perf_counter(), time.process_time()
    frame = pd.read_parquet(input_dir, columns=columns.split(","))
    read_s = time.perf_counter() - started
    scores = np.asarray(model.predict(frame))
    total_s = time.perf_counter() - started
    return {
        "rows": len(frame),
        "load_s": round(load_s, 3),
        "read_s": round(read_s, 3),
        "predict_s": round(total_s - read_s, 3),
        "score_s": round(total_s, 3),
        "cpu_s": round(time.process_time() - cpu_started, 3),
        "first_scores": scores[:5, 1].tolist(),
    }


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    result = save(*args) if command == "save" else predict(*args)
    sys.stdout.write(json.dumps(result) + "\n")
