"""Finding a pipeline by ``FILE:FUNCTION`` (or ``module:FUNCTION``); typing its parameters."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from modelyard.errors import InvalidInput
from modelyard.pipelines.dsl import Pipeline

__all__ = ["load_pipeline", "parse_params", "split_reference"]


def split_reference(ref: str) -> tuple[str, str]:
    """``("path/or.module", "function")`` from ``FILE:FUNCTION``."""
    if not isinstance(ref, str) or ":" not in ref:
        raise InvalidInput(
            f"a pipeline reference is FILE:FUNCTION, e.g. examples/credit_risk/pipeline.py:train; "
            f"got {ref!r}"
        )
    where, _, attr = ref.rpartition(":")
    if not where or not attr.isidentifier():
        raise InvalidInput(f"pipeline reference {ref!r}: expected FILE:FUNCTION")
    return where, attr


def _module_from_file(path: Path) -> types.ModuleType:
    resolved = path.resolve()
    tag = hashlib.sha256(str(resolved).encode()).hexdigest()[:10]
    name = f"_modelyard_pipeline_{resolved.stem}_{tag}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    # Registered under its name so that objects it defines can be pickled and unpickled.
    sys.modules[name] = module
    folder = str(resolved.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)  # sibling modules of the pipeline file are importable
    try:
        spec.loader.exec_module(module)
    except Exception:
        sys.modules.pop(name, None)
        raise
    finally:
        if added:
            sys.path.remove(folder)
    return module


def load_pipeline(ref: str) -> Pipeline:
    """The ``@pipeline`` object that ``ref`` names (the file is imported afresh)."""
    where, attr = split_reference(ref)
    path = Path(where)
    if where.endswith(".py") or path.exists():
        if not path.is_file():
            raise InvalidInput(f"pipeline file {where!r} does not exist")
        module = _module_from_file(path)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as exc:
            raise InvalidInput(f"cannot import pipeline module {where!r}: {exc}") from exc
    obj = getattr(module, attr, None)
    if obj is None:
        found = [k for k, v in vars(module).items() if isinstance(v, Pipeline)]
        raise InvalidInput(
            f"{where} has no {attr!r}; pipelines defined there: {', '.join(found) or 'none'}"
        )
    if not isinstance(obj, Pipeline):
        raise InvalidInput(f"{where}:{attr} is not a @pipeline (it is a {type(obj).__name__})")
    return obj


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


def _convert(name: str, text: str, kind: Any) -> Any:
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(kind) if a is not type(None)]
        if text.lower() in ("none", "null", ""):
            return None
        kind = options[0] if len(options) == 1 else None
    try:
        if kind is bool:
            lowered = text.lower()
            if lowered in _TRUE | _FALSE:
                return lowered in _TRUE
            raise ValueError("expected true or false")
        if kind is int:
            number = float(text)  # KFP renders integer parameters as 5.0
            if not number.is_integer():
                raise ValueError("not a whole number")
            return int(number)
        if kind is float:
            return float(text)
        if kind is str:
            return text
    except ValueError as exc:
        wanted = {bool: "true or false", int: "an integer", float: "a number"}
        raise InvalidInput(
            f"--param {name}={text}: expected {wanted.get(kind, kind.__name__)}"
        ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"--param {name}={text}: not a value ({exc})") from exc


def parse_params(pipeline: Pipeline, items: Iterable[str] | Mapping[str, Any]) -> dict[str, Any]:
    """Typed parameter values from ``k=v`` strings (by annotation, else by default's type)."""
    if isinstance(items, Mapping):
        pairs = [(str(k), v) for k, v in items.items()]
    else:
        pairs = []
        for item in items:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise InvalidInput(f"--param takes KEY=VALUE; got {item!r}")
            pairs.append((key.strip(), value))
    try:
        hints = get_type_hints(pipeline.fn)
    except Exception:  # annotations that do not resolve are treated as untyped
        hints = {}
    parameters = pipeline.signature.parameters
    values: dict[str, Any] = {}
    for key, value in pairs:
        if key not in parameters:
            known = ", ".join(parameters) or "none"
            raise InvalidInput(
                f"pipeline {pipeline.name!r} has no parameter {key!r}; its parameters: {known}"
            )
        if not isinstance(value, str):
            values[key] = value
            continue
        kind = hints.get(key)
        default = parameters[key].default
        if kind is None and default is not inspect.Parameter.empty and default is not None:
            kind = type(default)
        values[key] = _convert(key, value, kind)
    return values
