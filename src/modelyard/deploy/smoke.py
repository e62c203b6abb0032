"""``modelyard smoke URL``: is this endpoint up, serving the right model, correctly and fast?

Four checks, in order, each stopping the run when it fails:

1. **ready** — ``GET /v2/health/ready`` answers 200 (optionally waiting for it).
2. **metadata** — ``GET /v2/models/{name}`` answers, naming the served version.
3. **known answer** — a KServe V2 request with known inputs returns the known
   probabilities (or values) within a tolerance (1e-6). The known answer comes
   from a file (:func:`write_known_answer` makes one) or from the registry: the
   version's stored input example, scored by the registered model itself.
   The request goes to ``/v2/models/{name}/versions/{v}/infer``, so a canary
   route cannot answer in the known version's place.
4. **latency** — the p95 of N single-row requests stays within a budget.

A failure is one line naming the check and what was wrong.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from modelyard.errors import InvalidInput

if TYPE_CHECKING:
    from modelyard.yard import Yard

__all__ = [
    "KnownAnswer",
    "SmokeCheck",
    "SmokeReport",
    "known_answer_from_registry",
    "run_smoke",
    "write_known_answer",
]

KNOWN_ANSWER_FORMAT = "modelyard.known-answer/v1"


@dataclass(frozen=True)
class KnownAnswer:
    """Inputs and the outputs a given model version must return for them."""

    model: str
    version: int | None
    records: list[dict[str, Any]]
    probabilities: list[list[float]] | None = None
    classes: list[Any] | None = None
    values: list[float] | None = None

    def __post_init__(self) -> None:
        if not self.records:
            raise InvalidInput("a known answer needs at least one input record")
        expected = self.probabilities if self.probabilities is not None else self.values
        if expected is None:
            raise InvalidInput("a known answer needs 'probabilities' or 'values'")
        if len(expected) != len(self.records):
            raise InvalidInput(
                f"a known answer has {len(self.records)} records but {len(expected)} expected rows"
            )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": KNOWN_ANSWER_FORMAT,
            "model": self.model,
            "version": self.version,
            "records": self.records,
        }
        if self.probabilities is not None:
            data["classes"] = self.classes
            data["probabilities"] = self.probabilities
        if self.values is not None:
            data["values"] = self.values
        return data

    @classmethod
    def from_file(cls, path: str | Path) -> KnownAnswer:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InvalidInput(f"cannot read known answer {str(path)!r}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"known answer {str(path)!r} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != KNOWN_ANSWER_FORMAT:
            raise InvalidInput(
                f"{path} is not a known-answer file (format {KNOWN_ANSWER_FORMAT!r}); "
                "make one with 'modelyard deploy known-answer REF -o FILE'"
            )
        try:
            return cls(
                model=str(data["model"]),
                version=data.get("version"),
                records=list(data["records"]),
                probabilities=data.get("probabilities"),
                classes=data.get("classes"),
                values=data.get("values"),
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInput(f"known answer {path}: missing or bad field {exc}") from exc


def _clean(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    return value


def known_answer_from_registry(yard: Yard, ref: str, rows: int = 5) -> KnownAnswer:
    """Score the version's stored input example with the registered model itself."""
    info = yard.models.get(ref)
    example = yard.models.input_example(info)
    if example is None or example.empty:
        raise InvalidInput(
            f"{info.ref} has no stored input example to build a known answer from; "
            "pass --expect-known-answer FILE"
        )
    complete = example.dropna()
    frame = (complete if len(complete) else example).head(rows).reset_index(drop=True)
    records = [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]
    model = yard.models.load(info)
    if info.task == "classification":
        probabilities = model.predict_proba(frame)
        return KnownAnswer(
            model=info.name,
            version=info.version,
            records=records,
            probabilities=[[float(p) for p in row] for row in probabilities],
            classes=list(info.manifest.get("classes") or []),
        )
    values = model.predict(frame)
    return KnownAnswer(
        model=info.name,
        version=info.version,
        records=records,
        values=[float(v) for v in values],
    )


def write_known_answer(answer: KnownAnswer, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(answer.to_dict(), indent=2, allow_nan=False) + "\n", "utf-8")
    return path


@dataclass
class SmokeCheck:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class SmokeReport:
    url: str
    model: str
    checks: list[SmokeCheck] = field(default_factory=list)
    version: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failure(self) -> str | None:
        """The first failed check as one line, or None."""
        for check in self.checks:
            if not check.ok:
                return f"{check.name}: {check.detail}"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "model": self.model,
            "version": self.version,
            "ok": self.ok,
            "failure": self.failure,
            "checks": [
                {"name": c.name, "ok": c.ok, "detail": c.detail, "seconds": round(c.seconds, 4)}
                for c in self.checks
            ],
        }


