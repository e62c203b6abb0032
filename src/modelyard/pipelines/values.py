"""How step values are stored by reference and identified for the cache.

A value is encoded as a small JSON document:

    {"t": "json",    "v": 0.81}                           plain JSON values
    {"t": "dataset", "ref": "loans/3", "digest": "sha256:..."}
    {"t": "model",   "ref": "credit-risk/2", "digest": "sha256:..."}
    {"t": "run",     "id": "9f0c..."}
    {"t": "dict", "v": {...}} / {"t": "list", "v": [...]}   containers of encodable values
    {"t": "blob",    "digest": "sha256:...", "type": "sklearn.pipeline.Pipeline"}

A blob is any other object, pickled into the content-addressed artifact
store; decoding reads it back through the store's hash check, so a cached
pickle is verified before it is unpickled. The encoded form doubles as the
value's identity in cache keys: a dataset is its content digest, a model
version its reference and artifact digest, a run its id, a blob its digest.
"""

from __future__ import annotations

import hashlib
import math
import pickle
from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import InvalidInput, ModelyardError

__all__ = ["canonical_json", "decode", "encode", "identity", "item_of", "summary"]

PICKLE_PROTOCOL = 5


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _is_json_scalar(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | str):
        return True
    return isinstance(value, float) and math.isfinite(value)


def encode(value: Any, artifacts: Any | None) -> dict[str, Any]:
    """The stored form of ``value``; with ``artifacts=None`` blobs are hashed, not stored."""
    from modelyard.data.entities import DatasetVersionInfo
    from modelyard.registry.entities import ModelVersionInfo
    from modelyard.tracking import ActiveRun, RunInfo

    if _is_json_scalar(value):
        return {"t": "json", "v": value}
    number = _numpy_scalar(value)
    if number is not None:
        return {"t": "json", "v": number}
    if isinstance(value, DatasetVersionInfo):
        return {"t": "dataset", "ref": value.ref, "digest": value.digest}
    if isinstance(value, ModelVersionInfo):
        return {"t": "model", "ref": value.ref, "digest": value.artifact_digest}
    if isinstance(value, RunInfo | ActiveRun):
        return {"t": "run", "id": value.id}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"t": "dict", "v": {k: encode(v, artifacts) for k, v in value.items()}}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        return {"t": "list", "v": [encode(v, artifacts) for v in value]}
    try:
        data = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
    except Exception as exc:  # pickling fails in many ways (locks, lambdas, open files)
        raise InvalidInput(
            f"a step value of type {type(value).__qualname__} cannot be stored: it is not "
            f"picklable ({exc}); return data, a registered dataset or model, or a path instead"
        ) from exc
    if artifacts is None:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
    else:
        digest = artifacts.put_bytes(data)
    kind = type(value)
    return {"t": "blob", "digest": digest, "type": f"{kind.__module__}.{kind.__qualname__}"}


def _numpy_scalar(value: Any) -> Any:
    try:
        import numpy as np
    except ImportError:  # numpy is a dependency; this only keeps the encoder self-contained
        return None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating) and math.isfinite(float(value)):
        return float(value)
    return None


def decode(doc: Mapping[str, Any], yard: Any) -> Any:
    """The value an encoded document stands for; NotFound if it no longer exists."""
    kind = doc.get("t")
    if kind == "json":
        return doc["v"]
    if kind == "dataset":
        return yard.datasets.get(doc["ref"])
    if kind == "model":
        return yard.models.get(doc["ref"])
    if kind == "run":
        return yard.runs.get(doc["id"])
    if kind == "dict":
        return {k: decode(v, yard) for k, v in doc["v"].items()}
    if kind == "list":
        return [decode(v, yard) for v in doc["v"]]
    if kind == "blob":
        # get_bytes verifies the content hash before the bytes are unpickled.
        return pickle.loads(yard.artifacts.get_bytes(doc["digest"]))
    raise InvalidInput(f"cannot decode a stored step value of kind {kind!r}")


def identity(doc: Mapping[str, Any]) -> Any:
    """The part of an encoded value that identifies it (blob type names are left out)."""
    kind = doc.get("t")
    if kind == "dict":
        return {"dict": {k: identity(v) for k, v in doc["v"].items()}}
    if kind == "list":
        return {"list": [identity(v) for v in doc["v"]]}
    if kind == "blob":
        return {"blob": doc["digest"]}
    if kind == "json":
        return doc["v"]
    return {k: v for k, v in doc.items()}


def item_of(doc: Mapping[str, Any], key: Any) -> dict[str, Any] | None:
    """The encoded item ``key`` of an encoded container, or None when it is not one."""
    if doc.get("t") == "dict" and key in doc["v"]:
        return dict(doc["v"][key])
    if doc.get("t") == "list" and isinstance(key, int) and -len(doc["v"]) <= key < len(doc["v"]):
        return dict(doc["v"][key])
    if doc.get("t") == "json" and isinstance(doc["v"], dict | list):
        try:
            return {"t": "json", "v": doc["v"][key]}
        except (KeyError, IndexError, TypeError):
            return None
    return None


def summary(doc: Mapping[str, Any], limit: int = 500) -> str:
    """A short text for run params and the terminal."""
    kind = doc.get("t")
    if kind == "json":
        text = orjson.dumps(doc["v"]).decode()
    elif kind in ("dataset", "model"):
        text = f"{kind}:{doc['ref']}"
    elif kind == "run":
        text = f"run:{doc['id']}"
    elif kind == "blob":
        text = f"{doc['type'].rsplit('.', 1)[-1]}:{doc['digest'][:19]}"
    elif kind == "dict":
        text = "{" + ", ".join(f"{k}: {summary(v, 80)}" for k, v in doc["v"].items()) + "}"
    elif kind == "list":
        text = "[" + ", ".join(summary(v, 80) for v in doc["v"]) + "]"
    else:
        text = str(doc)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_missing(exc: BaseException) -> bool:
    """Whether decoding failed because the referenced object is gone (treat as a cache miss)."""
    from modelyard.errors import IntegrityError, NotFound

    return isinstance(exc, NotFound | IntegrityError) or (
        isinstance(exc, ModelyardError) and exc.http_status == 404
    )
