"""Importing MLflow model directories (``MLmodel`` + files) as registry versions.

A team moving off MLflow brings its registered models along: the scikit-learn
and LightGBM flavors are read from the directory MLflow wrote (no MLflow
installation needed), the MLflow signature becomes a Modelyard signature,
and ``input_example.json`` (when present) becomes the stored example.

Pickled files are a trust decision: MLflow stores no content hash to check,
so the operator who imports a directory vouches for it. From then on the
version's bytes are hashed and verified like every other version's.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from modelyard.errors import InvalidInput

_TYPES = {
    "double": "float",
    "float": "float",
    "long": "integer",
    "integer": "integer",
    "boolean": "boolean",
    "string": "string",
    "datetime": "datetime",
}


def read_mlmodel(path: Path) -> dict[str, Any]:
    file = path / "MLmodel"
    if not file.is_file():
        raise InvalidInput(f"{str(path)!r} is not an MLflow model directory: no MLmodel file")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{file} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("flavors"), dict):
        raise InvalidInput(f"{file} has no 'flavors' section")
    return data


def _unpickle(file: Path) -> Any:
    if not file.is_file():
        raise InvalidInput(f"the MLflow model names {file.name}, which is missing")
    with file.open("rb") as fh:
        return pickle.load(fh)  # the importer vouches for this directory (module docstring)


def load_native(path: Path, mlmodel: dict[str, Any]) -> tuple[Any, str]:
    """The model object and the MLflow flavor it came from."""
    flavors = mlmodel["flavors"]
    if "sklearn" in flavors:
        conf = flavors["sklearn"]
        fmt = conf.get("serialization_format", "pickle")
        if fmt not in ("pickle", "cloudpickle"):
            raise InvalidInput(
                f"MLflow sklearn model serialised as {fmt!r}; only pickle and cloudpickle are "
                "supported (re-log it with serialization_format='cloudpickle')"
            )
        return _unpickle(path / conf.get("pickled_model", "model.pkl")), "sklearn"
    if "lightgbm" in flavors:
        conf = flavors["lightgbm"]
        data = path / conf.get("data", "model.lgb")
        if str(conf.get("model_class", "")).endswith("Booster") or data.suffix == ".lgb":
            import lightgbm

            if not data.is_file():
                raise InvalidInput(f"the MLflow model names {data.name}, which is missing")
            return lightgbm.Booster(model_file=str(data)), "lightgbm"
        return _unpickle(data), "lightgbm"
    raise InvalidInput(
        f"MLflow flavors {sorted(flavors)} are not supported; import sklearn or lightgbm models"
    )


def convert_signature(mlmodel: dict[str, Any]) -> Any:
    from modelyard.flavors import ColumnSpec, Signature

    raw = (mlmodel.get("signature") or {}).get("inputs")
    if not raw:
        return None
    columns = json.loads(raw) if isinstance(raw, str) else raw
    specs = []
    for i, col in enumerate(columns):
        if "name" not in col:
            raise InvalidInput(
                f"MLflow signature input {i} has no name (tensor signatures are not supported)"
            )
        kind = _TYPES.get(col.get("type"))
        if kind is None:
            raise InvalidInput(
                f"MLflow signature column {col['name']!r} has unsupported type {col.get('type')!r}"
            )
        specs.append(
            ColumnSpec(name=col["name"], type=kind, nullable=not col.get("required", True))
        )
    return Signature(inputs=tuple(specs), outputs=())


def read_example(path: Path) -> pd.DataFrame | None:
    file = path / "input_example.json"
    if not file.is_file():
        return None
    data = json.loads(file.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "dataframe_split" in data:
        data = data["dataframe_split"]
    if isinstance(data, dict) and "columns" in data and "data" in data:
        return pd.DataFrame(data["data"], columns=data["columns"])
    if isinstance(data, list):
        return pd.DataFrame.from_records(data)
    return None
