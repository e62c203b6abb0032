"""The Open Inference Protocol (KServe V2) over REST, with Triton's binary tensor extension.

Inputs are either one tensor per signature column (shape ``[n]`` or
``[n, 1]``), or a single 2-D tensor ``[n, columns]`` whose columns follow the
signature's order (a BYTES tensor may carry numbers as text). Tensor data may
be nested or flat, in JSON, or binary after the JSON header when the request
has an ``Inference-Header-Content-Length`` header and each input a
``binary_data_size`` parameter (what ``tritonclient`` sends by default).

Outputs: a classifier gives ``label`` ``[n]`` (INT64 or BYTES) and
``probabilities`` ``[n, classes]`` (FP64); a regressor ``prediction`` ``[n]``
(FP64). With the request parameter ``explain`` (a number of reasons) a
``reasons`` output ``[n]`` (BYTES) holds each row's top adverse reasons as JSON
text. Outputs are binary when the request asks (``binary_data_output``, or
an output's ``binary_data``). Errors are ``{"error": message}`` as the
protocol defines, plus the request id. Values outside the training domain
that were scored are listed in the response's ``parameters.warnings`` (the
plain API's format).
"""

from __future__ import annotations

import contextlib
import math
import struct
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from modelyard.errors import InvalidInput
from modelyard.serving.errors import BadRequest
from modelyard.serving.explanations import explain_count
from modelyard.serving.inputs import Payload

if TYPE_CHECKING:
    from modelyard.flavors.signature import Signature
    from modelyard.serving.service import Answer

__all__ = ["V2Request", "parse", "render"]

_NUMPY = {
    "BOOL": "?",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
    "BYTES": None,
}


class V2Request:
    """A decoded inference request: the rows, and what the answer should look like."""

    __slots__ = ("binary_all", "client_id", "entity", "explain", "outputs", "payload")

    def __init__(
        self,
        payload: Payload,
        client_id: str | None,
        outputs: list[tuple[str, bool]] | None,
        binary_all: bool,
        entity: str | None,
        explain: int = 0,
    ) -> None:
        self.payload = payload
        self.client_id = client_id
        self.outputs = outputs
        self.binary_all = binary_all
        self.entity = entity
        self.explain = explain


_REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})
_TENSOR_KEYS = frozenset({"name", "shape", "datatype", "parameters", "data"})


def parse(body: bytes, header_length: int | None, signature: Signature | None) -> V2Request:
    if header_length is not None:
        if not 0 < header_length <= len(body):
            raise BadRequest(
                f"Inference-Header-Content-Length {header_length} does not fit a body of "
                f"{len(body)} bytes"
            )
        head, binary = body[:header_length], memoryview(body)[header_length:]
    else:
        head, binary = body, memoryview(b"")
    try:
        request = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the inference request is not valid JSON: {exc}") from exc
    if type(request) is not dict:
        raise InvalidInput("the inference request must be a JSON object with 'inputs'")
    unknown = sorted(set(request) - _REQUEST_KEYS)
    if unknown:
        raise InvalidInput(f"unknown field(s) {unknown}; a request has {sorted(_REQUEST_KEYS)}")
    client_id = request.get("id")
    if "id" in request and type(client_id) is not str:
        raise InvalidInput("id: must be a string")
    parameters = request.get("parameters", {})
    if type(parameters) is not dict:
        raise InvalidInput("parameters: must be an object")
    entity = parameters.get("entity")
    entity = None if entity is None else str(entity)
    explain = explain_count(parameters.get("explain", 0), "parameters.explain")
    tensors = _tensors(request.get("inputs"), binary)
    payload = _payload(tensors, signature)
    if "outputs" in request and not isinstance(request["outputs"], list):
        raise InvalidInput("outputs: must be a list")
    outputs = _requested_outputs(request.get("outputs"))
    return V2Request(
        payload,
        client_id,
        outputs,
        bool(parameters.get("binary_data_output", False)),
        entity,
        explain,
    )