class _Failed(Exception):
    pass


_V2_TYPES = {bool: "BOOL", int: "INT64", float: "FP64", str: "BYTES"}


def v2_request(
    records: Sequence[Mapping[str, Any]], inputs: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """A KServe V2 request with one tensor per column (the metadata's datatypes when known)."""
    declared = {str(i.get("name")): str(i.get("datatype")) for i in inputs or []}
    columns = list(records[0])
    tensors = []
    for column in columns:
        data = [r.get(column) for r in records]
        datatype = declared.get(column)
        if datatype is None:
            sample = next((v for v in data if v is not None), "")
            datatype = _V2_TYPES.get(type(sample), "BYTES")
        tensors.append({"name": column, "datatype": datatype, "shape": [len(data)], "data": data})
    return {"inputs": tensors}


def _describe_response(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"{response.status_code} {text[:200]}" if text else str(response.status_code)


def _get(client: httpx.Client, path: str) -> httpx.Response:
    try:
        return client.get(path)
    except httpx.HTTPError as exc:
        raise _Failed(f"cannot reach {client.base_url}{path}: {exc or type(exc).__name__}") from exc


def _post(client: httpx.Client, path: str, body: Any) -> httpx.Response:
    try:
        return client.post(path, json=body)
    except httpx.HTTPError as exc:
        raise _Failed(f"cannot reach {client.base_url}{path}: {exc or type(exc).__name__}") from exc


def _check_ready(client: httpx.Client, wait_s: float) -> str:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            response = _get(client, "/v2/health/ready")
            if response.status_code == 200:
                return "GET /v2/health/ready answered 200"
            problem = f"GET /v2/health/ready answered {_describe_response(response)}"
        except _Failed as exc:
            problem = str(exc)
        if time.monotonic() >= deadline:
            raise _Failed(problem + (f" (waited {wait_s:g} s)" if wait_s else ""))
        time.sleep(0.5)


def _check_metadata(client: httpx.Client, model: str) -> dict[str, Any]:
    response = _get(client, f"/v2/models/{model}")
    if response.status_code == 404:
        raise _Failed(
            f"the endpoint does not serve model {model!r} "
            f"(GET /v2/models/{model} answered {_describe_response(response)})"
        )
    if response.status_code != 200:
        raise _Failed(f"GET /v2/models/{model} answered {_describe_response(response)}")
    try:
        metadata = response.json()
    except ValueError as exc:
        raise _Failed(f"GET /v2/models/{model} did not answer JSON") from exc
    if not isinstance(metadata, dict) or "inputs" not in metadata:
        raise _Failed(f"GET /v2/models/{model} answered no KServe V2 model metadata")
    return metadata


def _outputs(body: Any) -> dict[str, list[Any]]:
    try:
        return {o["name"]: list(o["data"]) for o in body["outputs"]}
    except (KeyError, TypeError) as exc:
        raise _Failed(f"the inference answer has no usable 'outputs' ({exc})") from exc


def _compare(expected: Sequence[Sequence[float]], got: Sequence[float], tolerance: float) -> str:
    width = len(expected[0]) if expected else 0
    if len(got) != len(expected) * width:
        raise _Failed(
            f"expected {len(expected)}x{width} outputs, the endpoint returned {len(got)} values"
        )
    worst = 0.0
    for i, row in enumerate(expected):
        for j, want in enumerate(row):
            have = float(got[i * width + j])
            diff = abs(have - float(want))
            if not math.isfinite(have) or diff > tolerance:
                raise _Failed(
                    f"row {i} output {j}: expected {want:.9g}, got {have:.9g} "
                    f"(|diff| {diff:.2e} > tolerance {tolerance:g})"
                )
            worst = max(worst, diff)
    return f"{len(expected)} rows match (max |diff| {worst:.1e})"


def _check_known_answer(
    client: httpx.Client,
    model: str,
    answer: KnownAnswer,
    metadata: Mapping[str, Any],
    tolerance: float,
) -> str:
    path = f"/v2/models/{model}/infer"
    if answer.version is not None:
        path = f"/v2/models/{model}/versions/{answer.version}/infer"
    response = _post(client, path, v2_request(answer.records, metadata.get("inputs")))
    if response.status_code == 404 and answer.version is not None:
        raise _Failed(
            f"the endpoint does not serve version {answer.version} of {answer.model!r}, "
            f"which the known answer is for ({_describe_response(response)})"
        )
    if response.status_code != 200:
        raise _Failed(f"POST {path} answered {_describe_response(response)}")
    outputs = _outputs(response.json())
    if answer.probabilities is not None:
        if "probabilities" not in outputs:
            raise _Failed(f"the answer has no 'probabilities' output (got {sorted(outputs)})")
        return _compare(answer.probabilities, outputs["probabilities"], tolerance)
    if "prediction" not in outputs or answer.values is None:
        raise _Failed(f"the answer has no 'prediction' output (got {sorted(outputs)})")
    return _compare([[v] for v in answer.values], outputs["prediction"], tolerance)


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, math.ceil(q * len(ordered)) - 1)
    return ordered[rank]


def _check_latency(
    client: httpx.Client,
    model: str,
    answer: KnownAnswer,
    metadata: Mapping[str, Any],
    budget_ms: float,
    requests: int,
) -> str:
    body = v2_request(answer.records[:1], metadata.get("inputs"))
    path = f"/v2/models/{model}/infer"
    _post(client, path, body)  # one warm-up request, not counted
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = _post(client, path, body)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise _Failed(f"POST {path} answered {_describe_response(response)}")
    p95 = _percentile(timings, 0.95)
    detail = (
        f"p95 {p95:.1f} ms, p50 {_percentile(timings, 0.5):.1f} ms over {requests} requests "
        f"(budget {budget_ms:g} ms)"
    )
    if p95 > budget_ms:
        raise _Failed(detail.replace("(budget", "exceeds the budget (budget"))
    return detail


def run_smoke(
    url: str,
    model: str,
    *,
    known_answer: KnownAnswer | None = None,
    yard: Yard | None = None,
    latency_budget_ms: float = 200.0,
    requests: int = 50,
    tolerance: float = 1e-6,
    timeout_s: float = 10.0,
    wait_s: float = 0.0,
    headers: Mapping[str, str] | None = None,
) -> SmokeReport:
    """Run the checks against ``url``; the report says which passed and the first failure.

    Without ``known_answer``, the known answer is built from ``yard`` for the
    version the endpoint says it serves.
    """
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"the URL must start with http:// or https://; got {url!r}")
    if requests < 1:
        raise InvalidInput(f"--requests must be at least 1; got {requests}")
    if latency_budget_ms <= 0:
        raise InvalidInput(f"--latency-budget-ms must be positive; got {latency_budget_ms:g}")
    report = SmokeReport(url=url.rstrip("/"), model=model)
    with httpx.Client(
        base_url=report.url, timeout=timeout_s, headers=dict(headers or {})
    ) as client:
        metadata: dict[str, Any] = {}

        def step(name: str, action: Any) -> bool:
            started = time.perf_counter()
            try:
                detail = action()
            except _Failed as exc:
                report.checks.append(
                    SmokeCheck(name, False, str(exc), time.perf_counter() - started)
                )
                return False
            report.checks.append(SmokeCheck(name, True, detail, time.perf_counter() - started))
            return True

        if not step("ready", lambda: _check_ready(client, wait_s)):
            return report

        def metadata_step() -> str:
            metadata.update(_check_metadata(client, model))
            params = metadata.get("parameters") or {}
            report.version = str(params.get("version", ""))
            served = f"{params.get('model', model)}/{report.version}"
            return f"serves {served} on route {params.get('route')}"

        if not step("metadata", metadata_step):
            return report
        answer = known_answer
        if answer is None:
            params = metadata.get("parameters") or {}

            def from_registry() -> str:
                nonlocal answer
                if yard is None:
                    raise _Failed("no known answer: pass --expect-known-answer FILE")
                ref = f"{params.get('model', model)}/{params.get('version')}"
                try:
                    answer = known_answer_from_registry(yard, ref)
                except Exception as exc:  # NotFound, PermissionDenied, a store that is down
                    raise _Failed(
                        f"cannot build a known answer for {ref} from the registry: "
                        f"{getattr(exc, 'message', exc)}; pass --expect-known-answer FILE"
                    ) from exc
                return f"from the registry's input example of {ref}"

            if not step("known answer source", from_registry):
                return report
        if answer is None:  # pragma: no cover - the step above sets it or fails
            return report
        if not step(
            "known answer",
            lambda: _check_known_answer(client, model, answer, metadata, tolerance),
        ):
            return report
        step(
            "latency",
            lambda: _check_latency(client, model, answer, metadata, latency_budget_ms, requests),
        )
    return report
