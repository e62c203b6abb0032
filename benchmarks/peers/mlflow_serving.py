"""Save a pickled scikit-learn pipeline as an MLflow model; runs INSIDE the mlflow venv.

The model is saved with ``pyfunc_predict_fn="predict_proba"`` (so the scoring
server answers probabilities, like the other servers) and an input example
(so MLflow infers and enforces a signature, as teams usually log models),
serialised with cloudpickle (MLflow 3's default, skops, refuses LightGBM's
types until they are trusted). Prints one JSON line: the model directory and
MLflow's version.

Usage: python mlflow_serving.py MODEL_PICKLE EXAMPLE_JSON OUT_DIR
"""

from __future__ import annotations

import json
import pickle
import sys

import mlflow
import mlflow.sklearn
import pandas as pd


def main(argv: list[str]) -> dict:
    model_path, example_path, out = argv
    with open(model_path, "rb") as fh:
        model = pickle.load(fh)
    with open(example_path) as fh:
        example = pd.DataFrame.from_records(json.load(fh))
    mlflow.sklearn.save_model(
        model,
        out,
        serialization_format="cloudpickle",
        pyfunc_predict_fn="predict_proba",
        input_example=example,
    )
    return {"model_dir": out, "mlflow": mlflow.__version__}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1:])))