def _tensors(inputs: Any, binary: memoryview) -> dict[str, tuple[list[int], str, Any]]:
    if not isinstance(inputs, list) or not inputs:
        raise InvalidInput("inputs: must be a non-empty list of tensors")
    tensors: dict[str, tuple[list[int], str, Any]] = {}
    offset = 0
    for i, tensor in enumerate(inputs):
        where = f"inputs[{i}]"
        if type(tensor) is not dict:
            raise InvalidInput(f"{where}: must be an object with name, shape, datatype and data")
        extra = sorted(set(tensor) - _TENSOR_KEYS)
        if extra:
            raise InvalidInput(f"{where}: unknown field(s) {extra}")
        name, shape, datatype = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
        if type(name) is not str:
            raise InvalidInput(f"{where}.name: must be a string")
        where = f"inputs[{i}] ({name})"
        if name in tensors:
            raise InvalidInput(f"{where}: duplicate input name")
        if type(datatype) is not str or datatype not in _NUMPY:
            raise InvalidInput(
                f"{where}.datatype: must be one of {sorted(_NUMPY)}, not {datatype!r}"
            )
        if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
            raise InvalidInput(f"{where}.shape: must be a list of non-negative integers")
        count = math.prod(shape)
        params = tensor.get("parameters", {})
        if type(params) is not dict:
            raise InvalidInput(f"{where}.parameters: must be an object")
        size = params.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or offset + size > len(binary):
                raise BadRequest(f"{where}: binary_data_size {size!r} runs past the body")
            values = _from_binary(binary[offset : offset + size], datatype, count, where)
            offset += size
        else:
            if "data" not in tensor:
                raise InvalidInput(f"{where}.data: is required (or binary_data_size)")
            values = _flatten(tensor["data"], where)
            if len(values) != count:
                raise InvalidInput(
                    f"{where}: shape {shape} needs {count} values, data has {len(values)}"
                )
        tensors[name] = (shape, datatype, values)
    if offset != len(binary):
        raise BadRequest(f"{len(binary) - offset} bytes after the last binary tensor")
    return tensors


