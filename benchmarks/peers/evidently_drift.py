"""Evidently's DataDriftPreset on two Parquet files; runs INSIDE the evidently venv.

Imports only Evidently, pandas and the standard library. Reads both files whole
(Evidently works on in-memory DataFrames), declares the column types (numeric and
string columns as Evidently would infer them, id and timestamp by role, ``--exclude``
left out), runs ``Report([DataDriftPreset()])`` with its default per-column methods
and thresholds, and prints one JSON line: the drifted columns, each column's method,
score and threshold, the dataset-level count, and timings.

    python evidently_drift.py REFERENCE.parquet CURRENT.parquet [--exclude default]
"""

from __future__ import annotations

import argparse
import json
import time

import evidently
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("reference")
    ap.add_argument("current")
    ap.add_argument("--exclude", nargs="*", default=[])
    ap.add_argument("--id-column", default="application_id")
    ap.add_argument("--timestamp", default="application_date")
    args = ap.parse_args()

    t0 = time.perf_counter()
    ref = pd.read_parquet(args.reference)
    cur = pd.read_parquet(args.current)
    read_s = time.perf_counter() - t0
    skip = {*args.exclude, args.id_column, args.timestamp}
    features = [c for c in ref.columns if c not in skip]
    ref, cur = ref[features], cur[features]
    numeric = [c for c in features if pd.api.types.is_numeric_dtype(ref[c])]
    categorical = [c for c in features if c not in numeric]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)

    t1 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(ref, data_definition=definition),
    )
    run_s = time.perf_counter() - t1

    columns, drifted, count = {}, [], None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("DriftedColumnsCount"):
            count = metric["value"]
            continue
        if "column" not in config:
            continue
        method, threshold, value = config["method"], config["threshold"], metric["value"]
        # Evidently's convention: p-value tests drift below the threshold, distances at or above
        hit = value < threshold if "p_value" in method else value >= threshold
        columns[config["column"]] = {"method": method, "value": value, "threshold": threshold}
        if hit:
            drifted.append(config["column"])
    print(
        json.dumps(
            {
                "evidently_version": evidently.__version__,
                "drifted": drifted,
                "dataset_count": count,
                "columns": columns,
                "read_s": read_s,
                "run_s": run_s,
            }
        )
    )


if __name__ == "__main__":
    main()