def _flatten(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise InvalidInput(f"{where}.data: must be a list")
    if not any(type(v) is list for v in data):
        return data
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if type(value) is list:
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat


def _from_binary(chunk: memoryview, datatype: str, count: int, where: str) -> Any:
    code = _NUMPY[datatype]
    if code is not None:
        width = np.dtype(code).itemsize
        if len(chunk) != count * width:
            raise BadRequest(
                f"{where}: {len(chunk)} bytes for {count} values of {datatype} ({width} bytes each)"
            )
        return np.frombuffer(chunk, dtype=code)
    values: list[str] = []
    pos, end = 0, len(chunk)
    raw = bytes(chunk)
    while pos < end:
        if pos + 4 > end:
            raise BadRequest(f"{where}: truncated BYTES element")
        (length,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + length > end:
            raise BadRequest(f"{where}: truncated BYTES element")
        try:
            values.append(raw[pos : pos + length].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"{where}: a BYTES element is not UTF-8 text") from exc
        pos += length
    if len(values) != count:
        raise BadRequest(f"{where}: {len(values)} BYTES elements for {count} values")
    return values


def _payload(
    tensors: dict[str, tuple[list[int], str, Any]], signature: Signature | None
) -> Payload:
    names = signature.input_names if signature is not None else None
    known = set(names) if names is not None else None
    if known is None or all(name in known for name in tensors):
        columns: dict[str, Any] = {}
        for name, (shape, _, values) in tensors.items():
            if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
                raise InvalidInput(
                    f"input {name}: a tensor per column must have shape [rows] or [rows, 1], "
                    f"not {shape}"
                )
            columns[name] = values
        return Payload.from_columns(columns, "inputs")
    if len(tensors) == 1 and names is not None:
        ((name, (shape, datatype, values)),) = tensors.items()
        if len(shape) != 2 or shape[1] != len(names):
            raise InvalidInput(
                f"input {name}: not a column of the model; a single 2-D input must have shape "
                f"[rows, {len(names)}] with the columns {names} in this order (got {shape})",
                details=[{"column": name, "problem": "unknown input", "values": []}],
            )
        flat = values.tolist() if isinstance(values, np.ndarray) else values
        width = len(names)
        rows = [flat[i : i + width] for i in range(0, len(flat), width)]
        if datatype == "BYTES" and signature is not None:
            _numbers_from_text(rows, signature)
        return Payload.from_rows(list(names), rows, "inputs")
    unknown = sorted(n for n in tensors if n not in (known or set()))
    raise InvalidInput(
        f"unknown input(s) {unknown}: send one tensor per column ({', '.join(names or [])}) "
        "or a single 2-D tensor",
        details=[{"column": n, "problem": "unknown input", "values": []} for n in unknown],
    )


def _numbers_from_text(rows: list[list[Any]], signature: Signature) -> None:
    """In a BYTES matrix every value is text: read numeric columns' text as numbers."""
    kinds = [(i, s.type) for i, s in enumerate(signature.inputs) if s.type in ("integer", "float")]
    for row in rows:
        for i, kind in kinds:
            value = row[i]
            if type(value) is str:
                # Text that is no number stays text: the signature check names it.
                with contextlib.suppress(ValueError):
                    row[i] = int(value) if kind == "integer" else float(value)


def _requested_outputs(outputs: Any) -> list[tuple[str, bool]] | None:
    if outputs is None:
        return None
    if not isinstance(outputs, list):
        raise InvalidInput("outputs: must be a list")
    requested = []
    for i, output in enumerate(outputs):
        if type(output) is not dict or type(output.get("name")) is not str:
            raise InvalidInput(f"outputs[{i}]: must be an object with a name")
        params = output.get("parameters", {})
        if type(params) is not dict:
            raise InvalidInput(f"outputs[{i}].parameters: must be an object")
        binary = bool(params.get("binary_data", False))
        requested.append((output["name"], binary))
    return requested


# ---------------------------------------------------------------- responses


def _tensors_out(answer: Answer) -> dict[str, tuple[list[int], str, Any]]:
    served = answer.served
    outputs = answer.outputs
    n = len(outputs)
    if served.task != "classification":
        return {"prediction": ([n], "FP64", outputs)}
    labels = served.labels(outputs)
    label_type = served.v2_outputs()[0]["datatype"]
    return {
        "label": ([n], label_type, labels if label_type == "BYTES" else np.asarray(labels)),
        "probabilities": ([n, outputs.shape[1]], "FP64", outputs),
    }


def _reasons_out(answer: Answer) -> tuple[list[int], str, Any]:
    reasons = answer.reasons or []
    return [len(reasons)], "BYTES", [orjson.dumps(row).decode() for row in reasons]


def render(answer: Answer, request: V2Request, request_id: str) -> tuple[bytes, int | None]:
    """(body, JSON header length if binary tensors follow it)."""
    available = _tensors_out(answer)
    if answer.reasons is not None:
        available["reasons"] = _reasons_out(answer)
    wanted = request.outputs
    if wanted is None:
        chosen = [(name, request.binary_all) for name in available]
    else:
        unknown = [name for name, _ in wanted if name not in available]
        if unknown:
            raise InvalidInput(f"unknown output(s) {unknown}; this model gives {sorted(available)}")
        chosen = [(name, binary or request.binary_all) for name, binary in wanted]
        if answer.reasons is not None and all(name != "reasons" for name, _ in wanted):
            chosen.append(("reasons", request.binary_all))  # asked for with explain
    outputs, blobs = [], []
    for name, binary in chosen:
        shape, datatype, values = available[name]
        entry: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
        if binary:
            blob = _to_binary(values, datatype)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = (
                values.ravel().tolist() if isinstance(values, np.ndarray) else list(values)
            )
        outputs.append(entry)
    served = answer.served
    head = orjson.dumps(
        {
            "model_name": answer.endpoint,
            "model_version": served.version_str,
            "id": request.client_id if request.client_id is not None else request_id,
            "parameters": {
                "model": served.name,
                "route": answer.route,
                "request_id": request_id,
                # Out-of-domain values that were scored, as in the plain API.
                **({"warnings": list(answer.warnings)} if answer.warnings else {}),
            },
            "outputs": outputs,
        }
    )
    if not blobs:
        return head, None
    return head + b"".join(blobs), len(head)


def _to_binary(values: Any, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for value in values:
            data = str(value).encode("utf-8")
            parts.append(struct.pack("<I", len(data)))
            parts.append(data)
        return b"".join(parts)
    return np.ascontiguousarray(values, dtype=_NUMPY[datatype]).tobytes()
